"""Dual extraction: two curators extract one paper blind to each other; a reviewer
lines their values up field by field, decides the disputes, and the result is accepted.

alice and carol extract; rita reconciles; sam curates and reviews.
"""

import copy
import re
from decimal import Decimal

import pytest

from curation import reconciliation, services
from curation.models import Extraction, ExtractionStatus, Reconciliation
from studies.models import Arm, OutcomeResult, Publication

from .bundles import DOI, new_publication_payload


def submit(extraction, user):
    return services.extraction_submit(extraction_id=extraction.pk, user=user,
                                      version=extraction.version)


def day_90(payload) -> dict:
    return payload["patients"][0]["outcomes"][1]


def with_day_90(value) -> dict:
    payload = new_publication_payload()
    day_90(payload)["value"] = value
    return payload


@pytest.fixture
def pair(curator, other_curator):
    """alice and carol's submitted extractions of one new paper; carol read the SLEDAI-2K
    at day 90 as 4 where alice read 2."""
    alices = submit(services.extraction_import(curator=curator, payload=with_day_90(2)), curator)
    carols = submit(services.extraction_import(curator=other_curator, payload=with_day_90(4)),
                    other_curator)
    return alices, carols


def reconcile_url(pair) -> str:
    return f"/curation/reconcile/{pair[0].pk}/{pair[1].pk}/"


def form_data(pair, **choices) -> dict:
    data = {"version_a": pair[0].version, "version_b": pair[1].version}
    data.update(choices)
    return data


def value_field(alignment) -> str:
    (record,) = [r for r in alignment.records if r.disputed]
    (field,) = record.disputes
    return field.id


# Alignment (pure) ---------------------------------------------------------------------------


def test_the_same_values_agree_and_leave_nothing_to_decide():
    alignment = reconciliation.align(new_publication_payload(), new_publication_payload())
    assert alignment.compared > 20
    assert alignment.agreeing == alignment.compared
    assert alignment.agreement_percent == Decimal("100.0")
    assert alignment.decision_ids == []


def test_a_different_value_is_the_one_disagreement():
    alignment = reconciliation.align(with_day_90(2), with_day_90(4))
    disputed = [r for r in alignment.records if r.disputed]
    assert [r.title for r in disputed] == [
        "Outcome patient: case / SLE / Patient 1 · sledai-2k · day 90"]
    (field,) = disputed[0].disputes
    assert (field.name, field.a, field.b, field.state) == ("value", 2, 4, "differ")
    assert alignment.agreeing == alignment.compared - 1
    expected = Decimal(100 * alignment.agreeing / alignment.compared).quantize(Decimal("0.1"))
    assert alignment.agreement_percent == expected
    assert alignment.decision_ids == [field.id]


def test_rows_are_aligned_by_what_they_are_not_by_position():
    theirs = new_publication_payload()
    theirs["patients"][0]["outcomes"].reverse()
    # Another key for the same study (found by its title), and numbers typed as decimals.
    theirs["studies"][0]["key"] = "single-case"
    theirs["patients"][0]["study"] = "single-case"
    theirs["patients"][0]["outcomes"][0]["value"] = 2.0
    alignment = reconciliation.align(new_publication_payload(), theirs)
    assert alignment.decision_ids == []
    assert alignment.agreeing == alignment.compared


def test_a_row_only_one_side_has_is_one_sided_and_counts_against_agreement():
    theirs = new_publication_payload()
    theirs["patients"][0]["adverse_events"].append(
        {"event_type": "icans", "grading_system": "astct", "grade": 1,
         "source": {"kind": "text", "label": "p. 4"}})
    alignment = reconciliation.align(new_publication_payload(), theirs)
    (record,) = [r for r in alignment.records if r.disputed]
    assert record.state == "only_b"
    assert "icans" in record.title
    assert {f.state for f in record.shown_fields} == {"only_b"}
    assert alignment.compared - alignment.agreeing == len(record.shown_fields)
    assert alignment.decision_ids == [record.id]

    kept = reconciliation.merge(alignment, {record.id: ("b", "")})
    events = kept.document["patients"][0]["adverse_events"]
    assert [e["event_type"] for e in events] == ["crs", "icans"]
    left_out = reconciliation.merge(alignment, {record.id: ("a", "")})
    assert [e["event_type"] for e in left_out.document["patients"][0]["adverse_events"]] == [
        "crs"]


