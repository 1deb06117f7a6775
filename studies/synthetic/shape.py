"""The shape of the synthetic literature: diseases with their measures and the
usual values before and after CAR-T, product designs, journals, countries.

Weights are rough proportions of the published literature (most studies are case
reports and small series in SLE with CD19 products); names are invented.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Course:
    """A numeric measure's usual values before CAR-T and at its best afterwards."""

    measure: str
    unit: str
    baseline: tuple[float, float] | None
    after: tuple[float, float]
    places: int = 0


@dataclass(frozen=True)
class DiseaseProfile:
    arm_codes: tuple[str, ...]  # what an arm is labelled with (the first most often)
    weight: int
    female: float
    ages: tuple[int, int]
    courses: tuple[Course, ...]  # the first is the disease's activity score
    responses: tuple[str, ...]  # yes/no measures besides drug-free remission
    therapies: tuple[str, ...]
    secondary: tuple[str, ...] = ()


SLE_THERAPIES = (
    "hydroxychloroquine",
    "glucocorticoids",
    "mycophenolate-mofetil",
    "cyclophosphamide",
    "belimumab",
    "anifrolumab",
    "rituximab",
    "tacrolimus",
    "azathioprine",
    "voclosporin",
    "telitacicept",
    "obinutuzumab",
)
IIM_THERAPIES = (
    "glucocorticoids",
    "methotrexate",
    "mycophenolate-mofetil",
    "tacrolimus",
    "rituximab",
    "ivig",
    "cyclophosphamide",
    "azathioprine",
    "plasma-exchange",
)
RA_THERAPIES = (
    "methotrexate",
    "leflunomide",
    "sulfasalazine",
    "adalimumab",
    "etanercept",
    "infliximab",
    "tocilizumab",
    "abatacept",
    "rituximab",
    "tofacitinib",
    "baricitinib",
    "upadacitinib",
)

PROFILES = {
    "sle": DiseaseProfile(
        arm_codes=("sle", "lupus-nephritis"),
        weight=44,
        female=0.88,
        ages=(16, 52),
        courses=(
            Course("sledai-2k", "", (8, 28), (0, 4)),
            Course("anti-dsdna", "IU/mL", (60, 900), (0, 35)),
            Course("c3", "g/L", (0.3, 0.7), (0.8, 1.3), 2),
            Course("pga-sle", "", (1.4, 2.8), (0, 0.5), 1),
            Course("proteinuria", "g/24h", (0.8, 6.0), (0.05, 0.5), 2),
        ),
        responses=("doris", "lldas"),
        therapies=SLE_THERAPIES,
        secondary=("sjogren", "aps"),
    ),
    "ssc": DiseaseProfile(
        arm_codes=("ssc",),
        weight=14,
        female=0.7,
        ages=(25, 66),
        courses=(
            Course("mrss", "", (12, 36), (3, 18)),
            Course("haq-di", "", (0.8, 2.4), (0.1, 1.2), 2),
        ),
        responses=(),
        therapies=(
            "mycophenolate-mofetil",
            "cyclophosphamide",
            "rituximab",
            "nintedanib",
            "tocilizumab",
            "methotrexate",
            "glucocorticoids",
            "autologous-hsct",
        ),
    ),
    "iim": DiseaseProfile(
        arm_codes=("iim", "dermatomyositis", "antisynthetase-syndrome", "imnm", "polymyositis"),
        weight=14,
        female=0.65,
        ages=(20, 68),
        courses=(
            Course("mmt-8", "", (42, 70), (70, 80)),
            Course("creatine-kinase", "U/L", (600, 14000), (40, 260)),
            Course("tis", "", None, (40, 97.5), 1),
        ),
        responses=("tis-major",),
        therapies=IIM_THERAPIES,
    ),
    "sjogren": DiseaseProfile(
        arm_codes=("sjogren",),
        weight=5,
        female=0.9,
        ages=(28, 64),
        courses=(
            Course("essdai", "", (6, 26), (0, 5)),
            Course("esspri", "", (4, 8.5), (1, 4), 1),
        ),
        responses=(),
        therapies=(
            "hydroxychloroquine",
            "glucocorticoids",
            "rituximab",
            "methotrexate",
            "mycophenolate-mofetil",
            "belimumab",
        ),
    ),
    "ra": DiseaseProfile(
        arm_codes=("ra",),
        weight=6,
        female=0.75,
        ages=(30, 70),
        courses=(
            Course("das28", "", (4.6, 7.4), (1.3, 3.2), 2),
            Course("haq-di", "", (1.0, 2.6), (0.1, 1.0), 2),
        ),
        responses=(),
        therapies=RA_THERAPIES,
    ),
    "aav": DiseaseProfile(
        arm_codes=("aav", "gpa", "mpa"),
        weight=6,
        female=0.5,
        ages=(30, 72),
        courses=(Course("bvas", "", (6, 24), (0, 3)),),
        responses=(),
        therapies=(
            "glucocorticoids",
            "rituximab",
            "cyclophosphamide",
            "avacopan",
            "plasma-exchange",
            "azathioprine",
            "methotrexate",
        ),
    ),
    "aps": DiseaseProfile(
        arm_codes=("aps",),
        weight=2,
        female=0.75,
        ages=(25, 60),
        courses=(),
        responses=(),
        therapies=("glucocorticoids", "hydroxychloroquine", "rituximab", "ivig", "plasma-exchange"),
    ),
    "mctd": DiseaseProfile(
        arm_codes=("mctd", "uctd"),
        weight=2,
        female=0.85,
        ages=(22, 60),
        courses=(Course("haq-di", "", (0.8, 2.2), (0.1, 1.0), 2),),
        responses=(),
        therapies=(
            "hydroxychloroquine",
            "glucocorticoids",
            "methotrexate",
            "mycophenolate-mofetil",
            "rituximab",
        ),
    ),
}

