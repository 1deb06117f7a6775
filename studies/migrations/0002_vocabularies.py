"""Seed the controlled vocabularies.

The seed lists live in this file on purpose: a migration must replay the same way
forever, so it cannot import data from a module that may change later. Curators
extend the vocabularies through the admin; later seed changes get a new migration.

Codes are the stable keys (the demo data set and imports refer to rows by code).
Forward: insert or update by code. Backward: delete the seeded codes.
"""

from decimal import Decimal

from django.db import migrations

# code, name, abbreviation, ICD-10, MONDO, parent code.
# MONDO ids only where they were checked; ICD-10 codes are WHO ICD-10, or ICD-10-CM
# where only CM has a specific code (M32.14, D68.61). IMNM and antisynthetase syndrome
# have no code of their own: the residual category they are usually coded under is used.
DISEASES = [
    ("sle", "Systemic lupus erythematosus", "SLE", "M32", "MONDO:0007915", None),
    ("lupus-nephritis", "Lupus nephritis", "LN", "M32.14", "", "sle"),
    ("ssc", "Systemic sclerosis", "SSc", "M34", "MONDO:0005100", None),
    ("iim", "Idiopathic inflammatory myopathy", "IIM", "M33", "", None),
    ("dermatomyositis", "Dermatomyositis", "DM", "M33.1", "", "iim"),
    ("juvenile-dermatomyositis", "Juvenile dermatomyositis", "JDM", "M33.0", "", "dermatomyositis"),
    ("polymyositis", "Polymyositis", "PM", "M33.2", "", "iim"),
    ("imnm", "Immune-mediated necrotising myopathy", "IMNM", "G72.4", "", "iim"),
    ("antisynthetase-syndrome", "Antisynthetase syndrome", "ASyS", "M35.8", "", "iim"),
    ("sjogren", "Sjögren's disease", "SjD", "M35.0", "MONDO:0010030", None),
    ("ra", "Rheumatoid arthritis", "RA", "M06.9", "MONDO:0008383", None),
    ("aav", "ANCA-associated vasculitis", "AAV", "M31", "", None),
    ("gpa", "Granulomatosis with polyangiitis", "GPA", "M31.3", "", "aav"),
    ("mpa", "Microscopic polyangiitis", "MPA", "M31.7", "", "aav"),
    ("egpa", "Eosinophilic granulomatosis with polyangiitis", "EGPA", "M30.1", "", "aav"),
    ("aps", "Antiphospholipid syndrome", "APS", "D68.61", "", None),
    ("mctd", "Mixed connective tissue disease", "MCTD", "M35.1", "", None),
    ("uctd", "Undifferentiated connective tissue disease", "UCTD", "M35.9", "", None),
]

SLE_FAMILY = ["sle", "lupus-nephritis"]
IIM_FAMILY = [
    "iim", "dermatomyositis", "juvenile-dermatomyositis", "polymyositis", "imnm",
    "antisynthetase-syndrome",
]
AAV_FAMILY = ["aav", "gpa", "mpa", "egpa"]

