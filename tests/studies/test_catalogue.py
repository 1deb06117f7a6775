"""The public study catalogue at /studies/: filters, facet counts, search, sorting,
pagination, htmx partials and invalid input."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from studies.choices import CellSource, Phase, StudyStatus
from studies.filtersets import StudyFilterSet
from studies.models import Disease, Study
from tests.factories import (
    AntigenFactory,
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    ConstructAliasFactory,
    CostimulatoryDomainFactory,
    CountryFactory,
    PublicationFactory,
    RegistryIdFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db


def make_study(
    title,
    *,
    disease="sle",
    targets=("cd19",),
    year=2024,
    n_patients=5,
    construct=None,
    abstract="",
    **study_fields,
):
    """A study with one arm giving one product, first reported in year."""
    study = StudyFactory(title=title, **study_fields)
    publication = PublicationFactory(year=year, abstract=abstract, title=f"Report of {title}")
    arm = ArmFactory(
        study=study,
        source_publication=publication,
        disease=Disease.objects.get(code=disease),
        n_patients=n_patients,
    )
    if construct is None:
        antigens = [AntigenFactory(code=code) for code in targets]
        construct = CarConstructFactory(targets=antigens)
    ArmProductFactory(arm=arm, construct=construct)
    return study


@pytest.fixture
def catalogue(db):
    """Five studies: CD19 in SLE, BCMA in SLE, CD19+BCMA in lupus nephritis, CD19 in
    SSc (Germany), and BCMA in SSc."""
    germany = CountryFactory(code="DE", name="Germany")
    kyv = CarConstructFactory(
        name="KYV-101",
        targets=[AntigenFactory(code="cd19")],
        costimulatory_domains=[CostimulatoryDomainFactory(code="cd28")],
    )
    ConstructAliasFactory(construct=kyv, alias="Fully human CD19 CAR (Kyverna)")
    studies = {
        "sle_cd19": make_study(
            "CD19 CAR T in SLE", year=2022, n_patients=8, construct=kyv, phase=Phase.PHASE_1
        ),
        "sle_bcma": make_study(
            "BCMA CAR T in SLE",
            targets=("bcma",),
            year=2023,
            n_patients=3,
            abstract="Plasma cell depletion with a BCMA-directed product.",
            phase=Phase.PHASE_1_2,
        ),
        "ln_dual": make_study(
            "Compound CAR in lupus nephritis",
            disease="lupus-nephritis",
            targets=("cd19", "bcma"),
            year=2024,
            n_patients=13,
            status=StudyStatus.COMPLETED,
        ),
        "ssc_cd19": make_study(
            "CD19 CAR T in systemic sclerosis", disease="ssc", year=2024, n_patients=4
        ),
        "ssc_bcma": make_study(
            "BCMA CAR T in systemic sclerosis",
            disease="ssc",
            targets=("bcma",),
            year=2025,
            n_patients=1,
        ),
    }
    studies["ssc_cd19"].countries.add(germany)
    RegistryIdFactory(study=studies["sle_cd19"], identifier="NCT05930314")
    return studies


def titles(response) -> list[str]:
    return [row.study.title for row in response.context["rows"]]


def facet_counts(response, name) -> dict[str, int]:
    facet = next(f for f in response.context["facets"] if f.name == name)
    return {option.value: option.count for option in facet.options}


# Filters and facet counts ------------------------------------------------------------------


def test_the_catalogue_lists_every_study_newest_first(client, catalogue):
    response = client.get("/studies/")

    assert response.status_code == 200
    assert titles(response)[0] == "BCMA CAR T in systemic sclerosis"
    assert titles(response)[-1] == "CD19 CAR T in SLE"
    assert "5 studies" in response.content.decode()


def test_filtering_by_bcma_in_sle_includes_dual_targets_and_lupus_nephritis(client, catalogue):
    response = client.get("/studies/?disease=sle&target=bcma")

    assert sorted(titles(response)) == ["BCMA CAR T in SLE", "Compound CAR in lupus nephritis"]


def test_facet_counts_are_taken_under_the_other_filters(client, catalogue):
    response = client.get("/studies/?disease=sle&target=bcma")

    # Targets are counted over SLE studies (with lupus nephritis), ignoring the target filter.
    assert facet_counts(response, "target") == {"cd19": 2, "bcma": 2}
    # Diseases are counted over BCMA studies, ignoring the disease filter.
    assert facet_counts(response, "disease") == {
        "sle": 2,
        "lupus-nephritis": 1,
        "ssc": 1,
    }
    # Other facets are counted under both filters.
    assert facet_counts(response, "phase") == {Phase.PHASE_1: 1, Phase.PHASE_1_2: 1}


def test_several_values_of_one_filter_match_any_of_them(client, catalogue):
    response = client.get("/studies/?disease=ssc&disease=lupus-nephritis")

    assert len(titles(response)) == 3


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("costim=cd28", ["CD19 CAR T in SLE"]),
        ("cell_source=autologous&status=completed", ["Compound CAR in lupus nephritis"]),
        ("country=DE", ["CD19 CAR T in systemic sclerosis"]),
        (
            "year_min=2024&year_max=2024",
            ["CD19 CAR T in systemic sclerosis", "Compound CAR in lupus nephritis"],
        ),
        ("min_patients=8", ["CD19 CAR T in SLE", "Compound CAR in lupus nephritis"]),
        ("phase=1_2", ["BCMA CAR T in SLE"]),
    ],
)
def test_each_filter_narrows_the_list(client, catalogue, query, expected):
    assert sorted(titles(client.get(f"/studies/?{query}"))) == sorted(expected)


def test_filtering_by_construct_uses_its_id(client, catalogue):
    construct = catalogue["sle_cd19"].arms.get().constructs.get()

    response = client.get(f"/studies/?construct={construct.pk}")

    assert titles(response) == ["CD19 CAR T in SLE"]
    assert facet_counts(response, "cell_source") == {CellSource.AUTOLOGOUS: 1}


# Search ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("KYV-101", "CD19 CAR T in SLE"),
        ("Kyverna", "CD19 CAR T in SLE"),
        ("NCT05930314", "CD19 CAR T in SLE"),
        ("plasma cell depletion", "BCMA CAR T in SLE"),
        ("compound lupus", "Compound CAR in lupus nephritis"),
    ],
)
def test_search_finds_titles_abstracts_products_and_registry_ids(client, catalogue, text, expected):
    response = client.get("/studies/", {"q": text})

    assert titles(response) == [expected]


def test_a_search_matching_nothing_says_so(client, catalogue):
    response = client.get("/studies/", {"q": "tocilizumab"})

    assert titles(response) == []
    assert "No studies match" in response.content.decode()


def test_search_combines_with_filters(client, catalogue):
    response = client.get("/studies/", {"q": "systemic sclerosis", "target": "bcma"})

    assert titles(response) == ["BCMA CAR T in systemic sclerosis"]


def test_search_results_are_sorted_by_relevance_by_default(client, catalogue):
    response = client.get("/studies/", {"q": "BCMA"})

    assert response.context["sort"] == "relevance"
    # Title matches rank above a match in the abstract only.
    assert set(titles(response)[:2]) == {"BCMA CAR T in SLE", "BCMA CAR T in systemic sclerosis"}


@pytest.mark.postgres
def test_postgres_search_is_ranked_full_text(catalogue):
    make_study("A trial of anything", abstract="Lupus lupus lupus nephritis in lupus.")
    make_study("Lupus nephritis treated with CAR T cells", disease="lupus-nephritis")
    filterset = StudyFilterSet({"q": "lupus nephritis"}, queryset=Study.objects.all())

    ranked = [study.title for study in filterset.qs]

    # A title match outranks a match in the abstract only, even a repeated one.
    assert ranked.index("Lupus nephritis treated with CAR T cells") < ranked.index(
        "A trial of anything"
    )
    assert "BCMA CAR T in SLE" not in ranked
    # Stemming: "treating" finds "treated".
    stems = StudyFilterSet({"q": "treating"}, queryset=Study.objects.all()).qs
    assert [s.title for s in stems] == ["Lupus nephritis treated with CAR T cells"]


# Sorting and pagination ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        ("-size", "Compound CAR in lupus nephritis"),
        ("size", "BCMA CAR T in systemic sclerosis"),
        ("title", "BCMA CAR T in SLE"),
        ("-title", "Compound CAR in lupus nephritis"),
        ("year", "CD19 CAR T in SLE"),
    ],
)
def test_the_list_sorts_by_year_size_and_title(client, catalogue, sort, first):
    assert titles(client.get(f"/studies/?sort={sort}"))[0] == first


def test_the_list_is_paginated_and_keeps_the_filters_in_page_links(client, db):
    for number in range(30):
        make_study(f"Study {number:02d}", year=2020 + number % 5)

    response = client.get("/studies/?disease=sle&sort=title&page=2")

    assert titles(response) == [f"Study {n:02d}" for n in range(25, 30)]
    html = response.content.decode()
    assert "Page 2 of 2" in html
    assert "disease=sle&amp;sort=title&amp;page=1" in html


# State in the URL, htmx -------------------------------------------------------------------------


def test_the_page_reflects_the_url_state(client, catalogue):
    response = client.get("/studies/?target=bcma&sort=-size&q=CAR")
    html = response.content.decode()

    assert re.search(r'name="target" value="bcma" checked', html)
    assert re.search(r'<option value="-size" selected>', html)
    assert '<option value="relevance">' in html
    assert 'value="CAR"' in html
    assert "/studies/export.csv?target=bcma&amp;sort=-size&amp;q=CAR" in html


def test_htmx_requests_get_only_the_results_part(client, catalogue):
    response = client.get("/studies/?target=bcma", headers={"HX-Request": "true"})

    html = response.content.decode()
    assert "<html" not in html
    assert 'class="facets"' in html
    assert "BCMA CAR T in SLE" in html
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(client, catalogue):
    response = client.get(
        "/studies/?target=bcma",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )

    assert "<html" in response.content.decode()


def test_the_page_works_without_javascript(client, catalogue):
    html = client.get("/studies/").content.decode()

    assert re.search(r'<form id="catalogue-form"[^>]*method="get" action="/studies/"', html)
    assert '<button type="submit">Apply filters</button>' in html
    assert re.search(r"<label[^>]*>\s*<input type=\"checkbox\" name=\"disease\"", html)


# Invalid input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("year_min=abc", "First published from: Enter a whole number."),
        ("disease=no-such-disease", "Disease: Select a valid choice."),
        ("construct=999999", "Construct: Select a valid choice."),
        ("construct=abc", "Construct: “abc” is not a valid value."),
        ("min_patients=-3", "Minimum patients: Ensure this value is greater than or equal to 0."),
        ("year_min=2025&year_max=2020", "The year range ends (2020) before it starts (2025)."),
        ("sort=sideways", "Sort by: Select a valid choice."),
        ("phase=7", "Phase: Select a valid choice."),
    ],
)
def test_invalid_filter_values_give_the_page_with_a_message(client, catalogue, query, message):
    response = client.get(f"/studies/?{query}")

    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert 'role="alert"' in response.content.decode()


def test_an_invalid_value_leaves_the_other_filters_working(client, catalogue):
    response = client.get("/studies/?year_min=abc&target=bcma")

    assert len(titles(response)) == 3


# Constant queries ----------------------------------------------------------------------------


def _queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def _add_studies(count: int):
    construct = CarConstructFactory(targets=[AntigenFactory(code="cd19")])
    for number in range(count):
        study = make_study(f"Bulk study {number}", construct=construct, year=2020 + number % 6)
        study.countries.add(CountryFactory(code="DE"))
        RegistryIdFactory(study=study)


@pytest.mark.parametrize(
    "url", ["/studies/", "/studies/?disease=sle&target=cd19&q=study&sort=-size", "/"]
)
def test_a_page_costs_the_same_queries_for_10_and_200_studies(client, db, url):
    _add_studies(10)
    client.get(url)  # loads what is kept between requests (the vocabulary codes)
    with_ten = _queries_for(client, url)
    _add_studies(190)
    with_two_hundred = _queries_for(client, url)

    assert with_ten == with_two_hundred


def test_the_study_page_costs_a_fixed_number_of_queries(client, db):
    _add_studies(3)
    study = Study.objects.first()
    with CaptureQueriesContext(connection) as context:
        assert client.get(f"/studies/{study.pk}/").status_code == 200
    assert len(context.captured_queries) <= 25
