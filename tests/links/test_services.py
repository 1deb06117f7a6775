"""The link request workflow: who may do what, what is checked, what is kept."""

import pytest
from django.contrib.auth.models import AnonymousUser

from curation import services as curation
from links import services
from links.models import LinkAction, LinkKind, LinkRequest, LinkStatus
from studies.models import Patient, Person, Publication
from tests.factories import PatientFactory, PersonFactory, PublicationFactory

pytestmark = pytest.mark.django_db


def propose_link(user, reports, **extra):
    return services.link_request_propose(
        proposer=user, kind=LinkKind.SAME_PERSON, patient=reports["case"],
        other_patient=reports["later"], evidence=extra.pop("evidence", "probable"), **extra,
    )


def fresh(patient) -> Patient:
    return Patient.objects.get(pk=patient.pk)


# Permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "outsider", "reviewer"])
def test_only_curators_propose(reports, who, outsider, reviewer):
    user = {"anonymous": AnonymousUser(), "outsider": outsider, "reviewer": reviewer}[who]
    with pytest.raises(services.LinkForbidden):
        propose_link(user, reports)
    assert not LinkRequest.objects.exists()


def test_a_draft_waits_until_its_proposer_submits_it(reports, curator, other_curator):
    link = propose_link(curator, reports)
    assert link.status == LinkStatus.DRAFT
    with pytest.raises(services.LinkForbidden):
        services.link_request_submit(request_id=link.pk, user=other_curator)

    link = services.link_request_submit(request_id=link.pk, user=curator)

    assert link.status == LinkStatus.SUBMITTED and link.submitted_at


def test_reviewers_decide_but_never_on_their_own_requests(reports, senior, curator, reviewer):
    own = propose_link(senior, reports, submit=True)
    with pytest.raises(services.LinkForbidden, match="your own"):
        services.link_request_accept(request_id=own.pk, user=senior)
    with pytest.raises(services.LinkForbidden, match="Only reviewers"):
        services.link_request_accept(request_id=own.pk, user=curator)
    with pytest.raises(services.LinkForbidden):
        services.link_request_reject(request_id=own.pk, user=AnonymousUser(), comment="no")
    assert fresh(reports["case"]).person_id is None

    services.link_request_accept(request_id=own.pk, user=reviewer)

    assert fresh(reports["case"]).person_id == fresh(reports["later"]).person_id is not None


def test_a_rejection_needs_a_reason_and_changes_nothing_live(reports, curator, reviewer):
    link = propose_link(curator, reports, submit=True)
    with pytest.raises(services.LinkRefused, match="why"):
        services.link_request_reject(request_id=link.pk, user=reviewer, comment=" ")

    link = services.link_request_reject(request_id=link.pk, user=reviewer,
                                        comment="Different treatment dates.")

    assert (link.status, link.reviewer, link.reviewer_comment) == (
        LinkStatus.REJECTED, reviewer, "Different treatment dates.")
    assert not Person.objects.exists()
    with pytest.raises(services.LinkRefused, match="rejected now"):
        services.link_request_accept(request_id=link.pk, user=reviewer)


def test_accepting_twice_applies_once(reports, curator, reviewer):
    link = propose_link(curator, reports, submit=True)
    services.link_request_accept(request_id=link.pk, user=reviewer)
    with pytest.raises(services.LinkRefused, match="accepted now"):
        services.link_request_accept(request_id=link.pk, user=reviewer)
    assert Person.objects.count() == 1


# What is checked ------------------------------------------------------------------------------


def test_reports_in_one_publication_cannot_be_one_person(reports, curator):
    with pytest.raises(services.LinkRefused, match="same publication"):
        services.link_request_propose(
            proposer=curator, kind=LinkKind.SAME_PERSON, patient=reports["later"],
            other_patient=reports["other"], evidence="probable",
        )


def test_a_link_needs_its_evidence(reports, curator):
    with pytest.raises(services.LinkRefused, match="confirmed or probable") as refused:
        propose_link(curator, reports, evidence="")
    assert refused.value.field == "evidence"


