"""The review workflow through the services: draft → submitted → accepted or returned."""

import pytest

from curation import services
from curation.models import ExtractionStatus
from studies.models import Arm, OutcomeResult, Patient, Publication, Study

from .bundles import DOI


def submit(extraction, user):
    return services.extraction_submit(
        extraction_id=extraction.pk, user=user, version=extraction.version
    )


def accept(extraction, user, comment=""):
    return services.extraction_accept(
        extraction_id=extraction.pk, user=user, version=extraction.version, comment=comment
    )


def edit_and_accept(publication, change, curator, reviewer):
    """An edit of an accepted publication, changed by ``change(payload)``, accepted."""
    edit = services.extraction_start_edit(curator=curator, publication=publication)
    payload = edit.payload
    change(payload)
    edit = services.extraction_save(extraction_id=edit.pk, user=curator, payload=payload,
                                    version=edit.version)
    return accept(submit(edit, curator), reviewer)


def test_a_draft_writes_nothing_public(draft):
    assert draft.status == ExtractionStatus.DRAFT
    assert draft.publication is None
    assert not Publication.objects.filter(doi=DOI).exists()


def test_accepting_makes_the_data_public_in_the_same_step(draft, curator, reviewer):
    submitted = submit(draft, curator)
    assert submitted.status == ExtractionStatus.SUBMITTED
    assert not Publication.objects.filter(doi=DOI).exists()

    accepted = accept(submitted, reviewer, comment="Checked against Table 2.")

    assert accepted.status == ExtractionStatus.ACCEPTED
    assert accepted.reviewer == reviewer
    publication = Publication.objects.get(doi=DOI)
    assert accepted.publication == publication
    values = OutcomeResult.objects.filter(source_publication=publication).values_list(
        "value", flat=True
    )
    assert sorted(int(v) for v in values) == [2, 16]
    # Live rows name the curator who typed them; history names the reviewer's acceptance.
    result = OutcomeResult.objects.filter(source_publication=publication).first()
    assert result.created_by == curator
    record = result.history.first()
    assert record.history_user == curator
    assert "accepted by rita" in record.history_change_reason


def test_a_reviewer_cannot_accept_their_own_extraction(senior):
    from curation.services import extraction_import

    from .bundles import new_publication_payload

    mine = extraction_import(curator=senior, payload=new_publication_payload())
    mine = submit(mine, senior)
    with pytest.raises(services.ExtractionForbidden, match="your own"):
        accept(mine, senior)
    mine.refresh_from_db()
    assert mine.status == ExtractionStatus.SUBMITTED
    assert not Publication.objects.filter(doi=DOI).exists()


def test_a_curator_cannot_accept(draft, curator, other_curator):
    submitted = submit(draft, curator)
    with pytest.raises(services.ExtractionForbidden):
        accept(submitted, other_curator)


def test_rejecting_returns_it_with_the_comment_and_it_can_be_resubmitted(
    draft, curator, reviewer
):
    submitted = submit(draft, curator)
    with pytest.raises(services.ExtractionInvalid):
        services.extraction_reject(extraction_id=submitted.pk, user=reviewer,
                                   version=submitted.version, comment="  ")
    returned = services.extraction_reject(
        extraction_id=submitted.pk, user=reviewer, version=submitted.version,
        comment="Day 90 is day 84 in Table 2.",
    )
    assert returned.status == ExtractionStatus.REJECTED
    assert returned.reviewer_comment == "Day 90 is day 84 in Table 2."

    payload = returned.payload
    payload["patients"][0]["outcomes"][1]["day"] = 84
    revised = services.extraction_save(extraction_id=returned.pk, user=curator,
                                       payload=payload, version=returned.version)
    resubmitted = submit(revised, curator)
    assert resubmitted.status == ExtractionStatus.SUBMITTED
    accept(resubmitted, reviewer)
    assert OutcomeResult.objects.filter(day=84, value=2).exists()


def test_submitting_an_incomplete_draft_lists_every_problem_by_path(draft, curator):
    payload = draft.payload
    del payload["patients"][0]["outcomes"][0]["source"]
    payload["studies"][0]["arms"][0]["disease"] = "no-such-disease"
    saved = services.extraction_save(extraction_id=draft.pk, user=curator, payload=payload,
                                     version=draft.version)
    with pytest.raises(services.ExtractionInvalid) as invalid:
        submit(saved, curator)
    paths = {error.path for error in invalid.value.errors}
    assert "patients[0].outcomes[0].source" in paths
    saved.refresh_from_db()
    assert saved.status == ExtractionStatus.DRAFT


