"""Lining up two independent extractions of one publication, and merging them.

Dual extraction: two curators extract the same paper without seeing each other's
values; a reviewer then compares them field by field. Rows are aligned by what they
are in the paper, never by their position in a list:

- a study by carlit id (edits seeded from the public version), else key, else title;
- an arm by study and label; a patient by study, arm and label;
- a product by arm and construct; a construct by name;
- an outcome by subject, measure, time point and day;
- an adverse event by subject, type and term;

and where that still names several rows on one side, by the next distinguishing
fields (a product's order; an event's grade and grading system), then by the source
location, and only as a last resort by occurrence.

``align`` compares every field that has a value on either side; ``merge`` builds the
bundle document from the fields that agree plus the reviewer's choice (A, B, or a
typed value) for each disputed one. Pure functions: no database.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from studies.identifiers import normalize_doi

from .payload import (
    FIELDS,
    LIST_FIELDS,
    SECTIONS,
    arm_ref,
    assemble,
    flatten,
    locate,
    parse_parts,
    parse_subject,
    patient_ref,
    subject_ref,
)

A, B, CUSTOM = "a", "b", "custom"
AGREE, DIFFER, ONLY_A, ONLY_B, EMPTY = "agree", "differ", "only_a", "only_b", "empty"
ORDER = ("publication", *SECTIONS)
KEPT = "kept:"  # prefix of fields the workspace does not edit (kept in a row's "kept")
# Carried through assemble() on every merged entry to find the record an error is about.
MARK = "__reconciliation_record"
# Lists whose order carries no meaning (authors' order does).
UNORDERED = LIST_FIELDS - {"authors"}
SECTION_NAMES = {
    "publication": "Publication", "constructs": "Construct", "studies": "Study",
    "arms": "Arm", "products": "Product", "patients": "Patient", "outcomes": "Outcome",
    "events": "Adverse event",
}
LABELS = {
    "doi": "DOI", "pmid": "PMID", "pmcid": "PMCID", "n_patients": "Patients (n)",
    "n_evaluable": "Evaluable (n)", "n_events": "Events (n)", "n_affected": "Affected (n)",
    "value_bool": "Yes/no", "sd": "SD", "iqr_low": "IQR low", "iqr_high": "IQR high",
    "source_kind": "Source kind", "source_label": "Source location", "age_years": "Age (years)",
    "follow_up_days": "Follow-up (days)", "onset_day": "Onset (day)",
    "duration_days": "Duration (days)", "disease_duration_months": "Disease duration (months)",
    "registry_ids": "Registry ids", "dose_value": "Dose", "dose_value_max": "Dose (max)",
}


# Values --------------------------------------------------------------------------------------


def comparable(value, name: str = ""):
    """A value in a form where 2 and 2.0, "a " and "a", [] and None are the same."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, str):
        text = " ".join(value.split())
        if name == "doi":
            return normalize_doi(text) or text
        return text or None
    if isinstance(value, (list, tuple)):
        items = [comparable(item) for item in value]
        items = [json.dumps(item, sort_keys=True) for item in items if item is not None]
        if not items:
            return None
        return tuple(sorted(items)) if name in UNORDERED else tuple(items)
    if isinstance(value, dict):
        items = {key: comparable(item, key) for key, item in value.items() if key != MARK}
        items = {key: item for key, item in items.items() if item is not None}
        return json.dumps(items, sort_keys=True) if items else None
    return str(value)