def test_events_of_one_type_are_told_apart_by_grade():
    ours, theirs = new_publication_payload(), new_publication_payload()
    crs = ours["patients"][0]["adverse_events"][0]
    ours["patients"][0]["adverse_events"] = [crs, {**crs, "grade": 2}]
    theirs["patients"][0]["adverse_events"] = [{**crs, "grade": 2}, {**crs, "onset_day": 3}]
    alignment = reconciliation.align(ours, theirs)
    disputed = [(r.title, [f.name for f in r.disputes]) for r in alignment.records if r.disputed]
    assert disputed == [("Adverse event patient: case / SLE / Patient 1 · crs · grade 1",
                         ["onset_day"])]


def test_the_merge_takes_each_choice_and_names_a_bad_typed_value():
    alignment = reconciliation.align(with_day_90(2), with_day_90(4))
    field = value_field(alignment)
    assert day_90(reconciliation.merge(alignment, {field: ("b", "")}).document)["value"] == 4
    assert day_90(reconciliation.merge(alignment, {field: ("custom", "3")}).document)[
        "value"] == 3
    undecided = reconciliation.merge(alignment, {})
    assert undecided.document is None
    assert undecided.errors == {field: ["Choose A or B, or type the value."]}
    typo = reconciliation.merge(alignment, {field: ("custom", "three")})
    assert typo.errors == {field: ["'three' is not a number."]}


# Blind to each other ----------------------------------------------------------------------------


def test_curators_do_not_see_each_others_extraction_anywhere(client_for, pair, other_curator):
    alices, carols = pair
    client = client_for(other_curator)
    assert client.get(alices.get_absolute_url()).status_code == 404
    assert client.get(f"/curation/extractions/{alices.pk}/history/").status_code == 404
    assert client.get(f"/api/v1/extractions/{alices.pk}/").status_code == 404
    listed = client.get("/api/v1/extractions/").json()["results"]
    assert [row["id"] for row in listed] == [carols.pk]
    # Her own page does not mention alice's extraction either.
    page = client.get(carols.get_absolute_url()).content.decode()
    assert "alice" not in page and "dual-extraction" not in page


def test_curators_cannot_open_a_reconciliation(client_for, pair, curator, other_curator):
    for person in (curator, other_curator):
        client = client_for(person)
        assert client.get(reconcile_url(pair)).status_code == 403
        assert client.post(reconcile_url(pair), form_data(pair)).status_code == 403
    assert Reconciliation.objects.count() == 0


def test_a_reviewer_cannot_reconcile_their_own_extraction(client_for, curator, senior):
    alices = submit(services.extraction_import(curator=curator, payload=with_day_90(2)), curator)
    sams = submit(services.extraction_import(curator=senior, payload=with_day_90(4)), senior)
    assert client_for(senior).get(f"/curation/reconcile/{alices.pk}/{sams.pk}/").status_code == 403
    with pytest.raises(services.ExtractionForbidden, match="your own"):
        services.extractions_reconcile(
            extraction_a_id=alices.pk, extraction_b_id=sams.pk, user=senior,
            version_a=alices.version, version_b=sams.version, choices={})
    # Nor is the pair offered to him.
    assert services.reconciliation_pairs(user=senior) == []


# The reviewer's queue and accepting alone ----------------------------------------------------


def test_the_pair_waits_as_ready_to_reconcile_not_for_review_one_by_one(
    client_for, pair, reviewer
):
    page = client_for(reviewer).get("/curation/").content.decode()
    queue = re.search(r'id="queue-reconcile".*?</section>', page, re.S).group(0)
    assert f'href="{reconcile_url(pair)}"' in queue
    review = re.search(r'id="queue-review".*?</section>', page, re.S).group(0)
    assert f"/curation/extractions/{pair[0].pk}/" not in review