# code, name, abbreviation, kind, units (usual first), min, max, higher_is_better,
# disease codes (empty: every disease), description.
MEASURES = [
    ("sledai-2k", "SLE Disease Activity Index 2000", "SLEDAI-2K", "score", [], "0", "105",
     False, SLE_FAMILY, ""),
    ("pga-sle", "Physician global assessment (SLE)", "PGA", "score", [], "0", "3", False,
     SLE_FAMILY, "0-3 visual analogue scale."),
    ("doris", "DORIS remission", "DORIS", "binary", [], None, None, True, SLE_FAMILY,
     "Clinical SLEDAI 0, PGA < 0.5, prednisone ≤ 5 mg/day."),
    ("lldas", "Lupus low disease activity state", "LLDAS", "binary", [], None, None, True,
     SLE_FAMILY,
     "SLEDAI-2K ≤ 4 without major organ activity, PGA ≤ 1, prednisone ≤ 7.5 mg/day."),
    ("sri-4", "SLE Responder Index 4", "SRI-4", "binary", [], None, None, True, SLE_FAMILY,
     "SLEDAI-2K reduction ≥ 4 without new BILAG A/B or PGA worsening."),
    ("anti-dsdna", "Anti-double-stranded DNA antibodies", "anti-dsDNA", "lab", ["IU/mL"],
     "0", None, False, SLE_FAMILY, ""),
    ("c3", "Complement C3", "C3", "lab", ["g/L", "mg/dL"], "0", None, True, SLE_FAMILY, ""),
    ("c4", "Complement C4", "C4", "lab", ["g/L", "mg/dL"], "0", None, True, SLE_FAMILY, ""),
    ("proteinuria", "Proteinuria", "", "lab", ["g/24h", "mg/mg", "mg/mmol"], "0", None, False,
     SLE_FAMILY, "24-hour urine protein, or urine protein-to-creatinine ratio (UPCR)."),
    ("complete-renal-response", "Complete renal response", "CRR", "binary", [], None, None,
     True, ["lupus-nephritis"], "As defined by the study (usually proteinuria and eGFR)."),
    ("mrss", "Modified Rodnan skin score", "mRSS", "score", [], "0", "51", False, ["ssc"], ""),
    ("tis", "ACR/EULAR total improvement score", "TIS", "score", [], "0", "100", True,
     IIM_FAMILY, "≥ 20 minimal, ≥ 40 moderate, ≥ 60 major improvement."),
    ("tis-major", "ACR/EULAR major clinical response", "TIS ≥ 60", "binary", [], None, None,
     True, IIM_FAMILY, "Total improvement score of 60 or more."),
    ("mmt-8", "Manual muscle testing of 8 muscle groups", "MMT-8", "score", [], "0", "80",
     True, IIM_FAMILY, ""),
    ("creatine-kinase", "Creatine kinase", "CK", "lab", ["U/L"], "0", None, False,
     IIM_FAMILY, ""),
    ("essdai", "EULAR Sjögren's syndrome disease activity index", "ESSDAI", "score", [], "0",
     "123", False, ["sjogren"], ""),
    ("esspri", "EULAR Sjögren's syndrome patient reported index", "ESSPRI", "score", [], "0",
     "10", False, ["sjogren"], ""),
    ("das28", "Disease Activity Score in 28 joints", "DAS28", "score", [], "0", "9.4", False,
     ["ra"], "ESR or CRP version; about 0-9.4."),
    ("bvas", "Birmingham Vasculitis Activity Score version 3", "BVAS v3", "score", [], "0",
     "63", False, AAV_FAMILY, ""),
    ("haq-di", "Health Assessment Questionnaire disability index", "HAQ-DI", "score", [], "0",
     "3", False, ["ra", "ssc", *IIM_FAMILY], ""),
    ("drug-free-remission", "Drug-free remission", "", "binary", [], None, None, True, [],
     "Remission off all immunosuppressants and glucocorticoids."),
    ("car-t-peak-expansion", "Peak CAR T-cell expansion", "Cmax", "lab",
     ["cells/µL", "copies/µg DNA"], "0", None, None, [],
     "Highest CAR T-cell level in blood after infusion."),
    ("car-t-peak-day", "Day of peak CAR T-cell expansion", "Tmax", "lab", ["days"], "0", None,
     None, [], "Days from infusion to the peak CAR T-cell level."),
    ("b-cell-aplasia-duration", "Duration of B-cell aplasia", "", "lab", ["days"], "0", None,
     None, [], "Days from infusion until B cells reappear in blood (B-cell reconstitution)."),
]

# Each disease's main binary outcome for pooled summaries. Every disease gets one, so
# that no reader has to walk up the parent chain.
MAIN_OUTCOMES = {
    "sle": "doris",
    "lupus-nephritis": "complete-renal-response",
    **{code: "tis-major" for code in IIM_FAMILY},
    **{code: "drug-free-remission" for code in AAV_FAMILY},
    "ssc": "drug-free-remission",
    "sjogren": "drug-free-remission",
    "ra": "drug-free-remission",
    "aps": "drug-free-remission",
    "mctd": "drug-free-remission",
    "uctd": "drug-free-remission",
}