def display(value) -> str:
    """A value as the reconciliation page shows it ("" for not reported)."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict) and "family_name" in item:
                parts.append(", ".join(
                    p for p in (item.get("family_name"), item.get("given_names")) if p))
            elif isinstance(item, dict) and "identifier" in item:
                parts.append(str(item["identifier"]))
            else:
                parts.append(display(item) if not isinstance(item, dict)
                             else json.dumps(item, ensure_ascii=False, sort_keys=True))
        return "; ".join(parts)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def parse_typed(text: str, *examples):
    """The reviewer's typed value, read as the kind of value the two sides hold.
    Raises ValueError with a message for the field."""
    text = (text or "").strip()
    if not text:
        return None
    sample = next((v for v in examples if comparable(v) is not None), "")
    if isinstance(sample, bool):
        answer = text.casefold()
        if answer in ("yes", "true", "y"):
            return True
        if answer in ("no", "false", "n"):
            return False
        raise ValueError("Type yes or no.")
    if isinstance(sample, (int, float)):
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a number.") from None
        if not math.isfinite(number):
            raise ValueError(f"'{text}' is not a number.")
        return number
    structured = isinstance(sample, dict) or (
        isinstance(sample, list) and any(isinstance(item, dict) for item in sample)
    )
    if structured:
        try:
            loaded = json.loads(text)
        except ValueError:
            raise ValueError("Type it as JSON, in the form shown for A and B.") from None
        if type(loaded) is not type(sample):
            raise ValueError("Type it as JSON, in the form shown for A and B.")
        return loaded
    if isinstance(sample, list):
        return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    return text


def _norm(text) -> str:
    return " ".join(str(text if text is not None else "").split()).casefold()


# Alignment ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldComparison:
    id: str  # "<record id>.<field name>": the name of its decision in the form
    name: str
    a: object
    b: object
    state: str

    @property
    def label(self) -> str:
        name = self.name.removeprefix(KEPT)
        return LABELS.get(name, name.replace("_", " ").capitalize())

    @property
    def a_display(self) -> str:
        return display(self.a)

    @property
    def b_display(self) -> str:
        return display(self.b)

    @property
    def disputed(self) -> bool:
        return self.state in (DIFFER, ONLY_A, ONLY_B)


@dataclass
class AlignedRecord:
    """One row of the paper (a study, an arm, an outcome...) as each side has it."""

    id: str
    section: str
    title: str
    a_row: dict | None
    b_row: dict | None
    fields: list[FieldComparison]
    # The entries as the payloads hold them: which keys each gave, even empty.
    a_entry: dict | None = None
    b_entry: dict | None = None

    @property
    def state(self) -> str:
        if self.a_row is not None and self.b_row is not None:
            return "both"
        return ONLY_A if self.a_row is not None else ONLY_B

    @property
    def one_sided(self) -> bool:
        return self.state != "both"

    @property
    def shown_fields(self) -> list[FieldComparison]:
        return [f for f in self.fields if f.state != EMPTY]

    @property
    def disputes(self) -> list[FieldComparison]:
        return [] if self.one_sided else [f for f in self.fields if f.disputed]

    @property
    def disputed(self) -> bool:
        return self.one_sided or bool(self.disputes)

    @property
    def kind(self) -> str:
        return SECTION_NAMES[self.section]


@dataclass
class Alignment:
    records: list[AlignedRecord]

    @property
    def compared(self) -> int:
        return sum(1 for r in self.records for f in r.fields if f.state != EMPTY)

    @property
    def agreeing(self) -> int:
        return sum(1 for r in self.records for f in r.fields if f.state == AGREE)

    @property
    def agreement_percent(self) -> Decimal:
        """Agreeing over compared fields, as a percentage with one decimal."""
        if not self.compared:
            return Decimal("100.0")
        rate = Decimal(self.agreeing * 100) / Decimal(self.compared)
        return rate.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def decision_ids(self) -> list[str]:
        """What the reviewer must decide: each disputed field of a row both sides
        have, and whether to keep each row only one side has."""
        ids = []
        for record in self.records:
            if record.one_sided:
                ids.append(record.id)
            else:
                ids.extend(f.id for f in record.disputes)
        return ids

    @property
    def field_ids(self) -> set[str]:
        return {f.id for r in self.records for f in r.fields}

    def record(self, record_id: str) -> AlignedRecord | None:
        return next((r for r in self.records if r.id == record_id), None)


def align(payload_a: dict, payload_b: dict) -> Alignment:
    """The two payloads' rows, paired by natural keys, with every field compared."""
    rows_a = flatten(copy.deepcopy(payload_a))
    rows_b = _onto(flatten(copy.deepcopy(payload_b)), rows_a)
    records = []
    for section in ORDER:
        if section == "publication":
            pairs = [((), rows_a["publication"], rows_b["publication"])]
        else:
            pairs = _pairs(section, rows_a[section], rows_b[section])
        for key, a_row, b_row in pairs:
            record_id = "r" + hashlib.sha1(
                json.dumps([section, key], default=str).encode()).hexdigest()[:10]
            records.append(AlignedRecord(
                id=record_id, section=section, title=_title(section, a_row or b_row),
                a_row=a_row, b_row=b_row, fields=_compare(record_id, section, a_row, b_row),
                a_entry=_at(payload_a, a_row["path"]) if a_row else None,
                b_entry=_at(payload_b, b_row["path"]) if b_row else None,
            ))
    return Alignment(records)


