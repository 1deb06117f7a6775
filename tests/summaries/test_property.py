"""Property: whatever the catalogue and whatever edits curators make, the incrementally
refreshed summary tables equal a brute-force recomputation (studies.summary for the
disease × target table, tests/summaries/oracle.py for the others) and a full rebuild.
(--hypothesis-show-statistics tells how many refreshes were incremental.)"""

from types import SimpleNamespace

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings

from studies.summary import RESPONSE, pooled_summaries, response_points
from summaries import drilldown, selectors, services
from summaries.models import PendingRefresh

from .oracle import differences, expected_tables, stored_tables
from .world import apply_edit, build, edits, make_vocabulary, world_plans

pytestmark = pytest.mark.django_db


@pytest.fixture
def vocabulary(db):
    return make_vocabulary()


def forest(points) -> list[tuple]:
    """The per-study response rows of the dashboard, comparable across implementations."""
    return sorted(
        (c.study.pk, c.arm.pk, c.disease.code, c.targets.key, str(c.rate(RESPONSE)),
         c.report.pk)
        for c in points
    )


EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)


class Rollback(Exception):
    """Ends one example's transaction, so that examples do not see each other's rows."""


@EXAMPLES
@given(plan=world_plans, first_edits=edits, second_edits=edits)
def test_incremental_refresh_matches_brute_force_after_random_edits(
    vocabulary, plan, first_edits, second_edits
):
    try:
        with transaction.atomic():
            PendingRefresh.objects.all().delete()
            world = build(plan, vocabulary)
            services.full_rebuild()
            first = stored_tables()
            event(f"groups={len(first['groups'])} measures={len(first['measures'])}")
            assert differences(first, expected_tables()) == []

            for batch in (first_edits, second_edits):
                for edit in batch:
                    apply_edit(world, edit)
                result = services.refresh_keys()
                event(f"refresh: {result.kind or 'nothing to do'}")
                incremental = stored_tables()
                assert differences(incremental, expected_tables()) == []
                assert forest(selectors.response_points(selectors.disease_target_summaries())) == (
                    forest(response_points(pooled_summaries()))
                )
                assert not PendingRefresh.objects.exists()

            services.full_rebuild()
            assert stored_tables() == incremental
            raise Rollback
    except Rollback:
        pass


def _rows(summary) -> tuple[list, list]:
    """A group's contributions and exclusions with everything the drill-down shows."""
    contributions = sorted(
        (
            c.study.pk, c.arm.pk, c.report.pk, c.patient_count, tuple(c.patient_evidence),
            tuple(sorted((metric, str(r.rate), r.level, r.measure, tuple(r.evidence))
                         for metric, r in c.metrics.items())),
        )
        for c in summary.contributions
    )
    exclusions = sorted((e.study.pk, e.subject, e.reason, e.source) for e in summary.exclusions)
    return contributions, exclusions


@EXAMPLES
@given(plan=world_plans)
def test_drill_down_pages_together_show_what_pooling_everything_shows(vocabulary, plan):
    """Each page pools only its own studies (and those sharing a person with them); put
    together, the pages hold exactly the rows that pooling the whole catalogue gives."""
    try:
        with transaction.atomic():
            build(plan, vocabulary)
            services.full_rebuild()
            for pooled in pooled_summaries():
                code, key = pooled.key
                for per_page in (1, 2):
                    first = drilldown.group_page(code, key, 1, per_page)
                    pages = [first] + [
                        drilldown.group_page(code, key, number, per_page)
                        for number in first.page.paginator.page_range[1:]
                    ]
                    together = SimpleNamespace(
                        contributions=[c for p in pages for c in p.rows.contributions],
                        exclusions=[e for p in pages for e in p.rows.exclusions],
                    )
                    assert _rows(together) == _rows(pooled)
                    assert first.totals.patients == pooled.patients
            raise Rollback
    except Rollback:
        pass