ANTIGENS = [
    ("cd19", "CD19"),
    ("bcma", "BCMA (B-cell maturation antigen)"),
    ("cd20", "CD20"),
    ("cd22", "CD22"),
    ("cd7", "CD7"),
    ("cd38", "CD38"),
    ("cd70", "CD70"),
    ("baff-r", "BAFF-R"),
    ("dsg3", "Desmoglein 3 (CAAR)"),
    ("musk", "Muscle-specific kinase (CAAR)"),
]

COSTIMULATORY_DOMAINS = [
    ("4-1bb", "4-1BB (CD137)"),
    ("cd28", "CD28"),
    ("icos", "ICOS"),
    ("ox40", "OX40"),
]

THERAPIES = [
    ("hydroxychloroquine", "Hydroxychloroquine"),
    ("glucocorticoids", "Glucocorticoids"),
    ("cyclophosphamide", "Cyclophosphamide"),
    ("mycophenolate-mofetil", "Mycophenolate mofetil"),
    ("azathioprine", "Azathioprine"),
    ("methotrexate", "Methotrexate"),
    ("leflunomide", "Leflunomide"),
    ("sulfasalazine", "Sulfasalazine"),
    ("tacrolimus", "Tacrolimus"),
    ("ciclosporin", "Ciclosporin"),
    ("voclosporin", "Voclosporin"),
    ("belimumab", "Belimumab"),
    ("anifrolumab", "Anifrolumab"),
    ("telitacicept", "Telitacicept"),
    ("rituximab", "Rituximab"),
    ("obinutuzumab", "Obinutuzumab"),
    ("daratumumab", "Daratumumab"),
    ("ivig", "Intravenous immunoglobulin (IVIG)"),
    ("plasma-exchange", "Plasma exchange"),
    ("adalimumab", "Adalimumab"),
    ("etanercept", "Etanercept"),
    ("infliximab", "Infliximab"),
    ("certolizumab-pegol", "Certolizumab pegol"),
    ("golimumab", "Golimumab"),
    ("tocilizumab", "Tocilizumab"),
    ("sarilumab", "Sarilumab"),
    ("abatacept", "Abatacept"),
    ("tofacitinib", "Tofacitinib"),
    ("baricitinib", "Baricitinib"),
    ("upadacitinib", "Upadacitinib"),
    ("nintedanib", "Nintedanib"),
    ("avacopan", "Avacopan"),
    ("autologous-hsct", "Autologous haematopoietic stem cell transplantation"),
]

