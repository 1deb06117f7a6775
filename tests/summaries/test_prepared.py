"""Statements compiled once and reused for other studies (summaries.prepared)."""

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from studies.models import Arm
from summaries import prepared
from tests.factories import ArmFactory, StudyFactory

pytestmark = pytest.mark.django_db


def _arms_of(studies):
    return Arm.objects.filter(study_id__any=prepared.ids(studies)).order_by("pk").values_list(
        "pk", "study_id"
    )


def test_a_statement_reused_for_other_studies_reads_their_rows():
    first, second = StudyFactory(), StudyFactory()
    first_arms = [ArmFactory(study=first).pk for _ in range(2)]
    second_arm = ArmFactory(study=second).pk

    assert prepared.rows(_arms_of, [first.pk]) == [(pk, first.pk) for pk in first_arms]
    assert prepared.rows(_arms_of, {second.pk}) == [(second_arm, second.pk)]
    assert sorted(prepared.rows(_arms_of, [second.pk, first.pk])) == sorted(
        [*((pk, first.pk) for pk in first_arms), (second_arm, second.pk)]
    )
    assert prepared.rows(_arms_of, []) == []
    # A full rebuild (None) reads every row, through the ORM.
    assert len(prepared.rows(lambda studies: Arm.objects.values_list("pk"), None)) == 3


@pytest.mark.postgres
def test_on_postgresql_a_statement_is_built_once_for_any_studies():
    first, second = StudyFactory(), StudyFactory()
    arm = ArmFactory(study=second)
    built = []

    def arms_of(studies):
        built.append(studies)
        return _arms_of(studies)

    with CaptureQueriesContext(connection) as queries:
        assert prepared.rows(arms_of, [first.pk]) == []
        assert prepared.rows(arms_of, [first.pk, second.pk]) == [(arm.pk, second.pk)]
    assert len(built) == 1
    assert all("= ANY(" in query["sql"] for query in queries)


def test_rows_come_in_the_order_of_the_sql_or_not_at_all():
    StudyFactory()

    def annotation_first(studies):
        return Arm.objects.annotate(n=Count("pk")).values_list("n", "study_id")

    with pytest.raises(ValueError, match="fields before the annotations"):
        prepared.rows(annotation_first, [1])


def test_dicts_name_each_column():
    arm = ArmFactory()

    def counts(studies):
        return (
            Arm.objects.filter(study_id__any=prepared.ids(studies))
            .values("study_id")
            .annotate(arms=Count("pk"))
        )

    assert prepared.dicts(counts, [arm.study_id]) == [{"study_id": arm.study_id, "arms": 1}]


def test_keys_match_as_pairs_not_as_a_cross_product():
    one, two = StudyFactory(), StudyFactory()
    wanted = [ArmFactory(study=one, label="A"), ArmFactory(study=two, label="B")]
    crossed = ArmFactory(study=one, label="B")  # its study and label are each wanted, apart
    ArmFactory(study=two, label="A")

    def arms_by(studies, labels):
        keys = prepared.keys_q(["study_id", "label"], [studies, labels], ["bigint", "text"])
        return Arm.objects.filter(keys).order_by("pk").values_list("pk")

    pairs = [(one.pk, "A"), (two.pk, "B")]
    found = prepared.rows(arms_by, *prepared.key_arrays(pairs, 2))
    assert found == [(arm.pk,) for arm in wanted]
    assert prepared.rows(arms_by, *prepared.key_arrays([(one.pk, "B")], 2)) == [(crossed.pk,)]
