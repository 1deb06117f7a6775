"""Matching a registry's country and condition names to carlit's vocabularies.

Pure functions over the vocabulary rows the service loads once per import. Names are
compared without case, accents, apostrophes and punctuation, and MeSH-style inverted
names ("Lupus Erythematosus, Systemic") are turned around first.
"""

from __future__ import annotations

import re
import unicodedata

# How ClinicalTrials.gov (and others) spell countries whose carlit name differs.
COUNTRY_ALIASES = {
    "korea republic of": "KR",
    "republic of korea": "KR",
    "korea south": "KR",
    "turkey": "TR",
    "turkiye": "TR",
    "czech republic": "CZ",
    "uk": "GB",
    "great britain": "GB",
    "usa": "US",
    "united states of america": "US",
    "hong kong sar": "HK",
    "taiwan province of china": "TW",
    "the netherlands": "NL",
}

# Condition names registries use for carlit's diseases, by disease code. A code that
# is not in the database is ignored, so the list may name more than is seeded.
DISEASE_SYNONYMS = {
    "sle": ["lupus", "systemic lupus", "lupus erythematosus systemic", "sle"],
    "lupus-nephritis": ["lupus nephritis", "lupus glomerulonephritis", "ln"],
    "ssc": ["scleroderma", "systemic scleroderma", "diffuse cutaneous systemic sclerosis",
            "scleroderma systemic", "diffuse scleroderma"],
    "iim": ["myositis", "inflammatory myopathy", "idiopathic inflammatory myopathies",
            "inflammatory myositis", "refractory myositis"],
    "dermatomyositis": ["dermatomyositis"],
    "polymyositis": ["polymyositis"],
    "imnm": ["immune mediated necrotizing myopathy", "necrotizing myopathy",
             "necrotising myopathy", "necrotizing autoimmune myopathy"],
    "antisynthetase-syndrome": ["antisynthetase syndrome", "anti synthetase syndrome"],
    "sjogren": ["sjogren syndrome", "sjogrens syndrome", "primary sjogren syndrome",
                "primary sjogrens syndrome", "sjogren disease", "sjogrens disease"],
    "ra": ["rheumatoid arthritis", "arthritis rheumatoid"],
    "aav": ["anca associated vasculitis", "anca vasculitis",
            "antineutrophil cytoplasmic antibody associated vasculitis",
            "anti neutrophil cytoplasmic antibody associated vasculitis"],
    "gpa": ["granulomatosis with polyangiitis", "wegener granulomatosis"],
    "mpa": ["microscopic polyangiitis"],
    "egpa": ["eosinophilic granulomatosis with polyangiitis", "churg strauss syndrome"],
    "aps": ["antiphospholipid syndrome", "antiphospholipid antibody syndrome"],
    "mctd": ["mixed connective tissue disease"],
    "uctd": ["undifferentiated connective tissue disease"],
}


def name_key(name: str) -> str:
    """'Sjögren's Syndrome' -> 'sjogrens syndrome'; 'Lupus Erythematosus, Systemic' ->
    'systemic lupus erythematosus'."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in text if not unicodedata.combining(char)).lower()
    text = text.replace("'", "").replace("’", "")
    head, comma, tail = text.partition(",")
    if comma and tail.strip() and "," not in tail:
        text = f"{tail} {head}"
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def country_index(countries: list[tuple[str, str]]) -> dict[str, str]:
    """Name key -> ISO code, from (code, name) rows plus the registries' spellings."""
    codes = {code for code, _ in countries}
    index = {name_key(alias): code for alias, code in COUNTRY_ALIASES.items() if code in codes}
    for code, name in countries:
        index[name_key(name)] = code
        index[code.lower()] = code
    return index


def disease_index(diseases: list[tuple[str, str, str]]) -> dict[str, str]:
    """Name key -> disease code, from (code, name, abbreviation) rows and synonyms."""
    index: dict[str, str] = {}
    for code, _name, _abbreviation in diseases:
        for synonym in DISEASE_SYNONYMS.get(code, ()):
            index.setdefault(name_key(synonym), code)
    for code, name, abbreviation in diseases:
        index[name_key(name)] = code
        if abbreviation:
            index[name_key(abbreviation)] = code
    return index


def match_diseases(conditions: list[str], index: dict[str, str]) -> list[str]:
    """Codes of the diseases the conditions name (each once, in condition order);
    conditions that match nothing stay as text only."""
    codes: list[str] = []
    for condition in conditions:
        key = name_key(condition)
        code = index.get(key) or index.get(re.sub(r"^(refractory|active|severe) ", "", key))
        if code and code not in codes:
            codes.append(code)
    return codes