COUNTRIES = [
    ("AT", "Austria"),
    ("AU", "Australia"),
    ("BE", "Belgium"),
    ("BR", "Brazil"),
    ("CA", "Canada"),
    ("CH", "Switzerland"),
    ("CN", "China"),
    ("CZ", "Czechia"),
    ("DE", "Germany"),
    ("DK", "Denmark"),
    ("ES", "Spain"),
    ("FI", "Finland"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
    ("GR", "Greece"),
    ("HK", "Hong Kong"),
    ("IE", "Ireland"),
    ("IL", "Israel"),
    ("IN", "India"),
    ("IT", "Italy"),
    ("JP", "Japan"),
    ("KR", "South Korea"),
    ("NL", "Netherlands"),
    ("NO", "Norway"),
    ("PL", "Poland"),
    ("PT", "Portugal"),
    ("SE", "Sweden"),
    ("SG", "Singapore"),
    ("TR", "Türkiye"),
    ("TW", "Taiwan"),
    ("US", "United States"),
]

LYMPHODEPLETION_REGIMENS = [
    ("flu-cy-standard",
     "Fludarabine 25 mg/m²/day × 3 + cyclophosphamide 1000 mg/m² × 1",
     "Fludarabine 25 mg/m² daily for three days (e.g. days −5 to −3) and one dose of "
     "cyclophosphamide 1000 mg/m² (e.g. day −3)."),
    ("flu25-cy1000-schedule-nr",
     "Fludarabine 25 mg/m² + cyclophosphamide 1000 mg/m² (schedule not reported)",
     "Doses as in the standard regimen; the number of days is not reported."),
    ("flu25-cy250",
     "Fludarabine 25 mg/m²/day + cyclophosphamide 250 mg/m²/day",
     "Both drugs daily; the number of days is not reported."),
    ("flu30-cy300-x3",
     "Fludarabine 30 mg/m²/day + cyclophosphamide 300 mg/m²/day × 3",
     "Both drugs daily for three days (e.g. days −5 to −3 or −7 to −5)."),
    ("flu30-cy500-x3",
     "Fludarabine 30 mg/m²/day + cyclophosphamide 500 mg/m²/day × 3",
     "Both drugs daily for three days (e.g. days −4 to −2)."),
    ("flu-cy-unspecified",
     "Fludarabine + cyclophosphamide (doses not reported)",
     "The report names both drugs but not their doses."),
    ("cy-only",
     "Cyclophosphamide alone (dose not reported)",
     ""),
    ("ld-unspecified",
     "Lymphodepletion, regimen not reported",
     "The report says lymphodepletion was given without naming the drugs."),
    ("none",
     "No lymphodepletion",
     "e.g. transient mRNA CAR T cells given without conditioning."),
]


def _decimal(value):
    return None if value is None else Decimal(value)


def seed(apps, schema_editor):
    Disease = apps.get_model("studies", "Disease")
    OutcomeMeasure = apps.get_model("studies", "OutcomeMeasure")
    Antigen = apps.get_model("studies", "Antigen")
    CostimulatoryDomain = apps.get_model("studies", "CostimulatoryDomain")
    Therapy = apps.get_model("studies", "Therapy")
    Country = apps.get_model("studies", "Country")
    Regimen = apps.get_model("studies", "LymphodepletionRegimen")

    diseases = {}
    for code, name, abbreviation, icd10, mondo, parent in DISEASES:
        diseases[code], _ = Disease.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "abbreviation": abbreviation,
                "icd10": icd10,
                "mondo": mondo,
                "parent": diseases[parent] if parent else None,
            },
        )

    measures = {}
    for (code, name, abbreviation, kind, units, low, high, higher_is_better, disease_codes,
         description) in MEASURES:
        measure, _ = OutcomeMeasure.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "abbreviation": abbreviation,
                "kind": kind,
                "units": units,
                "min_value": _decimal(low),
                "max_value": _decimal(high),
                "higher_is_better": higher_is_better,
                "description": description,
            },
        )
        measure.diseases.set([diseases[c] for c in disease_codes])
        measures[code] = measure

    for disease_code, measure_code in MAIN_OUTCOMES.items():
        Disease.objects.filter(code=disease_code).update(main_outcome=measures[measure_code])

    for model, rows in (
        (Antigen, ANTIGENS),
        (CostimulatoryDomain, COSTIMULATORY_DOMAINS),
        (Therapy, THERAPIES),
    ):
        for code, name in rows:
            model.objects.update_or_create(code=code, defaults={"name": name})
    for code, name in COUNTRIES:
        Country.objects.update_or_create(code=code, defaults={"name": name})
    for code, name, description in LYMPHODEPLETION_REGIMENS:
        Regimen.objects.update_or_create(
            code=code, defaults={"name": name, "description": description}
        )


def unseed(apps, schema_editor):
    Disease = apps.get_model("studies", "Disease")
    OutcomeMeasure = apps.get_model("studies", "OutcomeMeasure")
    get = apps.get_model
    get("studies", "LymphodepletionRegimen").objects.filter(
        code__in=[row[0] for row in LYMPHODEPLETION_REGIMENS]
    ).delete()
    get("studies", "Country").objects.filter(code__in=[row[0] for row in COUNTRIES]).delete()
    for name, rows in (
        ("Therapy", THERAPIES),
        ("CostimulatoryDomain", COSTIMULATORY_DOMAINS),
        ("Antigen", ANTIGENS),
    ):
        get("studies", name).objects.filter(code__in=[row[0] for row in rows]).delete()
    disease_codes = [row[0] for row in DISEASES]
    # Diseases point at measures (main outcome) and at each other (parent): unlink first.
    Disease.objects.filter(code__in=disease_codes).update(main_outcome=None, parent=None)
    OutcomeMeasure.objects.filter(code__in=[row[0] for row in MEASURES]).delete()
    Disease.objects.filter(code__in=disease_codes).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("studies", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
