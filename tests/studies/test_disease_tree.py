"""A broader disease includes its narrower ones at any depth, alike in the catalogue's
filter, its facet counts, the stored facet values, the disease page and the API."""

import pytest
from django.http import QueryDict

from studies import facets
from studies.disease_tree import DiseaseTree
from studies.filtersets import StudyFilterSet
from studies.models import Study, StudyFacets
from studies.selectors import disease_studies
from tests.factories import ArmFactory, DiseaseFactory


def test_lineage_and_narrower_at_any_depth():
    tree = DiseaseTree({1: None, 2: 1, 3: 2, 4: None})

    assert tree.lineage(3) == [3, 2, 1]
    assert tree.narrower(1) == {1, 2, 3}
    assert tree.narrower(4) == {4}
    assert tree.narrower(99) == {99}  # unknown: itself


def test_a_cycle_ends_the_walk():
    tree = DiseaseTree({1: 2, 2: 1})

    assert tree.lineage(1) == [1, 2]
    assert tree.narrower(1) == {1, 2}


@pytest.fixture
def four_levels(db):
    """Made-up classes two levels under lupus nephritis under SLE, each disease with
    one study (two levels below SLE was as far as the filter once looked)."""
    sle = DiseaseFactory(code="sle")
    nephritis = DiseaseFactory(code="lupus-nephritis")
    nephritis.parent = sle
    nephritis.save()
    middle = DiseaseFactory(code="ln-class-v-test", name="Class V test", parent=nephritis)
    deepest = DiseaseFactory(code="ln-class-v-b-test", name="Class Vb test", parent=middle)
    other = DiseaseFactory(code="other-test")
    studies = {
        disease.code: ArmFactory(disease=disease).study
        for disease in (sle, nephritis, middle, deepest, other)
    }
    return sle, studies


def test_every_reader_of_the_tree_includes_the_deepest_level(four_levels, client):
    sle, studies = four_levels
    expected = {studies[code].pk for code in studies if code != "other-test"}

    filterset = StudyFilterSet(QueryDict("disease=sle"), queryset=Study.objects.all())
    assert filterset.is_valid()
    assert set(filterset.qs.values_list("pk", flat=True)) == expected

    assert {row.study.pk for row in disease_studies(sle).rows} >= expected

    assert "disease:sle" in StudyFacets.objects.get(study=studies["ln-class-v-b-test"]).tags
    for query in ("", "status=recruiting"):  # counts stored unfiltered, counted under a filter
        unfiltered = StudyFilterSet(QueryDict(query), queryset=Study.objects.all())
        assert unfiltered.is_valid()
        disease = next(f for f in facets.catalogue_facets(unfiltered).facets if f.name == "disease")
        assert {o.value: o.count for o in disease.options}["sle"] == 4, query

    listed = client.get("/api/v1/studies/", {"disease": "sle"}).json()["results"]
    assert {row["id"] for row in listed} == expected
