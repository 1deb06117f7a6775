"""Identity suggestions stored per study (links.models.IdentitySuggestion).

Two patient reports are suggested as maybe one person when they are in different
publications of the same study, with the same primary disease, the same sex and ages
at most a year apart where both reports give them, and are not already one person.
(A registry id belongs to one study only, so "same registry id" is "same study".)

:func:`refresh_suggestions` recomputes the pairs of some studies with one DELETE and
one INSERT ... SELECT. The receivers below call it for every ORM save or delete that
can change them (a patient row, an arm moving to another study; deletes cascade), so
every writer keeps them without knowing; writers that bypass signals call it
themselves, as studies.synthetic does, and ``manage.py rebuild_catalogue`` recomputes
every study. Within studies.study_refresh.deferred() the refresh waits for the
block's end.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connections, router
from django.db.models.signals import post_save

from studies import stored_values, study_refresh
from studies.models import Arm, Patient

from .models import IdentitySuggestion


def _pairs_sql(quote, restricted: bool) -> str:
    patient, arm = quote(Patient._meta.db_table), quote(Arm._meta.db_table)
    table = quote(IdentitySuggestion._meta.db_table)
    scope = "AND a1.study_id IN (SELECT value FROM ids)" if restricted else ""
    return f"""
        INSERT INTO {table} (patient_id, other_patient_id, study_id, score, age_gap)
        SELECT p1.id, p2.id, a1.study_id,
            (CASE WHEN p1.sex <> '' AND p2.sex <> '' THEN 1 ELSE 0 END)
            + (CASE WHEN p1.age_years IS NOT NULL AND p2.age_years IS NOT NULL
                    THEN 1 ELSE 0 END)
            + (CASE WHEN p1.age_years = p2.age_years THEN 1 ELSE 0 END),
            COALESCE(ABS(p1.age_years - p2.age_years), 99)
        FROM {patient} p1
        JOIN {arm} a1 ON a1.id = p1.arm_id
        JOIN {arm} a2 ON a2.study_id = a1.study_id
        JOIN {patient} p2 ON p2.arm_id = a2.id AND p2.id > p1.id
        WHERE p1.source_publication_id <> p2.source_publication_id
        AND p1.primary_disease_id = p2.primary_disease_id
        AND (p1.sex = '' OR p2.sex = '' OR p1.sex = p2.sex)
        AND (p1.age_years IS NULL OR p2.age_years IS NULL
             OR ABS(p1.age_years - p2.age_years) <= 1)
        AND (p1.person_id IS NULL OR p2.person_id IS NULL OR p1.person_id <> p2.person_id)
        {scope}
    """


def refresh_suggestions(study_ids: Iterable[int] | None = None, using: str | None = None) -> int:
    """Recompute the suggested pairs of these studies (None: every study); return how
    many pairs they have now."""
    using = using or router.db_for_write(IdentitySuggestion)
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(IdentitySuggestion._meta.db_table)
    with connection.cursor() as cursor:
        if study_ids is None:
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(_pairs_sql(quote, restricted=False))
            return cursor.rowcount
        ids = sorted({pk for pk in study_ids if pk is not None})
        if not ids:
            return 0
        # The ids as a one-column table: the same statement for any number of studies.
        values = ", ".join(["(%s)"] * len(ids))
        with_ids = f"WITH ids (value) AS (VALUES {values}) "
        cursor.execute(f"{with_ids}DELETE FROM {table} WHERE study_id IN "
                       "(SELECT value FROM ids)", ids)
        cursor.execute(with_ids + _pairs_sql(quote, restricted=True), ids)
        return cursor.rowcount


def _refresh(study_ids) -> None:
    study_refresh.refresh(refresh_suggestions, study_ids)


def _studies_of_arms(arm_ids) -> list[int]:
    return list(Arm.objects.filter(pk__in=[pk for pk in arm_ids if pk]).values_list(
        "study_id", flat=True))


# The patient columns the pairs read (_pairs_sql): a save that changes none of them
# (a label, a note, an outcome) leaves the study's pairs as they are.
PAIR_FIELDS = ("arm_id", "source_publication_id", "primary_disease_id", "sex", "age_years",
               "person_id")


def patient_saved(sender, instance, raw=False, **kwargs) -> None:
    if raw or not stored_values.changed(instance, *PAIR_FIELDS):
        return
    # A report moved to another arm may have left its study: refresh both.
    _refresh(_studies_of_arms({instance.arm_id, stored_values.before(instance, "arm_id")}))


def arm_saved(sender, instance, raw=False, **kwargs) -> None:
    if raw or not stored_values.changed(instance, "study_id"):
        return
    _refresh({instance.study_id, stored_values.before(instance, "study_id")})


def connect() -> None:
    stored_values.watch(Patient, *PAIR_FIELDS)
    stored_values.watch(Arm, "study_id")
    post_save.connect(patient_saved, sender=Patient, dispatch_uid="suggestions-patient")
    post_save.connect(arm_saved, sender=Arm, dispatch_uid="suggestions-arm")