def test_the_same_change_cannot_wait_twice(reports, curator, other_curator):
    propose_link(curator, reports, submit=True)
    with pytest.raises(services.LinkRefused, match="already proposed"):
        services.link_request_propose(
            proposer=other_curator, kind=LinkKind.SAME_PERSON, patient=reports["later"],
            other_patient=reports["case"], evidence="confirmed",
        )


def test_a_change_is_checked_again_when_accepted(reports, curator, other_curator, reviewer):
    first = propose_link(curator, reports, submit=True)
    unlink_first = services.link_request_propose(
        proposer=other_curator, kind=LinkKind.SAME_PERSON, action=LinkAction.UNLINK,
        patient=PatientFactory(person=PersonFactory(), person_evidence="probable"),
        submit=True,
    )
    services.link_request_accept(request_id=first.pk, user=reviewer)
    Patient.objects.filter(pk=unlink_first.patient_id).update(person=None, person_evidence="")

    with pytest.raises(services.LinkRefused, match="not linked"):
        services.link_request_accept(request_id=unlink_first.pk, user=reviewer)
    assert LinkRequest.objects.get(pk=unlink_first.pk).status == LinkStatus.SUBMITTED


def test_linking_two_persons_merges_them(reports, curator, reviewer):
    first, second = PersonFactory(), PersonFactory()
    Patient.objects.filter(pk=reports["case"].pk).update(person=first, person_evidence="confirmed")
    third_report = PatientFactory(person=second, person_evidence="confirmed")
    Patient.objects.filter(pk=reports["later"].pk).update(person=second,
                                                          person_evidence="confirmed")

    link = propose_link(curator, reports, submit=True)
    services.link_request_accept(request_id=link.pk, user=reviewer)

    assert list(Person.objects.values_list("pk", flat=True)) == [first.pk]
    assert {fresh(p).person_id for p in (reports["case"], reports["later"], third_report)} == {
        first.pk}
    # The report that came along with its person keeps its own evidence.
    assert fresh(third_report).person_evidence == "confirmed"
    assert fresh(reports["later"]).person_evidence == "probable"


def test_a_merge_that_would_give_a_person_two_reports_in_one_paper_is_refused(
    reports, curator
):
    person = PersonFactory()
    for patient in (reports["case"], reports["other"]):
        Patient.objects.filter(pk=patient.pk).update(person=person, person_evidence="probable")
    with pytest.raises(services.LinkRefused, match="two reports in"):
        propose_link(curator, reports)


def test_undoing_one_of_three_reports_keeps_the_others_linked(reports, curator, reviewer):
    person = PersonFactory()
    third = PatientFactory(person=person, person_evidence="confirmed")
    for patient in (reports["case"], reports["later"]):
        Patient.objects.filter(pk=patient.pk).update(person=person, person_evidence="confirmed")

    link = services.link_request_propose(
        proposer=curator, kind=LinkKind.SAME_PERSON, action=LinkAction.UNLINK,
        patient=reports["case"], submit=True,
    )
    services.link_request_accept(request_id=link.pk, user=reviewer)

    assert fresh(reports["case"]).person_id is None
    assert fresh(reports["later"]).person_id == fresh(third).person_id == person.pk


def test_supersession_refuses_itself_and_cycles(curator, reviewer):
    abstract, paper = PublicationFactory(), PublicationFactory()
    with pytest.raises(services.LinkRefused, match="itself"):
        services.link_request_propose(proposer=curator, kind=LinkKind.SUPERSEDES,
                                      publication=abstract, newer=abstract)
    link = services.link_request_propose(proposer=curator, kind=LinkKind.SUPERSEDES,
                                         publication=abstract, newer=paper, submit=True)
    services.link_request_accept(request_id=link.pk, user=reviewer)

    with pytest.raises(services.LinkRefused, match="cycle"):
        services.link_request_propose(proposer=curator, kind=LinkKind.SUPERSEDES,
                                      publication=paper, newer=abstract)
    with pytest.raises(services.LinkRefused, match="already superseded"):
        services.link_request_propose(proposer=curator, kind=LinkKind.SUPERSEDES,
                                      publication=abstract, newer=PublicationFactory())


# What is kept ---------------------------------------------------------------------------------


