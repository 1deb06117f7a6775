"""summaries.bulk writes snapshot rows exactly as given (PostgreSQL streams them with
COPY, whose text format has its own escapes; other databases use bulk_create)."""

import pytest

from summaries import bulk
from summaries.models import Contribution, ContributionRate, PooledArm

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
