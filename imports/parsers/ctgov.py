"""ClinicalTrials.gov API v2 study JSON: one study object, or a page of them
(``{"studies": [...], "nextPageToken": ...}``) as /api/v2/studies returns.

Records are numbered from 1 in file order; a problem names the record and the JSON
path of the field (``protocolSection.designModule.phases``). Country names and
conditions are kept as the registry spells them: matching them to carlit's country
and disease vocabularies needs the database, so the import service does it.
"""

from __future__ import annotations

import datetime
import json
import re

from studies.choices import Phase, Registry, StudyStatus
from studies.identifiers import REGISTRY_PATTERNS, normalize_registry_id

from .base import REGISTRY, ParsedRecord, ParseFailed, Problem, clean_text, decode

PHASES = {
    ("EARLY_PHASE1",): Phase.EARLY_1,
    ("PHASE1",): Phase.PHASE_1,
    ("PHASE1", "PHASE2"): Phase.PHASE_1_2,
    ("PHASE2",): Phase.PHASE_2,
    ("PHASE3",): Phase.PHASE_3,
    ("NA",): Phase.NOT_APPLICABLE,
}
# The registry's statuses are carlit's, upper-case; expanded-access statuses
# (AVAILABLE, APPROVED_FOR_MARKETING, ...) have no counterpart and are refused.
STATUSES = {value.upper(): value for value in StudyStatus.values}
_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
MAX_TITLE = 500
MAX_SPONSOR = 300

PROTOCOL = "protocolSection"
IDENTIFICATION = f"{PROTOCOL}.identificationModule"
STATUS = f"{PROTOCOL}.statusModule"


def parse(content: bytes) -> list[ParsedRecord]:
    text = decode(content)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseFailed([Problem(
            f"Not valid JSON: {error.msg} (column {error.colno}).", line=error.lineno
        )]) from error
    except (ValueError, RecursionError) as error:  # a 5000-digit number, or nesting
        raise ParseFailed([Problem(f"Not JSON carlit can read: {error}.")]) from error
    if isinstance(document, dict) and isinstance(document.get("studies"), list):
        studies = document["studies"]
    elif isinstance(document, dict) and PROTOCOL in document:
        studies = [document]
    elif isinstance(document, list):
        studies = document
    else:
        raise ParseFailed([Problem(
            "Not ClinicalTrials.gov API v2 JSON: expected one study (with "
            "'protocolSection') or a page with a 'studies' list."
        )])
    if not studies:
        raise ParseFailed([Problem("The 'studies' list is empty.")])
    return [_study(study, number) for number, study in enumerate(studies, start=1)]


def _get(document, path: str):
    """The value at a dotted path, or None where any step is missing."""
    for step in path.split("."):
        if not isinstance(document, dict):
            return None
        document = document.get(step)
    return document


def _text(record: ParsedRecord, study: dict, path: str, limit: int | None = None) -> str:
    value = _get(study, path)
    if value is None:
        return ""
    if not isinstance(value, str):
        record.problem(f"Expected text, found {json.dumps(value)[:40]}.", field=path)
        return ""
    value = clean_text(value)
    if limit and len(value) > limit:
        record.problem(f"Longer than {limit} characters ({len(value)}).", field=path)
    return value


def parse_partial_date(raw: str) -> datetime.date:
    """'2023-03-15', or '2023-03' and '2023' as the registry gives when the day (or
    month) is not known: the first of that month (or year) is taken, so ordering and
    filtering by date work; the raw JSON keeps what the registry said."""
    match = _DATE.match(raw.strip())
    if match is None:
        raise ValueError(f"'{raw}' is not a date (expected YYYY-MM-DD or YYYY-MM).")
    year, month, day = match.group(1), match.group(2) or "1", match.group(3) or "1"
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError as error:
        raise ValueError(f"'{raw}' is not a date ({error}).") from error


def _study(study, number: int) -> ParsedRecord:
    record = ParsedRecord(kind=REGISTRY, record=number, line=None)
    if not isinstance(study, dict) or not isinstance(study.get(PROTOCOL), dict):
        record.problem("Not a study: 'protocolSection' is missing.", field=PROTOCOL)
        return record
    fields: dict = {"registry": Registry.NCT, "raw": study}

    path = f"{IDENTIFICATION}.nctId"
    nct_id = normalize_registry_id(_text(record, study, path))
    if not nct_id:
        record.problem("The NCT number is missing.", field=path)
    elif not REGISTRY_PATTERNS[Registry.NCT].match(nct_id):
        record.problem(f"'{nct_id}' is not an NCT number (NCT and 8 digits).", field=path)
    fields["identifier"] = nct_id

    title = _text(record, study, f"{IDENTIFICATION}.officialTitle", MAX_TITLE) or _text(
        record, study, f"{IDENTIFICATION}.briefTitle", MAX_TITLE
    )
    if not title:
        record.problem("The study has neither an official nor a brief title.",
                       field=f"{IDENTIFICATION}.briefTitle")
    fields["title"] = title
    fields["acronym"] = _text(record, study, f"{IDENTIFICATION}.acronym", 100)

    path = f"{PROTOCOL}.designModule.phases"
    phases = _get(study, path) or []
    if not isinstance(phases, list) or not all(isinstance(phase, str) for phase in phases):
        record.problem("Expected a list of phases.", field=path)
        phases = []
    fields["phase"] = ""
    if phases:
        phase = PHASES.get(tuple(sorted(phase.upper() for phase in phases)))
        if phase is None:
            record.problem(f"No carlit phase for {' + '.join(phases)}.", field=path)
        else:
            fields["phase"] = phase

    path = f"{STATUS}.overallStatus"
    raw_status = _text(record, study, path)
    fields["status"] = STATUSES.get(raw_status.upper(), "")
    if raw_status and not fields["status"]:
        record.problem(f"'{raw_status}' is not a status carlit records for studies.", field=path)

    for name, struct in (("start_date", "startDateStruct"),
                         ("completion_date", "completionDateStruct")):
        path = f"{STATUS}.{struct}.date"
        raw_date = _text(record, study, path)
        fields[name] = None
        if raw_date:
            try:
                fields[name] = parse_partial_date(raw_date)
            except ValueError as error:
                record.problem(str(error), field=path)
    if fields["start_date"] and fields["completion_date"] and (
        fields["start_date"] > fields["completion_date"]
    ):
        record.problem("The start date is after the completion date.",
                       field=f"{STATUS}.completionDateStruct.date")

    fields["sponsor"] = _text(
        record, study, f"{PROTOCOL}.sponsorCollaboratorsModule.leadSponsor.name", MAX_SPONSOR
    )

    # Countries in order of first appearance, each with the path of that location.
    path = f"{PROTOCOL}.contactsLocationsModule.locations"
    locations = _get(study, path) or []
    countries: dict[str, str] = {}
    if not isinstance(locations, list):
        record.problem("Expected a list of locations.", field=path)
        locations = []
    for index, location in enumerate(locations):
        country = location.get("country") if isinstance(location, dict) else None
        if isinstance(country, str) and country.strip():
            countries.setdefault(clean_text(country), f"{path}[{index}].country")
    fields["country_names"] = [{"name": name, "field": where} for name, where in
                               countries.items()]

    path = f"{PROTOCOL}.conditionsModule.conditions"
    conditions = _get(study, path) or []
    if not isinstance(conditions, list) or not all(isinstance(c, str) for c in conditions):
        record.problem("Expected a list of condition names.", field=path)
        conditions = []
    fields["conditions"] = [clean_text(condition) for condition in conditions
                            if condition.strip()]
    record.fields = fields
    return record