KINETICS = (
    Course("car-t-peak-expansion", "cells/µL", None, (4, 420), 1),
    Course("car-t-peak-day", "days", None, (5, 15)),
    Course("b-cell-aplasia-duration", "days", None, (35, 220)),
)

# Target sets of constructs, with weights; CAAR constructs carry an autoantigen.
TARGET_SETS = (
    (("cd19",), 68),
    (("bcma",), 8),
    (("cd19", "bcma"), 11),
    (("cd20",), 4),
    (("cd19", "cd20"), 3),
    (("cd7",), 2),
    (("cd19", "cd22"), 2),
    (("baff-r",), 1),
    (("dsg3",), 1),
)
COSTIMULATION = ((("4-1bb",), 58), (("cd28",), 30), (("4-1bb", "cd28"), 10), (("icos",), 2))
PRODUCT_PREFIXES = (
    "KYX",
    "CBR",
    "MBC",
    "RCL",
    "TYU",
    "BSC",
    "NVC",
    "ZRT",
    "HLX",
    "SYC",
    "PRT",
    "ACT",
    "GCA",
    "QLX",
    "JWA",
    "ICT",
)
JOURNALS = (
    "N Engl J Med",
    "Lancet",
    "Nat Med",
    "Ann Rheum Dis",
    "Arthritis Rheumatol",
    "Rheumatology (Oxford)",
    "J Autoimmun",
    "Front Immunol",
    "Blood",
    "Cell",
    "Lancet Rheumatol",
    "RMD Open",
    "Arthritis Res Ther",
    "J Clin Invest",
    "Nat Rev Rheumatol",
    "Mol Ther",
    "Clin Immunol",
    "Kidney Int",
)
SPONSORS = (
    "Elmwood University Hospital Consortium",
    "Eastlake Cell Therapeutics",
    "Northgate University Hospital",
    "Harbour Immunotherapies",
    "Riverton Medical Centre",
    "Meridian Biologics",
    "Stonebridge Academic Hospital",
    "Coastal Gene & Cell Co.",
    "Westfield Children's Hospital",
    "Granite Peak Therapeutics",
    "Lakeside Clinical Institute",
    "Summit Cell Sciences",
)
SURNAME_PARTS = (
    (
        "Ma",
        "Li",
        "Wa",
        "Mue",
        "Schet",
        "Tau",
        "Kre",
        "Zha",
        "Ber",
        "Fer",
        "Ro",
        "Sa",
        "Ha",
        "Ka",
        "Lo",
        "Da",
        "Vo",
        "Ne",
        "Pe",
        "Gu",
        "Yu",
        "Xi",
        "Che",
        "Ri",
        "Bo",
    ),
    (
        "ck",
        "ller",
        "ng",
        "nsen",
        "rdi",
        "tti",
        "mann",
        "ng",
        "ssi",
        "ova",
        "rez",
        "ki",
        "lli",
        "chi",
        "berg",
        "ndo",
        "an",
        "ez",
        "to",
        "ra",
        "wicz",
        "n",
        "lt",
        "sh",
        "dt",
    ),
)
GIVEN_NAMES = (
    "Andreas",
    "Fabian",
    "Georg",
    "Wei",
    "Xiaobing",
    "Laura",
    "Maria",
    "Jan",
    "Sofia",
    "Chen",
    "Tobias",
    "Elena",
    "Hao",
    "Anna",
    "David",
    "Lin",
    "Marco",
    "Ines",
    "Yuki",
    "Priya",
    "Omar",
    "Clara",
    "Jonas",
    "Mei",
    "Lukas",
    "Sara",
    "Paul",
    "Rui",
    "Nora",
    "Felix",
)
COUNTRIES = (
    ("CN", 34),
    ("DE", 22),
    ("US", 16),
    ("FR", 4),
    ("IT", 4),
    ("GB", 3),
    ("ES", 3),
    ("NL", 2),
    ("JP", 2),
    ("KR", 2),
    ("AT", 2),
    ("CH", 2),
    ("DK", 1),
    ("BE", 1),
    ("IL", 1),
    ("AU", 1),
)
REGIMENS = (
    ("flu-cy-standard", 60),
    ("flu30-cy300-x3", 10),
    ("flu25-cy250", 6),
    ("flu30-cy500-x3", 6),
    ("flu-cy-unspecified", 8),
    ("cy-only", 3),
    ("ld-unspecified", 4),
    ("none", 3),
)
INFECTION_TERMS = (
    "upper respiratory tract infection",
    "pneumonia",
    "urinary tract infection",
    "herpes zoster reactivation",
    "COVID-19",
)
CYTOPENIA_TERMS = ("neutropenia", "thrombocytopenia", "anaemia", "lymphopenia")

# Titles; the patient, the series size and the trial's short name keep most distinct.
CASE_TITLES = (
    "{target} CAR T-cell therapy ({product}) in {patient} with refractory {disease}",
    "Drug-free remission after {target} CAR T cells in {patient} with {disease}",
    "Case report: {product} for refractory {disease} in {patient}",
    "{target}-directed CAR T cells for {disease} in {patient}",
)
SERIES_TITLES = (
    "{target} CAR T cells ({product}) in {n} patients with refractory {disease}",
    "{product} in refractory {disease}: a case series of {n} patients",
    "Remission of {disease} after {target} CAR T-cell therapy in {n} patients ({product})",
)
TRIAL_TITLES = (
    "{product} in refractory {disease}: {phase} study {short_name}",
    "Safety and efficacy of {product} in {disease}: results of the {short_name} {phase} trial",
)
