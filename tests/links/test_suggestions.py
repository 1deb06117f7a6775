"""Identity suggestions: which pairs of patient reports are offered, in which order."""

import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from links import selectors, services
from links.models import IdentitySuggestion, LinkKind
from links.suggestions import PAIR_FIELDS, _pairs_sql, refresh_suggestions
from tests.factories import ArmFactory, PatientFactory, PersonFactory, PublicationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def study_arms(db):
    """One study reported by two papers, each citing its own arm."""
    first = ArmFactory(label="2022 cohort")
    second = ArmFactory(study=first.study, label="2024 cohort",
                        source_publication=PublicationFactory(year=2025))
    return first, second


def pairs() -> list[tuple[str, str]]:
    suggestions = selectors.identity_suggestions()
    return [(s.patient.label, s.other.label) for s in suggestions[0:suggestions.count()]]


def patient(arm, label, age="30", sex="female", **kwargs):
    return PatientFactory(arm=arm, label=label, age_years=Decimal(age) if age else None,
                          sex=sex, **kwargs)


def test_it_suggests_matching_reports_of_one_study_in_other_publications(study_arms):
    first, second = study_arms
    patient(first, "P1", age="30")
    patient(second, "S1", age="31")  # a year older at the later report
    patient(second, "S2", age="33")  # too old
    patient(second, "S3", sex="male")  # other sex
    patient(first, "P2", age="30")  # same publication as P1: never the same person
    PatientFactory(arm=ArmFactory(), label="X1", age_years=Decimal("30"))  # another study

    assert {frozenset(pair) for pair in pairs()} == {frozenset(("P1", "S1")),
                                                      frozenset(("P2", "S1"))}


def test_only_edits_to_what_pairs_read_recompute_them(study_arms):
    first, second = study_arms
    one = patient(first, "P1", age="30")
    patient(second, "S1", age="31")

    def writes_to_suggestions(edit) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            edit()
        table = IdentitySuggestion._meta.db_table
        return [q["sql"] for q in queries if table in q["sql"]]

    one.label = "Patient 1"
    assert writes_to_suggestions(one.save) == []
    assert pairs() == [("Patient 1", "S1")]

    one.age_years = Decimal("35")
    assert writes_to_suggestions(one.save) != []
    assert pairs() == []


def test_the_columns_whose_edits_recompute_pairs_are_those_the_pairs_read():
    # A patient column the statement reads but PAIR_FIELDS lacks would leave stale
    # suggestions after an edit of it; one it no longer reads would refresh for nothing.
    sql = _pairs_sql(lambda name: name, restricted=True)
    read = {column for column in re.findall(r"\bp[12]\.(\w+)", sql) if column != "id"}
    assert read == set(PAIR_FIELDS)


def test_unknown_sex_or_age_do_not_rule_a_pair_out_but_rank_it_lower(study_arms):
    first, second = study_arms
    patient(first, "P1", age="30")
    patient(second, "exact", age="30")
    patient(second, "no age", age=None)
    patient(second, "no sex", age="30.5", sex="")

    assert pairs() == [("P1", "exact"), ("P1", "no sex"), ("P1", "no age")]


def test_other_diseases_and_linked_dismissed_or_proposed_pairs_are_not_suggested(
    study_arms, curator
):
    from tests.factories import DiseaseFactory

    first, second = study_arms
    p1 = patient(first, "P1")
    patient(second, "SSc", primary_disease=DiseaseFactory(code="ssc"))
    person = PersonFactory()
    patient(first, "linked", person=person, person_evidence="confirmed")
    patient(second, "linked too", person=person, person_evidence="confirmed")
    dismissed = patient(second, "dismissed")
    proposed = patient(second, "proposed")
    services.suggestion_dismiss(curator=curator, patient=dismissed, other_patient=p1)
    services.link_request_propose(proposer=curator, kind=LinkKind.SAME_PERSON, patient=p1,
                                  other_patient=proposed, evidence="probable", submit=True)

    assert ("P1", "dismissed") not in pairs() and ("P1", "proposed") not in pairs()
    assert ("linked", "linked too") not in pairs()
    assert not [pair for pair in pairs() if "SSc" in pair]
    # The count (pages, "N suggestions") leaves the hidden pairs out too.
    assert selectors.identity_suggestions().count() == len(pairs()) == 3


def test_suggestions_are_paged_in_the_database(study_arms, django_assert_max_num_queries):
    first, second = study_arms
    for index in range(6):
        patient(first, f"P{index}")
        patient(second, f"S{index}")
    page = Paginator(selectors.identity_suggestions(), 10).get_page(2)

    with django_assert_max_num_queries(4):
        rows = list(page)
        assert page.paginator.count == 36
        assert len(rows) == 10
        assert all(s.patient.source_publication.short_citation for s in rows)


def stored() -> set[tuple]:
    return set(IdentitySuggestion.objects.values_list(
        "patient_id", "other_patient_id", "study_id", "score", "age_gap"))


def recomputed() -> set[tuple]:
    refresh_suggestions()  # every study, from the live rows
    return stored()


def test_edits_keep_the_stored_suggestions_as_a_full_recomputation_gives(study_arms):
    first, second = study_arms
    p1 = patient(first, "P1", age="30")
    s1 = patient(second, "S1", age="31")
    s2 = patient(second, "S2", age="45")
    assert pairs() == [("P1", "S1")]

    s2.age_years = Decimal("30")  # corrected from the paper: now a match
    s2.save()
    s1.sex = "male"  # no longer a match
    s1.save()
    assert pairs() == [("P1", "S2")]

    elsewhere = ArmFactory()  # the second report's arm belonged to another study
    second.study = elsewhere.study
    second.save()
    assert pairs() == []
    second.study = first.study
    second.save()
    assert pairs() == [("P1", "S2")]

    p1.delete()
    assert pairs() == []
    snapshot = stored()
    assert snapshot == recomputed()


def test_rebuild_catalogue_restores_suggestions_written_around_the_receivers(study_arms):
    first, second = study_arms
    patient(first, "P1")
    patient(second, "S1")
    IdentitySuggestion.objects.all().delete()  # as after a raw load
    assert pairs() == []

    call_command("rebuild_catalogue", stdout=io.StringIO())

    assert pairs() == [("P1", "S1")]
