"""Study bundles for the curation tests: a small new paper with one SLE patient."""

import copy

DOI = "10.5555/curation.test.1"

PAYLOAD = {
    "format": "carlit-bundle/1",
    "publication": {
        "doi": DOI,
        "pmid": None,
        "title": "Anti-CD19 CAR T cells in one patient with refractory SLE",
        "journal": "Test Reports in Rheumatology",
        "year": 2024,
        "publication_type": "case_report",
        "authors": [{"family_name": "Lovelace", "given_names": "A."}],
    },
    "constructs": [
        {"name": "CURATION-CD19", "targets": ["cd19"], "costimulatory_domains": ["4-1bb"],
         "cell_source": "autologous"},
    ],
    "studies": [
        {
            "key": "case",
            "title": "Single-case treatment with CURATION-CD19",
            "design": "case",
            "arms": [
                {
                    "label": "SLE",
                    "disease": "sle",
                    "lymphodepletion": "flu-cy-standard",
                    "n_patients": 1,
                    "source": {"kind": "text", "label": "Case presentation"},
                    "products": [
                        {"construct": "CURATION-CD19", "dose_value": 1000000,
                         "dose_unit": "cells_per_kg"},
                    ],
                    "outcomes": [],
                    "adverse_events": [],
                }
            ],
        }
    ],
    "patients": [
        {
            "study": "case",
            "arm": "SLE",
            "label": "Patient 1",
            "age_years": 24,
            "sex": "female",
            "primary_disease": "sle",
            "source": {"kind": "table", "label": "Table 1"},
            "outcomes": [
                {"measure": "sledai-2k", "timepoint": "baseline", "value": 16,
                 "source": {"kind": "table", "label": "Table 2"}},
                {"measure": "sledai-2k", "timepoint": "day", "day": 90, "value": 2,
                 "source": {"kind": "table", "label": "Table 2"}},
            ],
            "adverse_events": [
                {"event_type": "crs", "grading_system": "astct", "grade": 1,
                 "source": {"kind": "text", "label": "p. 3"}},
            ],
        }
    ],
}


def new_publication_payload(**publication) -> dict:
    payload = copy.deepcopy(PAYLOAD)
    payload["publication"].update(publication)
    return payload