def _at(document, path: str) -> dict | None:
    """The entry at a path such as 'studies[0].arms[1]'."""
    value = document
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            return None
    return value if isinstance(value, dict) else None


def _fields(section: str, *rows) -> list[str]:
    names = [n for n in FIELDS[section] if not (section == "studies" and n == "key")]
    kept = sorted({k for row in rows if row for k in (row.get("kept") or {}) if k != MARK})
    return names + [KEPT + k for k in kept]


def _get(row: dict | None, name: str):
    if row is None:
        return None
    if name.startswith(KEPT):
        return (row.get("kept") or {}).get(name.removeprefix(KEPT))
    return row.get(name)


def _compare(record_id, section, a_row, b_row) -> list[FieldComparison]:
    comparisons = []
    for name in _fields(section, a_row, b_row):
        a, b = _get(a_row, name), _get(b_row, name)
        left, right = comparable(a, name), comparable(b, name)
        if left is None and right is None:
            state = EMPTY
        elif left is None:
            state = ONLY_B
        elif right is None:
            state = ONLY_A
        else:
            state = AGREE if left == right else DIFFER
        comparisons.append(FieldComparison(f"{record_id}.{name}", name, a, b, state))
    return comparisons


def _title(section: str, row: dict) -> str:
    kind = SECTION_NAMES[section]
    if section == "publication":
        return kind
    if section == "constructs":
        return f"{kind} {row.get('name') or ''}"
    if section == "studies":
        return f"{kind} {row.get('title') or row.get('key') or ''}"
    if section == "arms":
        return f"{kind} {arm_ref(row.get('study') or '', row.get('label') or '')}"
    if section == "products":
        return f"{kind} {row.get('construct') or ''} in {row.get('arm') or ''}"
    if section == "patients":
        return f"{kind} {row.get('arm') or ''} / {row.get('label') or ''}"
    if section == "outcomes":
        day = f" {row['day']}" if row.get("day") is not None else ""
        return (f"{kind} {row.get('subject') or ''} · {row.get('measure') or ''} · "
                f"{row.get('timepoint') or ''}{day}")
    term = f" · {row['term']}" if row.get("term") else ""
    grade = f" · grade {row['grade']}" if row.get("grade") is not None else ""
    return f"{kind} {row.get('subject') or ''} · {row.get('event_type') or ''}{term}{grade}"


# Natural keys ---------------------------------------------------------------------------------


def _ref(text, count: int) -> tuple:
    parts = parse_parts(text or "", count)
    return tuple(map(_norm, parts)) if parts else (_norm(text),)


def _subject(text) -> tuple:
    parsed = parse_subject(text or "")
    return (parsed[0], *map(_norm, parsed[1])) if parsed else (_norm(text),)


