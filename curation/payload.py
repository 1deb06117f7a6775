"""Between the bundle document an Extraction stores and the flat rows its workspace edits.

A bundle nests arms (with their products, outcomes and adverse events) inside studies,
and outcomes inside patients. The workspace shows one flat table per kind of row;
rows point at each other by reference strings:

- an arm names its study by the study's key;
- a product or a patient names its arm as ``"<study key> / <arm label>"``;
- an outcome or an adverse event names its subject as ``"arm: <study key> / <arm label>"``
  or ``"patient: <study key> / <arm label> / <patient label>"``.

``flatten`` turns a document into rows (each remembering its JSON path, so errors
reported by path land on the right row and field), ``assemble`` turns rows back into
a document. Keys of an entry that the workspace does not edit travel along in
``kept``; a row that others refer to remembers its reference in ``ref_was`` so that
renaming a study, arm or patient carries the rename over to the rows pointing at it.
Pure functions: no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from studies.bundles import FORMAT

SEP = " / "
SECTIONS = ("constructs", "studies", "arms", "products", "patients", "outcomes", "events")
ROW_NAMES = {
    "publication": "Publication",
    "constructs": "Construct",
    "studies": "Study",
    "arms": "Arm",
    "products": "Product",
    "patients": "Patient",
    "outcomes": "Outcome",
    "events": "Adverse event",
}

PUBLICATION_FIELDS = (
    "doi", "pmid", "pmcid", "title", "journal", "year", "volume", "issue", "pages",
    "publication_type", "abstract", "authors",
)
CONSTRUCT_FIELDS = (
    "name", "aliases", "targets", "binder_type", "binder_origin", "binder_name", "hinge",
    "transmembrane", "costimulatory_domains", "vector", "cell_source", "developer", "notes",
)
STUDY_FIELDS = (
    "key", "title", "short_name", "design", "phase", "status", "sponsor", "countries",
    "start_date", "completion_date", "registry_ids", "data_cutoff",
)
ARM_FIELDS = ("study", "label", "disease", "lymphodepletion", "n_patients", "source_kind",
              "source_label")
PRODUCT_FIELDS = ("arm", "construct", "order", "administration", "dose_value", "dose_value_max",
                  "dose_unit", "source_kind", "source_label")
PATIENT_FIELDS = (
    "arm", "label", "age_years", "sex", "primary_disease", "secondary_diseases",
    "disease_duration_months", "prior_therapies", "follow_up_days", "source_kind",
    "source_label",
)
OUTCOME_FIELDS = (
    "subject", "measure", "timepoint", "day", "value", "unit", "value_bool", "n_evaluable",
    "n_events", "median", "minimum", "maximum", "iqr_low", "iqr_high", "mean", "sd",
    "source_kind", "source_label",
)
EVENT_FIELDS = (
    "subject", "event_type", "term", "grading_system", "grade", "onset_day", "duration_days",
    "n_affected", "n_evaluable", "source_kind", "source_label",
)
FIELDS = {
    "publication": PUBLICATION_FIELDS,
    "constructs": CONSTRUCT_FIELDS,
    "studies": STUDY_FIELDS,
    "arms": ARM_FIELDS,
    "products": PRODUCT_FIELDS,
    "patients": PATIENT_FIELDS,
    "outcomes": OUTCOME_FIELDS,
    "events": EVENT_FIELDS,
}
# Fields the bundle format requires: left out of the document while empty, so that
# submitting says "This field is required." at the right place.
REQUIRED = {
    "publication": {"year", "publication_type"},
    "constructs": {"name", "targets"},
    "studies": {"key", "title", "design"},
    "arms": {"label", "disease"},
    "products": {"construct", "order", "administration"},
    "patients": {"label", "primary_disease"},
    "outcomes": {"measure", "timepoint"},
    "events": {"event_type"},
}
# Where the bundle keeps a row's own entries of other kinds (not edited by its form).
NESTED = {
    "studies": ("arms",),
    "arms": ("products", "outcomes", "adverse_events"),
    "patients": ("outcomes", "adverse_events"),
}
LIST_FIELDS = {"aliases", "targets", "costimulatory_domains", "countries", "secondary_diseases",
               "prior_therapies", "registry_ids", "authors"}


# References ---------------------------------------------------------------------------------


def arm_ref(study_key: str, label: str) -> str:
    return f"{study_key}{SEP}{label}"


def patient_ref(study_key: str, arm_label: str, label: str) -> str:
    return SEP.join((study_key, arm_label, label))


def subject_ref(kind: str, *parts: str) -> str:
    return f"{kind}: {SEP.join(parts)}"


def parse_parts(text: str, count: int) -> tuple[str, ...] | None:
    parts = [part.strip() for part in (text or "").split(SEP.strip())]
    if len(parts) != count or not all(parts):
        return None
    return tuple(parts)


def parse_subject(text: str) -> tuple[str, tuple[str, ...]] | None:
    match = re.match(r"^\s*(arm|patient)\s*:\s*(.+)$", text or "")
    if not match:
        return None
    kind = match.group(1)
    parts = parse_parts(match.group(2), 2 if kind == "arm" else 3)
    return (kind, parts) if parts else None


# Document -> rows ---------------------------------------------------------------------------


def _entries(value) -> list[dict]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _source_fields(entry: dict) -> tuple[dict, dict]:
    """(form values, kept part) of an entry's source."""
    source = entry.get("source")
    if not isinstance(source, dict):
        return {"source_kind": "", "source_label": ""}, {}
    kept = {k: v for k, v in source.items() if k not in ("kind", "label")}
    values = {"source_kind": source.get("kind") or "", "source_label": source.get("label") or ""}
    return values, kept