def test_accepting_one_alone_is_refused_while_its_sibling_waits(pair, reviewer):
    alices, carols = pair
    with pytest.raises(services.ExtractionRefused, match="reconcile the two"):
        services.extraction_accept(extraction_id=alices.pk, user=reviewer,
                                   version=alices.version)
    assert not Publication.objects.filter(doi=DOI).exists()
    alices.refresh_from_db()
    assert alices.status == ExtractionStatus.SUBMITTED


def test_a_reviewer_is_told_of_a_sibling_still_in_draft(client_for, curator, other_curator,
                                                        reviewer):
    alices = submit(services.extraction_import(curator=curator, payload=with_day_90(2)), curator)
    services.extraction_import(curator=other_curator, payload=with_day_90(4))
    page = client_for(reviewer).get(alices.get_absolute_url()).content.decode()
    assert 'id="dual-extraction"' in page
    assert "by carol (draft)" in page


# Reconciling -------------------------------------------------------------------------------


def test_the_reconciled_result_is_accepted_into_the_live_tables(client_for, pair, reviewer):
    client = client_for(reviewer)
    page = client.get(reconcile_url(pair))
    alignment = page.context["alignment"]
    assert page.context["dispute_count"] == 1
    assert f"{alignment.agreement_percent}%" in page.content.decode()
    field = value_field(alignment)

    response = client.post(reconcile_url(pair), form_data(pair, **{f"choice-{field}": "b"}))

    done = Reconciliation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == done.result.get_absolute_url()
    assert done.result.status == ExtractionStatus.ACCEPTED
    assert {done.extraction_a.status, done.extraction_b.status} == {ExtractionStatus.MERGED}
    assert (done.compared_fields, done.agreeing_fields) == (alignment.compared,
                                                           alignment.agreeing)
    assert done.agreement_percent == alignment.agreement_percent
    assert [(d["field"], d["a"], d["b"], d["choice"]) for d in done.decisions] == [
        ("value", 2, 4, "b")]
    publication = Publication.objects.get(doi=DOI)
    values = OutcomeResult.objects.filter(source_publication=publication)
    assert {(r.timepoint, r.day): int(r.value) for r in values} == {
        ("baseline", None): 16, ("day", 90): 4}
    assert publication.extractions.count() == 3
    # The accepted result shows the agreement; both sources' history shows the merge.
    result_page = client.get(done.result.get_absolute_url()).content.decode()
    assert f"{done.agreement_percent}%" in result_page
    merged = done.extraction_a.history.order_by("-history_id").first()
    assert merged.status == ExtractionStatus.MERGED
    assert merged.history_user == reviewer
    detail = client.get(done.get_absolute_url())
    assert f"{done.agreement_percent}%" in detail.content.decode()
    assert client_for(done.extraction_a.curator).get(done.get_absolute_url()).status_code == 403


def test_a_new_publication_is_matched_by_pmid_when_one_curator_gave_no_doi(
    curator, other_curator, reviewer
):
    ours = new_publication_payload(pmid=39000001)
    theirs = new_publication_payload(doi=None, pmid=39000001)
    alices = submit(services.extraction_import(curator=curator, payload=ours), curator)
    carols = submit(services.extraction_import(curator=other_curator, payload=theirs),
                    other_curator)
    assert services.extraction_siblings(alices) == [carols]
    assert services.reconciliation_pairs(user=reviewer) == [(alices, carols)]
    alignment = services.reconciliation_prepare(
        extraction_a_id=alices.pk, extraction_b_id=carols.pk, user=reviewer)[2]
    (field,) = [f for r in alignment.records for f in r.disputes]
    assert (field.name, field.state) == ("doi", "only_a")


