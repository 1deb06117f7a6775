"""The facet values stored per study (studies.facet_values) follow every edit that
changes them, and the catalogue's facet counts from them agree with counting the
arms, products and countries themselves."""

import json
from collections import Counter
from pathlib import Path

import pytest
from django.db import transaction
from django.http import QueryDict

from studies import facets, study_refresh
from studies.bundles import import_bundle
from studies.facet_values import refresh_facet_values, untag
from studies.filtersets import StudyFilterSet
from studies.models import FacetPairCounts, Study, StudyFacets, StudyReport
from tests.factories import (
    AntigenFactory,
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    CostimulatoryDomainFactory,
    CountryFactory,
    DiseaseFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db

BUNDLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mackensen-2022-bundle.json"


def stored(study) -> dict:
    row = StudyFacets.objects.get(study=study)
    return untag(row.tags)


def fresh(study) -> dict:
    """What a refresh from the live rows writes."""
    StudyFacets.objects.filter(study=study).delete()
    refresh_facet_values([study.pk])
    return stored(study)


@pytest.fixture
def sle():
    return DiseaseFactory(code="sle")  # the seeded vocabulary's


@pytest.fixture
def nephritis(sle):
    return DiseaseFactory(code="lupus-nephritis")  # under SLE


def test_a_study_stores_its_values_with_the_broader_diseases(nephritis):
    bcma = AntigenFactory(code="bcma")
    costim = CostimulatoryDomainFactory(code="4-1bb")
    construct = CarConstructFactory(targets=[AntigenFactory(code="cd19"), bcma])
    construct.costimulatory_domains.add(costim)
    product = ArmProductFactory(construct=construct, arm=ArmFactory(disease=nephritis))
    study = product.arm.study
    study.countries.add(CountryFactory(code="DE"))

    assert stored(study) == {
        "phase": "1",
        "status": "recruiting",
        "disease": ["lupus-nephritis", "sle"],
        "target": ["bcma", "cd19"],
        "construct": [str(construct.pk)],
        "costim": ["4-1bb"],
        "cell_source": ["autologous"],
        "country": ["DE"],
    }


def test_a_new_study_without_arms_has_its_phase_and_status():
    study = StudyFactory(phase="2", status="completed")

    assert stored(study) == {
        "phase": "2",
        "status": "completed",
        **{name: [] for name in facets.FACET_SOURCES if name not in ("phase", "status")},
    }
    assert StudyFacets.objects.get(study=study).tags == ["phase:2", "status:completed"]


def test_every_kind_of_edit_keeps_the_stored_values(sle, nephritis):
    product = ArmProductFactory(arm=ArmFactory(disease=sle))
    arm, study, construct = product.arm, product.arm.study, product.construct

    edits = [
        lambda: setattr(arm, "disease", nephritis) or arm.save(),
        lambda: ArmProductFactory(arm=arm, construct=CarConstructFactory(cell_source="allogeneic")),
        lambda: construct.targets.add(AntigenFactory(code="cd20")),
        lambda: construct.costimulatory_domains.add(CostimulatoryDomainFactory(code="cd28")),
        lambda: construct.targets.remove(AntigenFactory(code="cd20")),
        lambda: setattr(construct, "cell_source", "allogeneic") or construct.save(),
        lambda: setattr(study, "phase", "2") or study.save(),
        lambda: study.countries.add(CountryFactory(code="FR")),
        lambda: product.delete(),
        lambda: setattr(nephritis, "code", "ln") or nephritis.save(),
    ]
    for edit in edits:
        edit()
        assert stored(study) == fresh(study)


def test_an_arm_moved_to_another_study_leaves_the_first(sle):
    arm = ArmFactory(disease=sle)
    first, second = arm.study, StudyFactory()

    arm.study = second
    arm.save()

    assert stored(first)["disease"] == []
    assert stored(second)["disease"] == ["sle"]


def test_deleting_a_study_after_its_rows_deletes_its_facet_values():
    product = ArmProductFactory()
    arm, study = product.arm, product.arm.study
    product.delete()
    arm.delete()
    StudyReport.objects.filter(study=study).delete()
    assert stored(study)["construct"] == []

    study.delete()

    assert not StudyFacets.objects.filter(study_id=study.pk).exists()


def counted(query: str, *, from_table: bool, monkeypatch) -> tuple[dict, int]:
    filterset = StudyFilterSet(QueryDict(query), queryset=facets.public_studies())
    filterset.is_valid()
    monkeypatch.setattr(facets, "_uses_stored_values", lambda _: from_table)
    monkeypatch.setattr(facets, "_pairs_kept", lambda _: from_table)
    result = facets.catalogue_facets(filterset)
    total = result.total if result.total is not None else filterset.qs.count()
    return {f.name: {(o.value, o.count) for o in f.options} for f in result.facets}, total


@pytest.mark.postgres
@pytest.mark.parametrize(
    "query",
    [
        "",
        "disease=sle",
        "phase=2",
        "disease=lupus-nephritis&phase=2",
        "target=cd19&country=DE",
        "target=bcma&target=cd19&cell_source=allogeneic",
        "costim=cd28&status=recruiting",
        "q=lupus&phase=1",
        "year_min=2023&disease=sle",
        "min_patients=5",
    ],
)
def test_counts_from_the_stored_values_agree_with_counting_the_rows(
    query, sle, nephritis, monkeypatch
):
    bcma, cd19 = AntigenFactory(code="bcma"), AntigenFactory(code="cd19")
    cd28 = CostimulatoryDomainFactory(code="cd28")
    germany = CountryFactory(code="DE")
    constructs = [
        CarConstructFactory(targets=[cd19]),
        CarConstructFactory(targets=[bcma, cd19], cell_source="allogeneic"),
        CarConstructFactory(targets=[bcma], costimulatory_domains=[cd28]),
    ]
    for i in range(9):
        study = StudyFactory(phase="12"[i % 2], status=["recruiting", "completed"][i % 3 == 0])
        arm = ArmFactory(study=study, disease=[sle, nephritis][i % 2], n_patients=i)
        ArmProductFactory(arm=arm, construct=constructs[i % 3])
        if i % 4:
            ArmProductFactory(arm=ArmFactory(study=study, disease=sle), construct=constructs[0])
        if i % 3:
            study.countries.add(germany)

    from_table = counted(query, from_table=True, monkeypatch=monkeypatch)
    from_rows = counted(query, from_table=False, monkeypatch=monkeypatch)

    assert from_table == from_rows
    assert from_table[1] > 0 or query.startswith("q=")


def test_deferred_refreshes_each_study_once_at_the_end(sle, nephritis):
    product = ArmProductFactory(arm=ArmFactory(disease=sle))
    study = product.arm.study

    with study_refresh.deferred():
        ArmFactory(study=study, disease=nephritis)
        ArmProductFactory(arm=product.arm, construct=CarConstructFactory(cell_source="allogeneic"))
        study.countries.add(CountryFactory(code="FR"))
        assert stored(study)["country"] == []  # not yet

    assert stored(study) == fresh(study)
    assert stored(study)["country"] == ["FR"]
    assert stored(study)["cell_source"] == ["allogeneic", "autologous"]


def test_a_failed_deferred_block_refreshes_nothing(sle):
    study = ArmFactory(disease=sle).study
    with pytest.raises(RuntimeError), study_refresh.deferred():
        study.countries.add(CountryFactory(code="FR"))
        raise RuntimeError("the import failed")

    assert stored(study)["country"] == []


def test_a_bundle_import_and_its_reimport_keep_the_stored_values(curator):
    document = json.loads(BUNDLE.read_text())
    import_bundle(document, user=curator)
    studies = list(Study.objects.all())
    assert studies
    before = {study.pk: stored(study) for study in studies}
    assert any(values["construct"] for values in before.values())

    for study in document["studies"]:
        for arm in study["arms"]:
            arm["disease"] = "ssc"
    import_bundle(document, user=curator)

    for study in studies:
        assert stored(study) == fresh(study)
        assert "ssc" in stored(study)["disease"] or not stored(study)["disease"]


def test_deferred_refreshes_every_kind_of_stored_value_at_the_end(sle):
    """The catalogue's columns and the search document wait for the block too."""
    from studies.models import Study as StudyModel
    from tests.factories import PublicationFactory, StudyReportFactory

    study = ArmFactory(disease=sle, n_patients=3).study
    with study_refresh.deferred():
        ArmFactory(study=study, disease=sle, n_patients=4)
        StudyReportFactory(study=study, publication=PublicationFactory(year=2021))
        assert StudyModel.objects.get(pk=study.pk).patient_count == 3  # not yet

    row = StudyModel.objects.get(pk=study.pk)
    assert (row.patient_count, row.first_year) == (7, 2021)


# The pair counts PostgreSQL keeps (migration 0011) -----------------------------------


def kept_pairs() -> dict:
    rows = FacetPairCounts.objects.filter(studies__gt=0)
    return {(row.tag, row.other): row.studies for row in rows}


def recounted_pairs() -> dict:
    """Studies per pair of tags of different facets ("" for any study), from the tags."""
    pairs: Counter = Counter()
    for tags in StudyFacets.objects.values_list("tags", flat=True):
        for a in ["", *tags]:
            for b in ["", *tags]:
                if not a or not b or a.split(":")[0] != b.split(":")[0]:
                    pairs[a, b] += 1
    return dict(pairs)


@pytest.mark.postgres
def test_the_database_keeps_the_pair_counts_through_every_kind_of_edit(sle, nephritis, curator):
    product = ArmProductFactory(arm=ArmFactory(disease=sle))
    arm, study, construct = product.arm, product.arm.study, product.construct
    other = ArmFactory(disease=nephritis).study
    lonely = StudyFactory(phase="2")

    def delete_lonely():
        StudyReport.objects.filter(study=lonely).delete()
        lonely.delete()

    edits = [
        lambda: setattr(arm, "disease", nephritis) or arm.save(),
        lambda: ArmProductFactory(arm=arm, construct=CarConstructFactory(cell_source="allogeneic")),
        lambda: construct.targets.add(AntigenFactory(code="cd20")),
        lambda: setattr(study, "phase", "2") or study.save(),
        lambda: study.countries.add(CountryFactory(code="FR")),
        lambda: setattr(arm, "study", other) or arm.save(),  # moved to another study
        lambda: setattr(nephritis, "code", "ln") or nephritis.save(),
        lambda: refresh_facet_values(),  # every row rewritten, nothing changed
        lambda: import_bundle(json.loads(BUNDLE.read_text()), user=curator),
        delete_lonely,
        lambda: StudyFacets.objects.all().delete(),  # pairs of no study at all
    ]
    for number, edit in enumerate(edits):
        edit()
        assert kept_pairs() == recounted_pairs(), f"after edit {number}"
    assert kept_pairs() == {}


@pytest.mark.postgres
def test_an_edit_rolled_back_leaves_the_pair_counts_as_they_were(sle):
    ArmFactory(disease=sle)
    before = kept_pairs()
    assert before[("", "disease:sle")] == 1

    with pytest.raises(RuntimeError), transaction.atomic():
        ArmFactory(disease=sle)
        assert kept_pairs()[("", "disease:sle")] == 2  # seen inside its transaction
        raise RuntimeError("roll back")

    assert kept_pairs() == before