def _row(section: str, entry: dict, path: str, **values) -> dict:
    """A flat row: the form's values, what the form does not edit, and the path."""
    names = FIELDS[section]
    row = {name: entry.get(name) for name in names if name in entry}
    row.update(values)
    handled = set(names) | set(NESTED.get(section, ())) | {"source", "study", "arm"} | set(values)
    kept = {key: value for key, value in entry.items() if key not in handled}
    if section not in ("arms", "products", "patients", "outcomes", "events"):
        kept.pop("source", None)
    source_values, source_kept = _source_fields(entry)
    if "source_kind" in names:
        row.update(source_values)
        if source_kept:
            kept["source"] = source_kept
    row["kept"] = kept
    row["path"] = path
    for name in names:
        row.setdefault(name, [] if name in LIST_FIELDS else None)
    return row


def flatten(document: dict) -> dict[str, list[dict] | dict]:
    """Rows per section (and the publication's values) of a bundle document."""
    document = document if isinstance(document, dict) else {}
    publication = document.get("publication")
    publication = publication if isinstance(publication, dict) else {}
    rows: dict = {section: [] for section in SECTIONS}
    rows["publication"] = _row("publication", publication, "publication")

    for index, entry in enumerate(_entries(document.get("constructs"))):
        rows["constructs"].append(_row("constructs", entry, f"constructs[{index}]"))

    for s_index, study in enumerate(_entries(document.get("studies"))):
        s_path = f"studies[{s_index}]"
        key = study.get("key") or ""
        rows["studies"].append(_row("studies", study, s_path, ref_was=key))
        for a_index, arm in enumerate(_entries(study.get("arms"))):
            a_path = f"{s_path}.arms[{a_index}]"
            label = arm.get("label") or ""
            ref = arm_ref(key, label)
            rows["arms"].append(_row("arms", arm, a_path, study=key, ref_was=ref))
            for p_index, product in enumerate(_entries(arm.get("products"))):
                construct = product.get("construct")
                if isinstance(construct, dict) and "id" in construct:
                    construct = f"id:{construct['id']}"
                rows["products"].append(_row(
                    "products", product, f"{a_path}.products[{p_index}]", arm=ref,
                    construct=construct,
                ))
            _results(rows, arm, a_path, subject_ref("arm", key, label))

    for index, patient in enumerate(_entries(document.get("patients"))):
        path = f"patients[{index}]"
        study, arm = patient.get("study") or "", patient.get("arm") or ""
        label = patient.get("label") or ""
        rows["patients"].append(_row(
            "patients", patient, path, arm=arm_ref(study, arm),
            ref_was=patient_ref(study, arm, label),
        ))
        _results(rows, patient, path, subject_ref("patient", study, arm, label))
    return rows