KEYS = {
    "constructs": lambda row: (_norm(row.get("name")),),
    "studies": lambda row: (_norm(row.get("key")),),
    "arms": lambda row: (_norm(row.get("study")), _norm(row.get("label"))),
    "products": lambda row: (*_ref(row.get("arm"), 2), _norm(row.get("construct"))),
    "patients": lambda row: (*_ref(row.get("arm"), 2), _norm(row.get("label"))),
    "outcomes": lambda row: (*_subject(row.get("subject")), _norm(row.get("measure")),
                             _norm(row.get("timepoint")), comparable(row.get("day"))),
    "events": lambda row: (*_subject(row.get("subject")), _norm(row.get("event_type")),
                           _norm(row.get("term"))),
}
# Further fields that tell rows apart when the key names several on one side.
TIE_BREAKERS = {
    "products": ("order", "dose_value"),
    "events": ("grading_system", "grade"),
    "outcomes": ("unit",),
}
SOURCE = ("source_kind", "source_label")


def _duplicated(keys: list) -> set:
    return {key for key, count in Counter(keys).items() if count > 1}


def _natural_keys(section: str, rows_a: list, rows_b: list) -> tuple[list, list]:
    keys_a = [KEYS[section](row) for row in rows_a]
    keys_b = [KEYS[section](row) for row in rows_b]
    for extra in (TIE_BREAKERS.get(section, ()), SOURCE):
        ambiguous = _duplicated(keys_a) | _duplicated(keys_b)
        if not ambiguous or not extra:
            continue
        keys_a = [k + tuple(comparable(r.get(n), n) for n in extra) if k in ambiguous else k
                  for k, r in zip(keys_a, rows_a, strict=True)]
        keys_b = [k + tuple(comparable(r.get(n), n) for n in extra) if k in ambiguous else k
                  for k, r in zip(keys_b, rows_b, strict=True)]
    ambiguous = _duplicated(keys_a) | _duplicated(keys_b)
    return _numbered(keys_a, ambiguous), _numbered(keys_b, ambiguous)


def _numbered(keys: list, ambiguous: set) -> list:
    seen: Counter = Counter()
    numbered = []
    for key in keys:
        if key in ambiguous:
            seen[key] += 1
            key = (*key, f"#{seen[key]}")
        numbered.append(key)
    return numbered


def _pairs(section: str, rows_a: list, rows_b: list) -> list[tuple]:
    """(key, A's row or None, B's row or None): A's order, then rows only B has."""
    keys_a, keys_b = _natural_keys(section, rows_a, rows_b)
    by_key_b = dict(zip(keys_b, rows_b, strict=True))
    pairs = [(key, row, by_key_b.get(key)) for key, row in zip(keys_a, rows_a, strict=True)]
    known = set(keys_a)
    pairs += [(key, None, row) for key, row in zip(keys_b, rows_b, strict=True)
              if key not in known]
    return pairs


# B's references, onto A's ---------------------------------------------------------------------


def _study_matches(studies_a: list, studies_b: list) -> dict[str, str]:
    """B's study key -> A's key for the same study (by id, then key, then title); a
    study only B has keeps its key, unless A uses that key for another study."""
    def by_id(row):
        return (row.get("kept") or {}).get("id")

    def by_key(row):
        return _norm(row.get("key")) or None

    def by_title(row):
        return _norm(row.get("title")) or None

    mapping: dict[str, str] = {}
    free = list(studies_a)
    for how in (by_id, by_key, by_title):
        for row in studies_b:
            key = (row.get("key") or "").strip()
            value = how(row)
            if key in mapping or value is None:
                continue
            match = next((a for a in free if how(a) == value), None)
            if match is not None:
                mapping[key] = (match.get("key") or "").strip()
                free.remove(match)
    taken = {(row.get("key") or "").strip() for row in studies_a} | set(mapping.values())
    for row in studies_b:
        key = (row.get("key") or "").strip()
        if key in mapping:
            continue
        new, number = key, 2
        while new in taken:
            new, number = f"{key}-{number}", number + 1
        mapping[key] = new
        taken.add(new)
    return mapping


