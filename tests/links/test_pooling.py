"""Acceptance (issue 6): accepted identity links and supersession change the pooled
numbers, both as studies.summary computes them and in the stored summary tables after
their refresh; undoing them brings the old numbers back."""

import pytest

from links import services
from links.models import LinkAction, LinkKind
from studies.models import Person, Publication
from studies.summary import RESPONSE, Rate, pooled_summary
from summaries import services as summaries
from summaries.models import DiseaseTargetSummary, PendingRefresh
from tests.factories import OutcomeResultFactory, PublicationFactory
from tests.summaries.oracle import differences, expected_tables, stored_tables

from .conftest import arm_with

pytestmark = pytest.mark.django_db


def stored() -> DiseaseTargetSummary:
    return DiseaseTargetSummary.objects.get(disease__code="sle", target_key="cd19")


def pooled():
    summary = pooled_summary("sle", "cd19")
    return summary.patients, summary.rate(RESPONSE)


def propose_and_accept(curator, reviewer, **change):
    link = services.link_request_propose(proposer=curator, submit=True, **change)
    return services.link_request_accept(request_id=link.pk, user=reviewer)


def refresh_incrementally():
    """What the worker does after the commit: refresh the pending keys only."""
    keys = set(PendingRefresh.objects.values_list("key", flat=True))
    result = summaries.refresh_keys()
    assert result.kind == "incremental"
    return keys


def test_an_identity_link_counts_the_person_once_and_undoing_it_twice(
    reports, curator, reviewer
):
    summaries.full_rebuild()
    assert pooled() == (3, Rate(2, 3))
    assert (stored().patients, stored().rate(RESPONSE)) == (3, Rate(2, 3))

    propose_and_accept(
        curator, reviewer, kind=LinkKind.SAME_PERSON, patient=reports["case"],
        other_patient=reports["later"], evidence="confirmed",
    )

    # Counted once, at the latest follow-up (400 days: no remission then).
    assert pooled() == (2, Rate(1, 2))
    studies = {reports["case"].arm.study_id, reports["later"].arm.study_id}
    assert refresh_incrementally() >= {summaries.study_key(pk) for pk in studies}
    assert (stored().patients, stored().rate(RESPONSE)) == (2, Rate(1, 2))
    assert differences(stored_tables(), expected_tables()) == []
    summaries.full_rebuild()
    assert (stored().patients, stored().rate(RESPONSE)) == (2, Rate(1, 2))

    propose_and_accept(curator, reviewer, kind=LinkKind.SAME_PERSON,
                       action=LinkAction.UNLINK, patient=reports["case"])

    assert not Person.objects.exists()  # one report left is no link
    assert pooled() == (3, Rate(2, 3))
    refresh_incrementally()
    assert (stored().patients, stored().rate(RESPONSE)) == (3, Rate(2, 3))
    assert differences(stored_tables(), expected_tables()) == []


def test_a_superseded_abstracts_numbers_leave_the_pooled_counts_and_return_on_undo(
    empty_queue, doris, cd19_product, curator, reviewer
):
    abstract = PublicationFactory(authors=["Early"], year=2023,
                                  publication_type="conference_abstract")
    paper = PublicationFactory(authors=["Early"], year=2024)
    early = arm_with(cd19_product, n_patients=3, source_publication=abstract)
    OutcomeResultFactory(arm=early, measure=doris, n_events=3, n_evaluable=3)
    full = arm_with(cd19_product, n_patients=5, source_publication=paper)
    OutcomeResultFactory(arm=full, measure=doris, n_events=4, n_evaluable=5)
    summaries.full_rebuild()
    assert pooled() == (8, Rate(7, 8))
    assert stored().patients == 8

    propose_and_accept(curator, reviewer, kind=LinkKind.SUPERSEDES, publication=abstract,
                       newer=paper)

    assert Publication.objects.get(pk=abstract.pk).superseded_by_id == paper.pk
    assert pooled() == (5, Rate(4, 5))
    assert summaries.study_key(early.study_id) in refresh_incrementally()
    assert (stored().patients, stored().rate(RESPONSE)) == (5, Rate(4, 5))
    assert differences(stored_tables(), expected_tables()) == []

    propose_and_accept(curator, reviewer, kind=LinkKind.SUPERSEDES,
                       action=LinkAction.UNLINK, publication=abstract)

    assert pooled() == (8, Rate(7, 8))
    refresh_incrementally()
    assert (stored().patients, stored().rate(RESPONSE)) == (8, Rate(7, 8))
