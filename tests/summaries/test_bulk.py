"""summaries.bulk writes snapshot rows exactly as given (PostgreSQL streams them with
COPY, whose text format has its own escapes; other databases use bulk_create), and a
full rebuild's reload (tables truncated, indexes dropped and built again) loses
nothing, whether it succeeds or fails."""

import pytest
from django.db import connection, transaction

from summaries import bulk, services, snapshot
from summaries.models import Contribution, ContributionRate, PooledArm, PooledStudy
from tests.factories import ArmFactory, ArmProductFactory

pytestmark = pytest.mark.django_db

AWKWARD = "CD19\t+ BCMA\\n \\N\r\nline two"


def test_text_with_tabs_newlines_and_backslashes_and_nulls_comes_back_as_written():
    fields = ["arm_id", "study_id", "disease_id", "target_key", "target_label",
              "source_publication_id", "n_patients", "has_data", "has_exclusions"]
    bulk.insert(PooledArm, fields, [(1, 2, 3, "cd19", AWKWARD, 4, None, True, False),
                                    (5, 2, 3, "\\N", "", 4, 12, False, True)])

    rows = PooledArm.objects.order_by("arm_id").values_list(*fields)
    assert list(rows) == [(1, 2, 3, "cd19", AWKWARD, 4, None, True, False),
                          (5, 2, 3, "\\N", "", 4, 12, False, True)]


def test_objects_get_their_ids_first_so_that_rows_of_other_models_can_refer_to_them(
    django_assert_num_queries,
):
    contributions = [
        Contribution(study_id=1, arm_id=arm, disease_id=3, target_key="cd19",
                     target_label="CD19", level=Contribution.Level.ARM, patient_count=arm)
        for arm in (10, 11)
    ]
    bulk.insert_objects(Contribution, contributions, with_ids=True)
    bulk.insert(
        ContributionRate,
        ["contribution_id", "study_id", "disease_id", "target_key", "metric", "level",
         "events", "evaluable"],
        [(c.pk, 1, 3, "cd19", "crs_any", "arm", 1, c.patient_count) for c in contributions],
    )

    stored = ContributionRate.objects.values_list(
        "contribution__arm_id", "evaluable", "is_response", "is_drug_free"
    )
    assert sorted(stored) == [(10, 10, False, False), (11, 11, False, False)]  # defaults
    with django_assert_num_queries(0):
        bulk.insert(PooledArm, ["arm_id"], [])


def index_definitions(models) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = ANY(%s::regclass[])",
            [[model._meta.db_table for model in models]],
        )
        return {definition for (definition,) in cursor.fetchall()}


@pytest.mark.postgres
def test_a_full_rebuild_leaves_every_snapshot_index_as_it_found_it():
    ArmProductFactory(arm=ArmFactory(n_patients=4))
    before = index_definitions(snapshot.SNAPSHOT_MODELS)
    assert len(before) > len(snapshot.SNAPSHOT_MODELS)  # secondary indexes, not only keys

    services.full_rebuild()

    assert index_definitions(snapshot.SNAPSHOT_MODELS) == before
    assert PooledArm.objects.count() == 1


def test_a_reload_that_fails_leaves_the_rows_and_indexes_as_they_were():
    bulk.insert(PooledStudy, ["study_id", "first_year"], [(1, 2020), (2, None)])
    postgres = connection.vendor == "postgresql"
    indexes = index_definitions([PooledStudy, PooledArm]) if postgres else None

    with pytest.raises(RuntimeError), transaction.atomic():
        with bulk.reloading([PooledStudy, PooledArm]):
            assert not PooledStudy.objects.exists()  # emptied for the block
            bulk.insert(PooledStudy, ["study_id"], [(3,)])
            raise RuntimeError("the rebuild failed")

    assert sorted(PooledStudy.objects.values_list("study_id", "first_year")) == [
        (1, 2020), (2, None)
    ]
    if postgres:
        assert index_definitions([PooledStudy, PooledArm]) == indexes


def test_a_model_with_values_that_need_converting_is_refused_before_anything_is_written():
    from summaries.models import RefreshRun  # dates and JSON

    with pytest.raises(TypeError, match="RefreshRun.started_at is a DateTimeField"):
        bulk.insert(RefreshRun, ["kind"], [("full",)])
    assert not RefreshRun.objects.exists()
