"""The vocabularies seeded by migration 0002: what the rest of carlit may count on."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from studies.models import (
    Antigen,
    CostimulatoryDomain,
    Country,
    Disease,
    LymphodepletionRegimen,
    OutcomeMeasure,
    Therapy,
)

pytestmark = pytest.mark.django_db

seed_migration = importlib.import_module("studies.migrations.0002_vocabularies")


@pytest.mark.parametrize(
    ("code", "kind", "low", "high", "units"),
    [
        ("sledai-2k", "score", "0", "105", []),
        ("pga-sle", "score", "0", "3", []),
        ("doris", "binary", None, None, []),
        ("lldas", "binary", None, None, []),
        ("anti-dsdna", "lab", "0", None, ["IU/mL"]),
        ("c3", "lab", "0", None, ["g/L", "mg/dL"]),
        ("c4", "lab", "0", None, ["g/L", "mg/dL"]),
        ("proteinuria", "lab", "0", None, ["g/24h", "mg/mg", "mg/mmol"]),
        ("mrss", "score", "0", "51", []),
        ("tis", "score", "0", "100", []),
        ("mmt-8", "score", "0", "80", []),
        ("creatine-kinase", "lab", "0", None, ["U/L"]),
        ("essdai", "score", "0", "123", []),
        ("esspri", "score", "0", "10", []),
        ("das28", "score", "0", "9.4", []),
        ("bvas", "score", "0", "63", []),
        ("haq-di", "score", "0", "3", []),
        ("drug-free-remission", "binary", None, None, []),
    ],
)
def test_measures_have_the_ranges_of_the_domain_table(code, kind, low, high, units):
    measure = OutcomeMeasure.objects.get(code=code)

    assert measure.kind == kind
    assert measure.min_value == (Decimal(low) if low else None)
    assert measure.max_value == (Decimal(high) if high else None)
    assert measure.units == units


def diseases_of(measure_code: str) -> set[str]:
    measure = OutcomeMeasure.objects.get(code=measure_code)
    return set(measure.diseases.values_list("code", flat=True))


def test_measures_are_tied_to_their_diseases():
    assert diseases_of("sledai-2k") == {"sle", "lupus-nephritis"}
    assert diseases_of("mrss") == {"ssc"}
    assert "antisynthetase-syndrome" in diseases_of("mmt-8")
    # No diseases means "applies to every disease".
    assert diseases_of("drug-free-remission") == set()


def test_diseases_have_codes_parents_and_a_main_outcome():
    diseases = {d.code: d for d in Disease.objects.select_related("parent", "main_outcome")}

    assert diseases["sle"].icd10 == "M32"
    assert diseases["sle"].mondo == "MONDO:0007915"
    assert diseases["lupus-nephritis"].parent == diseases["sle"]
    assert diseases["lupus-nephritis"].icd10 == "M32.14"
    for child in ("dermatomyositis", "polymyositis", "imnm", "antisynthetase-syndrome"):
        assert diseases[child].parent == diseases["iim"]
    assert diseases["sle"].main_outcome.code == "doris"
    assert diseases["ssc"].main_outcome.code == "drug-free-remission"
    for disease in diseases.values():
        disease.full_clean()
        assert disease.icd10 or disease.mondo
        assert disease.main_outcome is not None, disease.code


def test_other_vocabularies_use_the_expected_codes():
    assert str(Antigen.objects.get(code="cd19")) == "CD19"
    assert str(Antigen.objects.get(code="bcma")) == "BCMA"
    assert all(code == code.lower() for code in Antigen.objects.values_list("code", flat=True))
    costimulatory = {"4-1bb", "cd28", "icos", "ox40"}
    assert costimulatory <= set(CostimulatoryDomain.objects.values_list("code", flat=True))
    therapies = {"hydroxychloroquine", "mycophenolate-mofetil", "belimumab", "rituximab", "ivig"}
    assert therapies <= set(Therapy.objects.values_list("code", flat=True))
    assert Country.objects.get(code="DE").name == "Germany"
    standard = LymphodepletionRegimen.objects.get(code="flu-cy-standard")
    assert "25 mg/m²/day × 3" in standard.name and "1000 mg/m²" in standard.name


def test_the_seed_can_be_taken_back_and_replayed():
    # The migration's own functions, run against the current models.
    seed_migration.unseed(apps, None)
    assert not Disease.objects.exists()
    assert not OutcomeMeasure.objects.exists()

    seed_migration.seed(apps, None)
    seed_migration.seed(apps, None)  # replaying does not duplicate
    assert Disease.objects.count() == len(seed_migration.DISEASES)
    assert OutcomeMeasure.objects.count() == len(seed_migration.MEASURES)
    assert Disease.objects.get(code="sle").main_outcome.code == "doris"
