"""Property: whatever the catalogue and whatever edits curators make, the incrementally
refreshed summary tables equal a brute-force recomputation (studies.summary for the
disease × target table, tests/summaries/oracle.py for the others) and a full rebuild.
(--hypothesis-show-statistics tells how many refreshes were incremental.)"""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings

from studies.summary import RESPONSE, pooled_summaries, response_points
from summaries import selectors, services
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


class Rollback(Exception):
    """Ends one example's transaction, so that examples do not see each other's rows."""


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)
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