def _onto(rows_b: dict, rows_a: dict) -> dict:
    """B's rows with their references written as A writes them, so that an arm, patient
    or subject both sides have is referred to by the same text."""
    studies = _study_matches(rows_a["studies"], rows_b["studies"])
    arms = {}
    for row in rows_a["arms"]:
        study, label = (row.get("study") or "").strip(), (row.get("label") or "").strip()
        arms[(_norm(study), _norm(label))] = (study, label)
    patients = {}
    for row in rows_a["patients"]:
        parts = parse_parts(row.get("arm") or "", 2)
        if parts:
            label = (row.get("label") or "").strip()
            patients[(*map(_norm, parts), _norm(label))] = (*parts, label)

    def study(key) -> str:
        key = (key or "").strip()
        return studies.get(key, key)

    def arm(parts: tuple) -> tuple:
        moved = (study(parts[0]), parts[1])
        return arms.get(tuple(map(_norm, moved)), moved)

    def patient(parts: tuple) -> tuple:
        moved = (*arm(parts[:2]), parts[2])
        return patients.get(tuple(map(_norm, moved)), moved)

    for row in rows_b["studies"]:
        row["key"] = row["ref_was"] = study(row.get("key"))
    for row in rows_b["arms"]:
        row["study"] = study(row.get("study"))
        row["ref_was"] = arm_ref(row["study"], (row.get("label") or "").strip())
    for section in ("products", "patients"):
        for row in rows_b[section]:
            parts = parse_parts(row.get("arm") or "", 2)
            if parts:
                row["arm"] = arm_ref(*arm(parts))
    for row in rows_b["patients"]:
        parts = parse_parts(row.get("arm") or "", 2)
        if parts:
            row["ref_was"] = patient_ref(*parts, (row.get("label") or "").strip())
    for section in ("outcomes", "events"):
        for row in rows_b[section]:
            parsed = parse_subject(row.get("subject") or "")
            if parsed:
                kind, parts = parsed
                row["subject"] = subject_ref(kind, *(arm(parts) if kind == "arm"
                                                     else patient(parts)))
    return rows_b


# Merging --------------------------------------------------------------------------------------


@dataclass
class Merge:
    """The merged document (None while there are errors), what was decided, and the
    problems by decision id (a field "r….name", a record "r…", or "" for the whole)."""

    document: dict | None
    decisions: list[dict]
    errors: dict[str, list[str]] = field(default_factory=dict)
    marked: dict | None = None  # the document with each entry's record id

    def add_error(self, item: str, message: str) -> None:
        self.errors.setdefault(item, [])
        if message not in self.errors[item]:
            self.errors[item].append(message)


def merge(alignment: Alignment, choices: Mapping[str, tuple[str, str]]) -> Merge:
    """The bundle document the reviewer's choices make: what agrees as it is, and for
    each decision id in ``choices``, (``"a"``, ``"b"`` or ``"custom"``, typed text).
    A row only one side has is kept with ``a``/``b`` naming that side."""
    result = Merge(document=None, decisions=[])
    rows: dict = {section: [] for section in SECTIONS}
    for record in alignment.records:
        if record.one_sided:
            row = _decide_row(record, choices, result)
        else:
            row = copy.deepcopy(record.a_row)
            row.setdefault("kept", {})
            for comparison in record.fields:
                value = comparison.a
                if comparison.disputed:
                    value = _decide_field(record, comparison, choices, result)
                _put(row, comparison.name, value)
        if row is None:
            continue
        row["kept"][MARK] = record.id
        if record.section == "publication":
            rows["publication"] = row
        else:
            rows[record.section].append(row)
    if result.errors:
        return result
    document, row_errors = assemble(rows)
    for error in row_errors:
        record_id = rows[error.section][error.index]["kept"][MARK]
        item = f"{record_id}.{error.field}"
        result.add_error(item if item in alignment.field_ids else record_id, error.message)
    if result.errors:
        return result
    _settle_empty(document, {record.id: record for record in alignment.records})
    result.marked = document
    result.document = _unmarked(document)
    return result