def test_an_out_of_range_value_is_refused_with_the_measures_range(draft, curator):
    payload = draft.payload
    payload["patients"][0]["outcomes"][0]["value"] = 120
    saved = services.extraction_save(extraction_id=draft.pk, user=curator, payload=payload,
                                     version=draft.version)
    with pytest.raises(services.ExtractionInvalid) as invalid:
        submit(saved, curator)
    messages = {error.path: error.message for error in invalid.value.errors}
    assert "0–105" in messages["patients[0].outcomes[0].value"]


def test_a_stale_version_is_refused_and_nothing_changes(draft, curator):
    first = services.extraction_save(extraction_id=draft.pk, user=curator,
                                     payload=draft.payload, version=draft.version)
    with pytest.raises(services.StaleVersion) as stale:
        services.extraction_save(extraction_id=draft.pk, user=curator, payload={
            **draft.payload, "constructs": []}, version=draft.version)
    assert stale.value.current.version == first.version
    first.refresh_from_db()
    assert first.payload["constructs"]


def test_two_reviewers_cannot_both_act_on_one_submission(draft, curator, reviewer, senior):
    submitted = submit(draft, curator)
    accept(submitted, reviewer)
    with pytest.raises(services.StaleVersion):
        services.extraction_reject(extraction_id=submitted.pk, user=senior,
                                   version=submitted.version, comment="Too late")


def test_editing_an_accepted_publication_keeps_the_public_data_until_accepted(
    draft, curator, reviewer
):
    accept(submit(draft, curator), reviewer)
    publication = Publication.objects.get(doi=DOI)

    edit = services.extraction_start_edit(curator=curator, publication=publication)
    assert edit.payload["studies"][0]["title"] == "Single-case treatment with CURATION-CD19"
    payload = edit.payload
    payload["studies"][0]["title"] = "Renamed in a draft"
    edit = services.extraction_save(extraction_id=edit.pk, user=curator, payload=payload,
                                    version=edit.version)
    edit = submit(edit, curator)
    assert publication.studies.get().title == "Single-case treatment with CURATION-CD19"
    # Starting again returns the open one rather than a second draft.
    assert services.extraction_start_edit(curator=curator, publication=publication) == edit

    study = publication.studies.get()
    accept(edit, reviewer)
    assert publication.studies.get().title == "Renamed in a draft"
    assert Study.objects.get() == study  # renamed in place, not copied



def test_an_edit_started_before_another_was_accepted_cannot_overwrite_it(
    draft, curator, other_curator, reviewer
):
    accept(submit(draft, curator), reviewer)
    publication = Publication.objects.get(doi=DOI)
    alices = services.extraction_start_edit(curator=curator, publication=publication)
    carols = services.extraction_start_edit(curator=other_curator, publication=publication)

    payload = alices.payload
    payload["studies"][0]["sponsor"] = "Alice's sponsor"
    alices = services.extraction_save(extraction_id=alices.pk, user=curator, payload=payload,
                                      version=alices.version)
    accept(submit(alices, curator), reviewer)

    with pytest.raises(services.ExtractionRefused, match="changed after"):
        submit(carols, other_curator)
    carols = services.extraction_rebase(extraction_id=carols.pk, user=other_curator,
                                        version=carols.version)
    assert submit(carols, other_curator).status == ExtractionStatus.SUBMITTED


def test_a_new_publication_that_is_already_public_is_refused(draft, curator, reviewer):
    accept(submit(draft, curator), reviewer)
    with pytest.raises(services.PublicationAlreadyPublic):
        services.extraction_create(curator=curator, citation={
            "doi": f"https://doi.org/{DOI.upper()}", "year": 2024,
            "publication_type": "article"})


def test_renaming_an_arm_in_an_edit_renames_the_public_arm(draft, curator, reviewer):
    accept(submit(draft, curator), reviewer)
    publication = Publication.objects.get(doi=DOI)
    study = publication.studies.get()
    arm = Arm.objects.get(study=study)

    def rename(payload):
        payload["studies"][0]["arms"][0]["label"] = "SLE, refractory"
        payload["patients"][0]["arm"] = "SLE, refractory"

    edit_and_accept(publication, rename, curator, reviewer)

    renamed = Arm.objects.get(study=study)  # one arm still: the same row, not a copy
    assert (renamed.pk, renamed.label) == (arm.pk, "SLE, refractory")
    assert renamed.patients.get().label == "Patient 1"


def test_renaming_a_patient_in_an_edit_keeps_the_patient_row(draft, curator, reviewer):
    accept(submit(draft, curator), reviewer)
    publication = Publication.objects.get(doi=DOI)
    patient = Patient.objects.get(source_publication=publication)

    edit_and_accept(publication, lambda payload: payload["patients"][0].update(label="Case 1"),
                    curator, reviewer)

    assert list(Patient.objects.values_list("pk", "label")) == [(patient.pk, "Case 1")]