def test_a_stale_reconciliation_is_refused_and_keeps_the_choices(client_for, pair, reviewer,
                                                                 senior):
    alices, carols = pair
    client = client_for(reviewer)
    field = value_field(client.get(reconcile_url(pair)).context["alignment"])
    # Meanwhile another reviewer returns carol's extraction and she submits it again.
    returned = services.extraction_reject(extraction_id=carols.pk, user=senior,
                                          version=carols.version, comment="Check day 90.")
    submit(returned, returned.curator)

    response = client.post(reconcile_url(pair), form_data(pair, **{f"choice-{field}": "b"}))

    assert response.status_code == 409
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert re.search(rf'name="choice-{re.escape(field)}" value="b" checked', page)
    assert Reconciliation.objects.count() == 0
    assert not Publication.objects.filter(doi=DOI).exists()
    assert set(Extraction.objects.values_list("status", flat=True)) == {"submitted"}


def test_a_merged_value_is_validated_like_any_accepted_one(client_for, pair, reviewer):
    client = client_for(reviewer)
    field = value_field(client.get(reconcile_url(pair)).context["alignment"])

    response = client.post(reconcile_url(pair), form_data(
        pair, **{f"choice-{field}": "custom", f"value-{field}": "120"}))

    assert response.status_code == 400
    assert response.context["records"]
    (entry,) = [item for record in response.context["records"] for item in record["fields"]
                if item["field"].id == field]
    assert any("0–105" in message for message in entry["errors"])
    assert entry["typed"] == "120"
    assert Reconciliation.objects.count() == 0
    assert not Publication.objects.filter(doi=DOI).exists()


def test_two_edits_of_a_public_publication_are_reconciled(curator, other_curator, reviewer,
                                                          senior):
    first = submit(services.extraction_import(curator=senior, payload=with_day_90(2)), senior)
    services.extraction_accept(extraction_id=first.pk, user=reviewer, version=first.version)
    publication = Publication.objects.get(doi=DOI)

    edits = []
    for person, n_patients in ((curator, 1), (other_curator, 2)):
        edit = services.extraction_start_edit(curator=person, publication=publication)
        payload = copy.deepcopy(edit.payload)
        payload["studies"][0]["arms"][0]["n_patients"] = n_patients
        edit = services.extraction_save(extraction_id=edit.pk, user=person, payload=payload,
                                        version=edit.version)
        edits.append(submit(edit, person))
    assert services.reconciliation_pairs(user=reviewer) == [tuple(edits)]

    alignment = services.reconciliation_prepare(
        extraction_a_id=edits[0].pk, extraction_b_id=edits[1].pk, user=reviewer)[2]
    (record,) = [r for r in alignment.records if r.disputed]
    assert record.title.startswith("Arm ") and record.title.endswith(" / SLE")
    done = services.extractions_reconcile(
        extraction_a_id=edits[0].pk, extraction_b_id=edits[1].pk, user=reviewer,
        version_a=edits[0].version, version_b=edits[1].version,
        choices={record.disputes[0].id: ("b", "")})

    assert done.result.publication == publication
    assert Arm.objects.get(study__reports__publication=publication).n_patients == 2
    assert publication.studies.count() == 1


def test_the_reconciliation_page_reads_a_fixed_number_of_queries(
    client_for, curator, other_curator, reviewer, django_assert_max_num_queries
):
    # Many rows on each side: the page's queries do not grow with them.
    ours, theirs = new_publication_payload(), new_publication_payload()
    for document, offset in ((ours, 0), (theirs, 1)):
        document["patients"][0]["outcomes"] += [
            {"measure": "sledai-2k", "timepoint": "day", "day": day, "value": 4 + offset * (
                day == 30), "source": {"kind": "table", "label": "Table 2"}}
            for day in range(1, 60)]
    alices = submit(services.extraction_import(curator=curator, payload=ours), curator)
    carols = submit(services.extraction_import(curator=other_curator, payload=theirs),
                    other_curator)
    client = client_for(reviewer)
    with django_assert_max_num_queries(8):
        page = client.get(f"/curation/reconcile/{alices.pk}/{carols.pk}/")
    assert page.context["dispute_count"] == 1