def test_history_names_the_proposer_and_the_reviewer(reports, curator, reviewer):
    link = propose_link(curator, reports, submit=True)
    services.link_request_accept(request_id=link.pk, user=reviewer, comment="Table 1 says so.")

    statuses = list(LinkRequest.history.filter(id=link.pk).order_by("history_id").values_list(
        "status", "history_user__username"))
    assert statuses == [("submitted", "alice"), ("submitted", "alice"), ("accepted", "rita")] \
        or statuses[-1] == ("accepted", "rita")
    change = fresh(reports["case"]).history.order_by("-history_id").first()
    assert change.history_user == curator
    assert change.history_change_reason == f"Link request {link.pk} accepted by rita"


def test_an_open_extraction_keeps_a_link_accepted_meanwhile(reports, curator, reviewer):
    publication = Publication.objects.get(pk=reports["case"].source_publication_id)
    extraction = curation.extraction_start_edit(curator=curator, publication=publication)
    link = propose_link(curator, reports, submit=True)
    services.link_request_accept(request_id=link.pk, user=reviewer)

    extraction.refresh_from_db()
    entry = extraction.payload["patients"][0]
    assert [other["label"] for other in entry["same_person_as"]] == ["Patient 3"]
    extraction = curation.extraction_submit(extraction_id=extraction.pk, user=curator,
                                            version=extraction.version)
    curation.extraction_accept(extraction_id=extraction.pk, user=reviewer,
                               version=extraction.version)

    assert fresh(reports["case"]).person_id == fresh(reports["later"]).person_id is not None


def test_an_open_extraction_keeps_a_supersession_accepted_meanwhile(reports, curator, reviewer):
    abstract = Publication.objects.get(pk=reports["case"].source_publication_id)
    paper = Publication.objects.get(pk=reports["later"].source_publication_id)
    extraction = curation.extraction_start_edit(curator=curator, publication=abstract)
    link = services.link_request_propose(proposer=curator, kind=LinkKind.SUPERSEDES,
                                         publication=abstract, newer=paper, submit=True)
    services.link_request_accept(request_id=link.pk, user=reviewer)

    extraction.refresh_from_db()
    extraction = curation.extraction_submit(extraction_id=extraction.pk, user=curator,
                                            version=extraction.version)
    curation.extraction_accept(extraction_id=extraction.pk, user=reviewer,
                               version=extraction.version)

    assert Publication.objects.get(pk=abstract.pk).superseded_by_id == paper.pk


def test_an_extraction_that_changed_the_same_link_is_stopped_for_its_curator(
    reports, curator, reviewer
):
    publication = Publication.objects.get(pk=reports["case"].source_publication_id)
    extraction = curation.extraction_start_edit(curator=curator, publication=publication)
    payload = extraction.payload
    payload["patients"][0]["same_person_as"] = [{
        "publication": {"doi": reports["other"].source_publication.doi},
        "arm": reports["other"].arm.label, "label": "Patient 4",
    }]
    payload["patients"][0]["person_evidence"] = "probable"
    extraction = curation.extraction_save(extraction_id=extraction.pk, user=curator,
                                          payload=payload, version=extraction.version)
    link = propose_link(curator, reports, submit=True)
    services.link_request_accept(request_id=link.pk, user=reviewer)

    extraction.refresh_from_db()
    assert extraction.payload["patients"][0]["same_person_as"][0]["label"] == "Patient 4"
    with pytest.raises(curation.ExtractionRefused, match="changed after this extraction"):
        curation.extraction_submit(extraction_id=extraction.pk, user=curator,
                                   version=extraction.version)


def test_an_undo_applies_only_to_the_link_it_was_proposed_for(reports, curator, reviewer):
    person = PersonFactory()
    for patient in (reports["case"], reports["later"]):
        Patient.objects.filter(pk=patient.pk).update(person=person, person_evidence="probable")
    undo = services.link_request_propose(
        proposer=curator, kind=LinkKind.SAME_PERSON, action=LinkAction.UNLINK,
        patient=reports["case"], submit=True,
    )
    assert "is not the same person as Patient 3" in undo.description
    Patient.objects.filter(pk=reports["case"].pk).update(person=PersonFactory())

    with pytest.raises(services.LinkRefused, match="no longer linked to Patient 3"):
        services.link_request_accept(request_id=undo.pk, user=reviewer)
