"""The unfiltered catalogue's facet counts are stored (studies.catalogue_counts):
counted once after each committed change, never showing what is not committed.

These tests commit (transaction=True): the counts follow commits."""

import re

import pytest
from django.db import connection, transaction
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from studies import catalogue_counts
from studies import facets as catalogue
from studies.filtersets import StudyFilterSet
from studies.models import FilteredCounts
from tests.factories import (
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    DiseaseFactory,
    sle,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def facet_counts(query: str = "") -> dict[str, dict[str, int]]:
    filterset = StudyFilterSet(QueryDict(query), queryset=catalogue.public_studies())
    filterset.is_valid()
    facets = catalogue.catalogue_facets(filterset).facets
    return {facet.name: {o.value: o.count for o in facet.options} for facet in facets}


def counting_queries(context) -> list[str]:
    return [q["sql"] for q in context.captured_queries if "COUNT(" in q["sql"].upper()]


def test_the_counts_are_counted_once_and_again_after_a_change(client):
    ArmFactory()
    ArmFactory(disease=DiseaseFactory(code="ssc", name="Systemic sclerosis"))
    first = facet_counts()
    assert first["disease"] == {"sle": 1, "ssc": 1}

    with CaptureQueriesContext(connection) as again:
        assert facet_counts() == first
    assert counting_queries(again) == []

    ArmFactory(disease=DiseaseFactory(code="ssc"))
    assert facet_counts()["disease"] == {"sle": 1, "ssc": 2}
    assert catalogue.unfiltered_facet_counts() == catalogue._count_every_facet()
    page = client.get("/studies/")
    assert page.status_code == 200
    assert page.context["facets"][0].options[0].count == 2  # ssc first: most studies
    assert page.context["page"].paginator.count == 3  # the stored total, current


def test_home_and_disease_pages_take_their_totals_from_the_stored_counts(client):
    lupus = sle()
    ArmFactory(disease=lupus)
    ArmFactory(disease=DiseaseFactory(code="ln-test", name="LN (test)", parent=lupus))
    ArmFactory(disease=DiseaseFactory(code="ssc", name="Systemic sclerosis"))
    facet_counts()  # stores the unfiltered counts

    with CaptureQueriesContext(connection) as pages:
        home = client.get("/").context["newest"]
        disease = client.get("/diseases/sle/").context["newest"]
    assert (home.total, disease.total) == (3, 2)  # SLE with its lupus nephritis study
    assert [sql for sql in counting_queries(pages) if '"studies_study"' in sql] == []

    ArmFactory(disease=lupus)  # committed: the stored counts are counted again
    assert client.get("/diseases/sle/").context["newest"].total == 3
    assert client.get("/").context["newest"].total == 4


def test_filtered_counts_are_counted_under_the_filters():
    ArmFactory()
    ArmFactory(disease=DiseaseFactory(code="ssc", name="Systemic sclerosis"))
    facet_counts()  # stores the unfiltered counts

    counts = facet_counts("disease=ssc")

    assert counts["disease"] == {"sle": 1, "ssc": 1}  # the disease facet ignores its filter
    assert counts["phase"] == {"1": 1}


def test_a_change_rolled_back_is_never_counted():
    ArmFactory()
    assert facet_counts()["disease"] == {"sle": 1}

    with pytest.raises(RuntimeError), transaction.atomic():
        ArmFactory(disease=DiseaseFactory(code="ssc", name="Systemic sclerosis"))
        # The transaction that made it sees it; it is not stored for the others.
        assert facet_counts()["disease"] == {"sle": 1, "ssc": 1}
        raise RuntimeError("roll back")

    assert facet_counts()["disease"] == {"sle": 1}


def test_a_facet_lists_its_most_frequent_values_and_the_selected_ones(client, monkeypatch):
    monkeypatch.setattr(catalogue, "FACET_OPTIONS_SHOWN", 2)
    common, usual, rare = (CarConstructFactory(name=name) for name in ("COMMON", "USUAL", "RARE"))
    for construct, studies in ((common, 3), (usual, 2), (rare, 1)):
        for _ in range(studies):
            ArmProductFactory(construct=construct)

    page = client.get("/studies/")
    facet = next(f for f in page.context["facets"] if f.name == "construct")
    assert [(o.label, o.count) for o in facet.options] == [("COMMON", 3), ("USUAL", 2)]
    assert "1 more with fewer studies" in page.content.decode()

    page = client.get("/studies/", {"construct": rare.pk})
    facet = next(f for f in page.context["facets"] if f.name == "construct")
    assert [(o.label, o.count, o.selected) for o in facet.options] == [
        ("COMMON", 3, False),
        ("USUAL", 2, False),
        ("RARE", 1, True),
    ]
    assert facet.more == 0


def test_the_unfiltered_catalogue_reads_the_stored_counts_and_one_page_of_rows(client):
    for _ in range(3):
        ArmProductFactory()
    client.get("/studies/")  # counts and stores

    with CaptureQueriesContext(connection) as page:
        response = client.get("/studies/")

    assert response.status_code == 200
    # The stored counts (with the facets' labels), then the rows: nothing else.
    counts, rows = (q["sql"] for q in page.captured_queries)
    assert '"studies_cataloguecounts"' in counts
    assert re.search(r'FROM "studies_study" ORDER BY [^()]* LIMIT 3$', rows)
    assert response.context["page"].paginator.count == 3


def test_a_renamed_value_shows_its_new_name():
    disease = DiseaseFactory(code="ssc", name="Systemic sclerosis", abbreviation="SSc")
    ArmFactory(disease=disease)
    facet_counts()  # stored, with the labels

    disease.name = "Systemic sclerosis (scleroderma)"
    disease.abbreviation = ""
    disease.save()

    filterset = StudyFilterSet(QueryDict(""), queryset=catalogue.public_studies())
    filterset.is_valid()
    diseases = catalogue.catalogue_facets(filterset).facets[0]
    assert [o.label for o in diseases.options] == ["Systemic sclerosis (scleroderma)"]


def studyfacets_reads(query: str) -> list[str]:
    with CaptureQueriesContext(connection) as page:
        facet_counts(query)
    return [q["sql"] for q in page.captured_queries if "studies_studyfacets" in q["sql"]]


@pytest.mark.postgres
def test_counts_under_one_filter_value_are_read_from_the_pairs_the_database_keeps():
    ArmFactory()
    ArmFactory(disease=DiseaseFactory(code="ssc", name="Systemic sclerosis"))
    assert facet_counts("disease=ssc")["phase"] == {"1": 1}
    assert studyfacets_reads("disease=ssc") == []  # nothing counted, even the first time
    assert not FilteredCounts.objects.exists()

    ArmFactory(disease=DiseaseFactory(code="ssc"))  # current at once after a change
    assert studyfacets_reads("disease=ssc") == []
    assert facet_counts("disease=ssc")["phase"] == {"1": 2}
    assert facet_counts("disease=ssc")["disease"] == {"sle": 1, "ssc": 2}  # all studies


@pytest.mark.postgres
def test_the_unfiltered_counts_after_a_change_read_no_arms_or_products():
    ArmProductFactory(arm=ArmFactory(disease=DiseaseFactory(code="ssc", name="SSc")))
    facet_counts()
    ArmProductFactory()  # a change: the stored unfiltered counts are stale

    with CaptureQueriesContext(connection) as page:
        counts = facet_counts()

    assert counts["disease"] == {"sle": 1, "ssc": 1}
    assert sum(counts["construct"].values()) == 2
    tables = {"studies_arm", "studies_armproduct", "studies_study_countries"}
    sql = [q["sql"] for q in page.captured_queries]
    assert not [q for q in sql if set(re.findall(r'FROM "(\w+)"', q)) & tables], sql


@pytest.mark.postgres
def test_counts_under_a_combination_of_filters_are_stored_until_the_data_changes():
    ssc = DiseaseFactory(code="ssc", name="Systemic sclerosis")
    ArmFactory(disease=ssc)
    ArmFactory(disease=DiseaseFactory(code="sle", name="Systemic lupus erythematosus"))
    # Values in another order, or a facet named first, make the same combination.
    query = "phase=1&disease=ssc&disease=sle&year_min=2000"
    first = facet_counts(query)
    assert first["status"] == {"recruiting": 2}
    assert FilteredCounts.objects.filter(key="disease=sle,ssc&phase=1&year_min=2000").exists()

    assert studyfacets_reads("disease=sle&year_min=2000&disease=ssc&phase=1") == []
    assert facet_counts("disease=sle&year_min=2000&disease=ssc&phase=1") == first

    ArmFactory(disease=ssc)
    assert facet_counts(query)["status"] == {"recruiting": 3}


@pytest.mark.postgres
def test_counts_under_a_search_are_counted_each_time():
    ArmFactory(study__title="Anti-CD19 CAR T cells in refractory lupus")
    query = "q=lupus&phase=1"
    assert facet_counts(query)["phase"] == {"1": 1}

    assert studyfacets_reads(query)  # counted again
    assert not FilteredCounts.objects.filter(key__contains="lupus").exists()


@pytest.mark.postgres
def test_stored_combinations_are_capped_and_older_versions_dropped(monkeypatch):
    monkeypatch.setattr(catalogue_counts, "MAX_FILTERED", 2)
    ArmProductFactory(arm=ArmFactory(disease=DiseaseFactory(code="ssc", name="SSc")))
    both = "phase=1&status=recruiting"
    three = "phase=1&disease=ssc&status=recruiting"
    for query in (both, "phase=2&status=recruiting", three):
        facet_counts(query)
    # Two combinations stored (with the facets their pages asked for; the counts
    # under one value come from the pairs); those under the third are counted
    # (rightly) and not stored, nor on the next request.
    assert set(FilteredCounts.objects.values_list("key", flat=True)) == {
        both,
        "phase=2&status=recruiting",
    }
    assert facet_counts(three)["cell_source"] == {"autologous": 1}
    assert studyfacets_reads(three)
    assert FilteredCounts.objects.count() == 2

    ArmFactory()  # a change: the stored counts are stale, and dropped at the next store
    facet_counts(three)  # stores under all three, then under phase 1 and recruiting
    assert set(FilteredCounts.objects.values_list("key", flat=True)) == {
        "disease=ssc&phase=1&status=recruiting",
        both,
    }


@pytest.mark.postgres
def test_stored_counts_under_filters_gain_the_facets_asked_for_later():
    ArmFactory(disease=DiseaseFactory(code="ssc", name="Systemic sclerosis"))

    # Among others: disease under phase 1 and recruiting, phase under SSc and recruiting.
    three = facet_counts("phase=1&disease=ssc&status=recruiting")
    stored = dict(FilteredCounts.objects.values_list("key", "counts"))
    assert set(stored["phase=1&status=recruiting"]) == {"disease", "matched", "listed", "shape"}
    assert set(stored["disease=ssc&status=recruiting"]) == {"phase", "matched", "listed", "shape"}

    assert facet_counts("phase=1&status=recruiting")["disease"] == three["disease"] == {"ssc": 1}
    others = set(StudyFilterSet.FACETS) - {"phase", "status"}
    assert set(FilteredCounts.objects.get(key="phase=1&status=recruiting").counts) == (
        others | {"matched", "listed", "shape"}
    )


@pytest.mark.postgres
def test_stored_counts_under_filters_keep_only_the_values_a_page_shows(client, monkeypatch):
    monkeypatch.setattr(catalogue, "FACET_OPTIONS_SHOWN", 2)
    ssc = DiseaseFactory(code="ssc", name="Systemic sclerosis")
    common, usual, rare, unused = (
        CarConstructFactory(name=name) for name in ("COMMON", "USUAL", "RARE", "UNUSED")
    )
    for construct, studies in ((common, 3), (usual, 2), (rare, 1)):
        for _ in range(studies):
            ArmProductFactory(arm=ArmFactory(disease=ssc), construct=construct)
    ArmProductFactory(construct=unused)  # another disease

    def constructs(query):
        page = client.get("/studies/", query)
        facet = next(f for f in page.context["facets"] if f.name == "construct")
        return [(o.label, o.count, o.selected) for o in facet.options], facet.more

    shown = [("COMMON", 3, False), ("USUAL", 2, False)]
    assert constructs({"disease": "ssc", "phase": "1"}) == (shown, 1)
    stored = FilteredCounts.objects.get(key="disease=ssc&phase=1").counts
    assert stored["construct"] == {str(common.pk): 3, str(usual.pk): 2}
    assert stored["listed"]["construct"] == 3
    assert stored["matched"] == 6

    # The constructs' own counts under SSc and phase 1 hold the selected one: the rare
    # construct, then one no SSc study has (0), each counted when first selected.
    query = {"disease": "ssc", "phase": "1", "status": "recruiting"}
    for construct, count, more in ((rare, 1, 0), (unused, 0, 1)):  # more: RARE unseen
        assert constructs({**query, "construct": construct.pk}) == (
            [*shown, (construct.name, count, True)],
            more,
        )
    stored = FilteredCounts.objects.get(key="disease=ssc&phase=1&status=recruiting").counts
    assert stored["construct"] == {
        str(common.pk): 3,
        str(usual.pk): 2,
        str(rare.pk): 1,
        str(unused.pk): 0,
    }
    assert studyfacets_reads(f"disease=ssc&phase=1&status=recruiting&construct={rare.pk}") == []


@pytest.mark.postgres
def test_counts_stored_for_fewer_options_are_counted_again_when_more_are_shown(
    client, monkeypatch
):
    ssc = DiseaseFactory(code="ssc", name="Systemic sclerosis")
    for name, studies in (("COMMON", 3), ("USUAL", 2), ("RARE", 1)):
        construct = CarConstructFactory(name=name)
        for _ in range(studies):
            ArmProductFactory(arm=ArmFactory(disease=ssc), construct=construct)

    def constructs():
        page = client.get("/studies/", {"disease": "ssc", "phase": "1"})
        facet = next(f for f in page.context["facets"] if f.name == "construct")
        return [o.label for o in facet.options]

    monkeypatch.setattr(catalogue, "FACET_OPTIONS_SHOWN", 2)
    assert constructs() == ["COMMON", "USUAL"]
    # A deploy shows more options; the data has not changed since the entry was stored.
    monkeypatch.setattr(catalogue, "FACET_OPTIONS_SHOWN", 3)
    assert constructs() == ["COMMON", "USUAL", "RARE"]
    assert FilteredCounts.objects.get(key="disease=ssc&phase=1").counts["shape"] == 3


def test_a_filtered_page_reads_the_stored_labels_alone_and_follows_a_rename(client):
    ssc = DiseaseFactory(code="ssc", name="Systemic sclerosis")
    construct = CarConstructFactory(name="Old name CAR")
    ArmProductFactory(arm=ArmFactory(disease=ssc), construct=construct)
    client.get("/studies/")  # counts and stores, with the labels
    query = {"disease": "ssc", "phase": "1"}

    with CaptureQueriesContext(connection) as page:
        response = client.get("/studies/", query)
    reads = [
        q["sql"] for q in page.captured_queries if '"studies_cataloguecounts"."counts"' in q["sql"]
    ]
    assert reads and all("labels" in sql for sql in reads), reads  # not the whole counts
    constructs = next(f for f in response.context["facets"] if f.name == "construct")
    assert [(o.label, o.count) for o in constructs.options] == [("Old name CAR", 1)]

    construct.name = "New name CAR"
    construct.save()
    response = client.get("/studies/", query)
    constructs = next(f for f in response.context["facets"] if f.name == "construct")
    assert [(o.label, o.count) for o in constructs.options] == [("New name CAR", 1)]


def test_a_filtered_page_after_a_change_looks_up_its_labels_without_counting_all(client):
    ssc = DiseaseFactory(code="ssc", name="Systemic sclerosis")
    ArmProductFactory(arm=ArmFactory(disease=ssc))
    client.get("/studies/")  # counts and stores, with the labels
    ArmFactory(disease=ssc)  # a change: the stored counts are stale

    with CaptureQueriesContext(connection) as page:
        response = client.get("/studies/", {"disease": "ssc", "phase": "1"})

    # The unfiltered counts are neither counted nor stored again for this page.
    sql = [q["sql"] for q in page.captured_queries]
    assert not [q for q in sql if q.startswith('UPDATE "studies_cataloguecounts"')], sql
    diseases = response.context["facets"][0]
    assert [(o.label, o.count) for o in diseases.options] == [(ssc.name, 2)]
    assert response.context["page"].paginator.count == 2


@pytest.mark.postgres
def test_combinations_too_long_to_key_are_counted_not_stored(monkeypatch):
    monkeypatch.setattr(catalogue_counts, "_KEY_LENGTH", len("phase=1&status=recruiting"))
    ArmProductFactory(arm=ArmFactory(disease=DiseaseFactory(code="ssc", name="SSc")))

    counts = facet_counts("phase=1&disease=ssc&status=recruiting")

    assert counts["cell_source"] == {"autologous": 1}
    assert set(FilteredCounts.objects.values_list("key", flat=True)) == {
        "phase=1&status=recruiting",
        "disease=ssc&phase=1",
    }