def _results(rows: dict, entry: dict, path: str, subject: str) -> None:
    for index, outcome in enumerate(_entries(entry.get("outcomes"))):
        rows["outcomes"].append(
            _row("outcomes", outcome, f"{path}.outcomes[{index}]", subject=subject)
        )
    for index, event in enumerate(_entries(entry.get("adverse_events"))):
        rows["events"].append(
            _row("events", event, f"{path}.adverse_events[{index}]", subject=subject)
        )


# Rows -> document ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    section: str
    index: int  # the row's position in its section (0-based); -1 for the publication
    field: str | None
    message: str


def _json_value(value):
    """Form values as JSON: Decimals become numbers, dates ISO strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    return value


def _is_empty(value) -> bool:
    return value is None or value == "" or value == []


def _entry(section: str, row: dict, skip=()) -> dict:
    """A bundle entry from a row: required fields only when given, others always."""
    entry = dict(row.get("kept") or {})
    source_kept = entry.pop("source", None) if "source_kind" in FIELDS[section] else None
    for name in FIELDS[section]:
        if name in skip or name in ("source_kind", "source_label"):
            continue
        value = _json_value(row.get(name))
        if _is_empty(value) and name in REQUIRED[section]:
            entry.pop(name, None)
            continue
        if value is None and name in LIST_FIELDS:
            value = []
        entry[name] = value
    if "source_kind" in FIELDS[section]:
        source = dict(source_kept or {})
        if row.get("source_kind"):
            source["kind"] = row["source_kind"]
        if row.get("source_label"):
            source["label"] = row["source_label"]
        if row.get("source_kind") or row.get("source_label"):
            entry["source"] = source
        elif source_kept:
            entry["source"] = source_kept
    return entry


class _Renames:
    """Reference renames made in this save, applied to the rows that point at them."""

    def __init__(self, rows: dict):
        self.studies: dict[str, str] = {}
        self.arms: dict[tuple, tuple] = {}
        self.patients: dict[tuple, tuple] = {}
        for row in rows["studies"]:
            old, new = (row.get("ref_was") or "").strip(), (row.get("key") or "").strip()
            if old and new and old != new:
                self.studies[old] = new
        for row in rows["arms"]:
            old = parse_parts(row.get("ref_was") or "", 2)
            new = (self.study(row.get("study") or ""), (row.get("label") or "").strip())
            if old and all(new) and old != new:
                self.arms[old] = new
        for row in rows["patients"]:
            old = parse_parts(row.get("ref_was") or "", 3)
            arm = parse_parts(row.get("arm") or "", 2)
            label = (row.get("label") or "").strip()
            if old and arm and label:
                new = (*self.arm(arm), label)
                if old != new:
                    self.patients[old] = new

    def study(self, key: str) -> str:
        key = key.strip()
        return self.studies.get(key, key)

    def arm(self, parts: tuple) -> tuple:
        if parts in self.arms:
            return self.arms[parts]
        return (self.study(parts[0]), parts[1])

    def patient(self, parts: tuple) -> tuple:
        if parts in self.patients:
            return self.patients[parts]
        return (*self.arm(parts[:2]), parts[2])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:40] or "study"


def assemble(rows: dict) -> tuple[dict, list[RowError]]:
    """The bundle document for the rows, and the rows that could not be placed.

    Only problems that make a row impossible to place are reported here (a reference
    to a missing arm, two arms with one label); everything else waits for submission.
    """
    errors: list[RowError] = []
    renames = _Renames(rows)

    publication = _entry("publication", rows["publication"])
    document = {
        "format": FORMAT,
        "publication": publication,
        "constructs": [_entry("constructs", row) for row in rows["constructs"]],
        "studies": [],
        "patients": [],
    }

    studies: dict[str, dict] = {}
    used_keys = {(row.get("key") or "").strip() for row in rows["studies"]}
    for index, row in enumerate(rows["studies"]):
        key = (row.get("key") or "").strip()
        if not key:  # keys are this form's handles, not data: make one up
            base = _slug(row.get("short_name") or row.get("title") or "")
            key, number = base, 2
            while key in used_keys or key in studies:
                key, number = f"{base}-{number}", number + 1
        if key in studies:
            errors.append(RowError("studies", index, "key", f"Two studies have the key '{key}'."))
            continue
        entry = _entry("studies", {**row, "key": key})
        entry["arms"] = []
        studies[key] = entry
        document["studies"].append(entry)

    arms: dict[tuple, dict] = {}
    for index, row in enumerate(rows["arms"]):
        label = (row.get("label") or "").strip()
        study_key = renames.study(row.get("study") or "")
        if not label:
            errors.append(RowError("arms", index, "label", "Give the arm's label (as in the "
                                   "paper): other rows refer to the arm by it."))
            continue
        if SEP.strip() in label:
            errors.append(RowError("arms", index, "label", "A label cannot contain '/'."))
            continue
        study = studies.get(study_key)
        if study is None:
            errors.append(RowError("arms", index, "study", _missing_study(study_key, studies)))
            continue
        if (study_key, label) in arms:
            errors.append(RowError("arms", index, "label",
                                   f"The study '{study_key}' already has an arm '{label}'."))
            continue
        entry = _entry("arms", {**row, "label": label}, skip=("study",))
        entry.update(products=[], outcomes=[], adverse_events=[])
        arms[(study_key, label)] = entry
        study["arms"].append(entry)

    for index, row in enumerate(rows["products"]):
        arm = _find_arm(row.get("arm"), renames, arms)
        if isinstance(arm, str):
            errors.append(RowError("products", index, "arm", arm))
            continue
        product = _entry("products", row, skip=("arm",))
        construct = product.get("construct")
        if isinstance(construct, str) and construct.startswith("id:") and construct[3:].isdigit():
            product["construct"] = {"id": int(construct[3:])}
        arm["products"].append(product)

    patients: dict[tuple, dict] = {}
    for index, row in enumerate(rows["patients"]):
        label = (row.get("label") or "").strip()
        if not label:
            errors.append(RowError("patients", index, "label", "Give the patient's label (as "
                                   "in the paper, e.g. 'Patient 3'): results refer to it."))
            continue
        if SEP.strip() in label:
            errors.append(RowError("patients", index, "label", "A label cannot contain '/'."))
            continue
        parts = parse_parts(row.get("arm") or "", 2)
        if parts is None:
            errors.append(RowError("patients", index, "arm", "Choose the arm as "
                                   "'<study key> / <arm label>'."))
            continue
        study_key, arm_label = renames.arm(parts)
        if (study_key, arm_label) not in arms:
            errors.append(RowError("patients", index, "arm", f"No arm '{arm_label}' in "
                                   f"study '{study_key}' in this extraction."))
            continue
        if (study_key, arm_label, label) in patients:
            errors.append(RowError("patients", index, "label",
                                   f"The arm already has a patient '{label}'."))
            continue
        entry = {"study": study_key, "arm": arm_label,
                 **_entry("patients", {**row, "label": label}, skip=("arm",))}
        entry.update(outcomes=[], adverse_events=[])
        patients[(study_key, arm_label, label)] = entry
        document["patients"].append(entry)

    for section, bundle_list in (("outcomes", "outcomes"), ("events", "adverse_events")):
        for index, row in enumerate(rows[section]):
            subject = _find_subject(row.get("subject"), renames, arms, patients)
            if isinstance(subject, str):
                errors.append(RowError(section, index, "subject", subject))
                continue
            subject[bundle_list].append(_entry(section, row, skip=("subject",)))
    return document, errors


def _missing_study(key: str, studies: dict) -> str:
    if not key:
        return "Choose the study (by its key)."
    known = ", ".join(f"'{k}'" for k in studies) or "none yet"
    return f"No study with key '{key}' in this extraction (keys: {known})."


def _find_arm(text, renames: _Renames, arms: dict):
    parts = parse_parts(text or "", 2)
    if parts is None:
        return "Choose the arm as '<study key> / <arm label>'."
    parts = renames.arm(parts)
    arm = arms.get(parts)
    if arm is None:
        return f"No arm '{parts[1]}' in study '{parts[0]}' in this extraction."
    return arm


def _find_subject(text, renames: _Renames, arms: dict, patients: dict):
    parsed = parse_subject(text or "")
    if parsed is None:
        return ("Choose the subject: 'arm: <study key> / <arm label>' or "
                "'patient: <study key> / <arm label> / <patient label>'.")
    kind, parts = parsed
    if kind == "arm":
        parts = renames.arm(parts)
        found = arms.get(parts)
        what = f"arm '{parts[1]}' in study '{parts[0]}'"
    else:
        parts = renames.patient(parts)
        found = patients.get(parts)
        what = f"patient '{parts[2]}' in arm '{parts[1]}' of study '{parts[0]}'"
    return found if found is not None else f"No {what} in this extraction."


# Problems reported by JSON path -> rows and fields ------------------------------------------

# Bundle keys that a form shows under another name.
_FIELD_FOR_KEY = {
    "patients": {"study": "arm", "arm": "arm"},
}


def locate(rows: dict, path: str) -> tuple[str, int, str | None]:
    """(section, row index, form field or None) of a JSON path in the document the rows
    were flattened from; ("", -1, None) if it belongs to no row."""
    best = None
    candidates = [("publication", -1, rows["publication"]["path"])]
    for section in SECTIONS:
        candidates += [(section, index, row["path"]) for index, row in enumerate(rows[section])]
    for section, index, row_path in candidates:
        if path == row_path or path.startswith(row_path + ".") or path.startswith(row_path + "["):
            if best is None or len(row_path) > len(best[2]):
                best = (section, index, row_path)
    if best is None:
        return "", -1, None
    section, index, row_path = best
    rest = path[len(row_path):].lstrip(".")
    token = re.split(r"[.\[]", rest, maxsplit=1)[0] if rest else ""
    if token == "source":
        after = rest[len("source"):].lstrip(".")
        field = "source_label" if after.startswith("label") else (
            "source_kind" if after.startswith("kind") else None)
        if field is None and not after:
            field = "source_label"
        return section, index, field
    token = _FIELD_FOR_KEY.get(section, {}).get(token, token)
    return section, index, token if token in FIELDS[section] else None


def row_title(section: str, index: int, row: dict | None = None) -> str:
    """'Outcome 3' (1-based, as the workspace numbers its rows), with a hint of content."""
    if section == "publication":
        return "Publication"
    name = f"{ROW_NAMES[section]} {index + 1}"
    row = row or {}
    hint = {
        "studies": row.get("short_name") or row.get("key") or row.get("title"),
        "arms": row.get("label"),
        "patients": row.get("label"),
        "constructs": row.get("name"),
        "outcomes": row.get("measure"),
        "events": row.get("event_type"),
        "products": row.get("construct"),
    }.get(section)
    return f"{name} ({hint})" if hint else name