# Entry keys that are a row's own fields (not references to other rows, not its source).
_NOT_OWN = {"source_kind", "source_label", "study", "arm", "subject"}


def _settle_empty(value, records: dict) -> None:
    """Write an empty field as the extractions did: left out if neither gave the key,
    null if one gave null, else the empty value of its kind ("" for text). The
    workspace writes "" for text and null for numbers; the format refuses null text."""
    if isinstance(value, list):
        for item in value:
            _settle_empty(item, records)
        return
    if not isinstance(value, dict):
        return
    record = records.get(value.get(MARK))
    if record is not None:
        sources = [entry for entry in (record.a_entry, record.b_entry) if entry is not None]
        for name in FIELDS[record.section]:
            if name in _NOT_OWN or name not in value or value[name] is not None:
                continue
            given = [entry[name] for entry in sources if name in entry]
            if not given:
                del value[name]
            elif all(item is not None for item in given):
                value[name] = "" if isinstance(given[0], str) else (
                    [] if isinstance(given[0], list) else None)
    for item in value.values():
        _settle_empty(item, records)


def _decide_row(record: AlignedRecord, choices, result: Merge) -> dict | None:
    choice, _ = choices.get(record.id, ("", ""))
    if choice not in (A, B):
        result.add_error(record.id, "Keep this row or leave it out.")
        return None
    keep = record.a_row if choice == A else record.b_row
    result.decisions.append({
        "record": record.title, "field": None, "a": record.a_row is not None,
        "b": record.b_row is not None, "choice": choice, "value": keep is not None,
    })
    if keep is None:
        return None
    row = copy.deepcopy(keep)
    row.setdefault("kept", {})
    return row


def _decide_field(record: AlignedRecord, comparison: FieldComparison, choices,
                  result: Merge):
    choice, typed = choices.get(comparison.id, ("", ""))
    if choice == A:
        value = comparison.a
    elif choice == B:
        value = comparison.b
    elif choice == CUSTOM:
        try:
            value = parse_typed(typed, comparison.a, comparison.b)
        except ValueError as error:
            result.add_error(comparison.id, str(error))
            return comparison.a
    else:
        result.add_error(comparison.id, "Choose A or B, or type the value.")
        return comparison.a
    result.decisions.append({
        "record": record.title, "field": comparison.name, "a": comparison.a,
        "b": comparison.b, "choice": choice, "value": value,
    })
    return value


def _put(row: dict, name: str, value) -> None:
    if name.startswith(KEPT):
        key = name.removeprefix(KEPT)
        if value is None:
            row["kept"].pop(key, None)
        else:
            row["kept"][key] = value
    else:
        row[name] = value


def _unmarked(value):
    if isinstance(value, dict):
        return {key: _unmarked(item) for key, item in value.items() if key != MARK}
    if isinstance(value, list):
        return [_unmarked(item) for item in value]
    return value


def locate_errors(alignment: Alignment, merged: Merge, errors) -> dict[str, list[str]]:
    """Problems reported by JSON path in the merged document (schema, import), placed
    on the decision or record they are about; "" holds the rest."""
    placed: dict[str, list[str]] = {}
    rows = flatten(merged.marked or {})
    known = alignment.field_ids
    for error in errors:
        section, index, name = locate(rows, error.path)
        row = rows["publication"] if section == "publication" else (
            rows[section][index] if section else None)
        record_id = (row or {}).get("kept", {}).get(MARK)
        if record_id is None:
            placed.setdefault("", []).append(str(error))
            continue
        item = f"{record_id}.{name}" if name and f"{record_id}.{name}" in known else record_id
        placed.setdefault(item, []).append(error.message)
    return placed
