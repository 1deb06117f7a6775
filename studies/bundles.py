"""Study bundles: one JSON document holding a publication and everything extracted
from it. docs/bundle-format.md describes the format; BUNDLE_SCHEMA is its JSON Schema.

``import_bundle`` writes a bundle in one transaction. Every row is checked with its
model's ``full_clean()`` (so studies/validation.py decides what is valid), problems
are collected with the JSON path of the value at fault, and if there is any problem
nothing is written. Importing the same publication again (same DOI or PMID) updates
its rows in place. ``export_bundle`` writes the same format back.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q

from . import study_refresh
from .choices import (
    Administration,
    AdverseEventType,
    BinderOrigin,
    BinderType,
    CellSource,
    Domain,
    DoseUnit,
    GradingSystem,
    IdentityEvidence,
    Phase,
    PublicationType,
    Registry,
    Sex,
    SourceKind,
    StudyDesign,
    StudyStatus,
    TimePoint,
    Vector,
)
from .identifiers import normalize_doi
from .models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    ConstructAlias,
    CostimulatoryDomain,
    Country,
    Disease,
    LymphodepletionRegimen,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Person,
    Publication,
    PublicationAuthor,
    RegistryId,
    Study,
    StudyReport,
    Therapy,
)
from .visibility import public

FORMAT = "carlit-bundle/1"

PUBLICATION_FIELDS = (
    "doi",
    "pmid",
    "pmcid",
    "title",
    "journal",
    "year",
    "volume",
    "issue",
    "pages",
    "publication_type",
    "abstract",
)
STUDY_FIELDS = (
    "title",
    "short_name",
    "design",
    "phase",
    "status",
    "sponsor",
    "start_date",
    "completion_date",
)
CONSTRUCT_FIELDS = (
    "binder_type",
    "binder_origin",
    "binder_name",
    "hinge",
    "transmembrane",
    "vector",
    "cell_source",
    "developer",
    "notes",
)
PRODUCT_FIELDS = ("order", "administration", "dose_value", "dose_value_max", "dose_unit")
PATIENT_FIELDS = (
    "label",
    "age_years",
    "sex",
    "disease_duration_months",
    "follow_up_days",
)
OUTCOME_FIELDS = OutcomeResult.VALUE_FIELDS
ADVERSE_EVENT_FIELDS = (
    "event_type",
    "term",
    "grading_system",
    "grade",
    "onset_day",
    "duration_days",
    "n_affected",
    "n_evaluable",
)
DECIMAL_FIELDS = {
    "age_years",
    "disease_duration_months",
    "dose_value",
    "dose_value_max",
    "value",
    "median",
    "minimum",
    "maximum",
    "iqr_low",
    "iqr_high",
    "mean",
    "sd",
}
DATE_FIELDS = {"start_date", "completion_date", "data_cutoff"}
# Model field names that the bundle spells differently.
BUNDLE_NAMES = {
    "source_kind": "source.kind",
    "source_label": "source.label",
    "source_publication": "source.publication",
    "primary_disease": "primary_disease",
    "person": "same_person_as",
}


# The JSON Schema ---------------------------------------------------------------------------

_DATE = {"type": ["string", "null"], "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_TEXT = {"type": "string"}
_INT = {"type": ["integer", "null"]}
_NUMBER = {"type": ["number", "null"]}
_CODE = {"type": "string", "minLength": 1}


def _enum(choices, blank: bool = False) -> dict:
    values = [value for value, _ in choices]
    return {"enum": [*values, ""] if blank else values}


def _object(properties: dict, required=(), description: str = "") -> dict:
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


PUBLICATION_REF = {
    "type": "object",
    "description": "An existing publication: by DOI, else PMID, else journal, year, pages "
    "and first author (for abstracts that have neither).",
    "properties": {
        "doi": {"type": "string"},
        "pmid": {"type": "integer", "minimum": 1},
        "journal": {"type": "string", "minLength": 1},
        "year": {"type": "integer"},
        "pages": {"type": "string"},
        "first_author": {"type": "string"},
    },
    "anyOf": [{"required": ["doi"]}, {"required": ["pmid"]}, {"required": ["journal", "year"]}],
    "additionalProperties": False,
}
SOURCE = _object(
    {
        "kind": _enum(SourceKind.choices),
        "label": {**_TEXT, "description": "Where: 'Table 2', 'p. 5', 'Fig. 3B'."},
        "publication": {
            **PUBLICATION_REF,
            "description": "Only when the row is cited from another (existing) publication; "
            "by default the bundle's own.",
        },
    },
    required=("kind", "label"),
)
OUTCOME = _object(
    {
        "measure": {**_CODE, "description": "Outcome measure code, e.g. 'sledai-2k'."},
        "timepoint": _enum(TimePoint.choices),
        "day": _INT,
        "value": _NUMBER,
        "unit": _TEXT,
        "value_bool": {"type": ["boolean", "null"]},
        "n_evaluable": _INT,
        "n_events": _INT,
        "median": _NUMBER,
        "minimum": _NUMBER,
        "maximum": _NUMBER,
        "iqr_low": _NUMBER,
        "iqr_high": _NUMBER,
        "mean": _NUMBER,
        "sd": _NUMBER,
        "source": SOURCE,
    },
    required=("measure", "timepoint", "source"),
)
ADVERSE_EVENT = _object(
    {
        "event_type": _enum(AdverseEventType.choices),
        "term": _TEXT,
        "grading_system": _enum(GradingSystem.choices, blank=True),
        "grade": _INT,
        "onset_day": _INT,
        "duration_days": _INT,
        "n_affected": _INT,
        "n_evaluable": _INT,
        "source": SOURCE,
    },
    required=("event_type", "source"),
)
CONSTRUCT_REF = {
    "oneOf": [
        {"type": "string", "minLength": 1, "description": "A construct's name or alias."},
        _object({"id": {"type": "integer", "minimum": 1}}, required=("id",)),
    ]
}
PRODUCT = _object(
    {
        "construct": CONSTRUCT_REF,
        "order": {"type": "integer", "minimum": 1, "maximum": 32767},
        "administration": _enum(Administration.choices),
        "dose_value": _NUMBER,
        "dose_value_max": _NUMBER,
        "dose_unit": _enum(DoseUnit.choices, blank=True),
        "source": SOURCE,
    },
    required=("construct",),
    description="A product given in the arm; cited from the arm's source unless given.",
)
ARM = _object(
    {
        "id": {
            "type": "integer",
            "minimum": 1,
            "description": "Optional: the existing arm of the study to update (rename).",
        },
        "label": {**_TEXT, "minLength": 1},
        "disease": _CODE,
        "lymphodepletion": {"type": ["string", "null"]},
        "n_patients": _INT,
        "source": SOURCE,
        "products": {"type": "array", "items": PRODUCT},
        "outcomes": {"type": "array", "items": OUTCOME},
        "adverse_events": {"type": "array", "items": ADVERSE_EVENT},
    },
    required=("label", "disease", "source"),
)
STUDY = _object(
    {
        "key": {
            **_TEXT,
            "minLength": 1,
            "description": "Names the study inside this bundle (patients refer to it).",
        },
        "id": {
            "type": "integer",
            "minimum": 1,
            "description": "Optional: the existing study to update.",
        },
        "title": {**_TEXT, "minLength": 1},
        "short_name": _TEXT,
        "design": _enum(StudyDesign.choices),
        "phase": _enum(Phase.choices, blank=True),
        "status": _enum(StudyStatus.choices, blank=True),
        "sponsor": _TEXT,
        "countries": {"type": "array", "items": _CODE},
        "start_date": _DATE,
        "completion_date": _DATE,
        "registry_ids": {
            "type": "array",
            "items": _object(
                {"registry": _enum(Registry.choices), "identifier": _CODE},
                required=("registry", "identifier"),
            ),
        },
        "data_cutoff": _DATE,
        "arms": {"type": "array", "items": ARM},
    },
    required=("key", "title", "design"),
)
PERSON_LINK = _object(
    {
        "publication": PUBLICATION_REF,
        "arm": {**_TEXT, "description": "The arm's label, where the label alone is ambiguous."},
        "label": {**_TEXT, "minLength": 1},
    },
    required=("publication", "label"),
    description="Another report of the same person.",
)
PATIENT = _object(
    {
        "id": {
            "type": "integer",
            "minimum": 1,
            "description": "Optional: the existing patient row of this publication to update.",
        },
        "study": {**_CODE, "description": "The key of a study in this bundle."},
        "arm": {**_CODE, "description": "The label of an arm of that study."},
        "label": {**_TEXT, "minLength": 1},
        "age_years": _NUMBER,
        "sex": _enum(Sex.choices, blank=True),
        "primary_disease": _CODE,
        "secondary_diseases": {"type": "array", "items": _CODE},
        "disease_duration_months": _NUMBER,
        "prior_therapies": {"type": "array", "items": _CODE},
        "follow_up_days": _INT,
        "same_person_as": {"type": "array", "items": PERSON_LINK},
        "person_evidence": _enum(IdentityEvidence.choices, blank=True),
        "source": SOURCE,
        "outcomes": {"type": "array", "items": OUTCOME},
        "adverse_events": {"type": "array", "items": ADVERSE_EVENT},
    },
    required=("study", "arm", "label", "primary_disease", "source"),
)
CONSTRUCT = _object(
    {
        "name": {**_TEXT, "minLength": 1},
        "aliases": {"type": "array", "items": _CODE},
        "targets": {"type": "array", "items": _CODE, "minItems": 1},
        "binder_type": _enum(BinderType.choices, blank=True),
        "binder_origin": _enum(BinderOrigin.choices, blank=True),
        "binder_name": _TEXT,
        "hinge": _enum(Domain.choices, blank=True),
        "transmembrane": _enum(Domain.choices, blank=True),
        "costimulatory_domains": {"type": "array", "items": _CODE},
        "vector": _enum(Vector.choices, blank=True),
        "cell_source": _enum(CellSource.choices, blank=True),
        "developer": _TEXT,
        "notes": _TEXT,
    },
    required=("name", "targets"),
)
PUBLICATION = {
    **_object(
        {
            "doi": {"type": ["string", "null"]},
            "pmid": {"type": ["integer", "null"], "minimum": 1},
            "pmcid": {"type": ["string", "null"]},
            "title": _TEXT,
            "journal": _TEXT,
            "year": {"type": "integer"},
            "volume": _TEXT,
            "issue": _TEXT,
            "pages": _TEXT,
            "publication_type": _enum(PublicationType.choices),
            "abstract": _TEXT,
            "authors": {
                "type": "array",
                "items": _object(
                    {"family_name": {**_TEXT, "minLength": 1}, "given_names": _TEXT},
                    required=("family_name",),
                ),
            },
            "superseded_by": {"oneOf": [PUBLICATION_REF, {"type": "null"}]},
        },
        required=("year", "publication_type"),
    ),
    "anyOf": [
        {"required": ["doi"], "properties": {"doi": {"type": "string"}}},
        {"required": ["pmid"], "properties": {"pmid": {"type": "integer"}}},
        {"required": ["journal"], "properties": {"journal": {"minLength": 1}}},
    ],
}
BUNDLE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "carlit study bundle",
    "description": "A publication and everything extracted from it. See docs/bundle-format.md.",
    **_object(
        {
            "format": {"const": FORMAT},
            "publication": PUBLICATION,
            "constructs": {"type": "array", "items": CONSTRUCT},
            "studies": {"type": "array", "items": STUDY},
            "patients": {"type": "array", "items": PATIENT},
        },
        required=("format", "publication"),
    ),
}


# Errors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def as_dict(self) -> dict:
        return {"path": self.path, "message": self.message}


class BundleInvalid(Exception):
    """The bundle was not imported; ``errors`` lists every problem found."""

    def __init__(self, errors: list[BundleError]):
        super().__init__(f"{len(errors)} problem(s) in the bundle")
        self.errors = errors


def join_path(base: str, *parts) -> str:
    path = base
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part:
            path = f"{path}.{part}" if path else str(part)
    return path


def schema_errors(document) -> list[BundleError]:
    """Problems of shape (types, required keys, allowed values), by JSON path."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(BUNDLE_SCHEMA)
    errors = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path))):
        path = join_path("", *error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:
                if name not in error.instance:
                    errors.append(BundleError(join_path(path, name), "This field is required."))
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            for name in error.instance:
                if name not in allowed:
                    errors.append(BundleError(join_path(path, name), "Unknown field."))
            continue
        if error.validator == "anyOf" and path == "publication":
            errors.append(
                BundleError(
                    path, "Give the publication's DOI or PMID (or, failing both, its journal)."
                )
            )
            continue
        errors.append(BundleError(path, error.message))
    return list(dict.fromkeys(errors))


# Import --------------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    publication: Publication
    created: bool
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    deleted: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def as_dict(self) -> dict:
        return {
            "publication": self.publication.pk,
            "created": self.created,
            "written": dict(self.counts),
            "deleted": dict(self.deleted),
        }


class _Stop(Exception):
    """Nothing more can be checked (the publication itself is invalid)."""


def import_bundle(document: dict, *, user) -> ImportSummary:
    """Write a bundle in one transaction, or raise BundleInvalid listing every problem."""
    errors = schema_errors(document)
    if errors:
        raise BundleInvalid(errors)
    importer = _Importer(document, user)
    try:
        with transaction.atomic(), study_refresh.deferred():
            importer.run()
            if importer.errors:
                raise BundleInvalid(importer.errors)
    except _Stop as stop:
        raise BundleInvalid(importer.errors) from stop
    return importer.summary


class _Vocabulary:
    """Code lookups for one import: each table read once."""

    def __init__(self):
        self.tables = {
            "disease": Disease,
            "antigen": Antigen,
            "costimulatory domain": CostimulatoryDomain,
            "therapy": Therapy,
            "lymphodepletion regimen": LymphodepletionRegimen,
            "outcome measure": OutcomeMeasure,
            "country": Country,
        }
        self.rows: dict[str, dict[str, object]] = {}

    def get(self, kind: str, code: str):
        if kind not in self.rows:
            self.rows[kind] = {row.code: row for row in self.tables[kind].objects.all()}
        return self.rows[kind].get(code)


def _decimal(value):
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - JSON numbers always convert
        return value


def _date(value):
    if value is None:
        return None
    return date.fromisoformat(value)


class _Importer:
    def __init__(self, document: dict, user):
        self.document = document
        self.user = user
        self.errors: list[BundleError] = []
        self.vocabulary = _Vocabulary()
        self.publication: Publication | None = None
        self.summary: ImportSummary | None = None
        self.kept: dict[str, set[int]] = defaultdict(set)
        self.studies_by_key: dict[str, Study] = {}
        self.arms: dict[tuple[int, str], Arm] = {}
        self.constructs_by_name: dict[str, CarConstruct] = {}
        self.publication_refs: dict[tuple, Publication | None] = {}

    # Helpers -----------------------------------------------------------------------------

    def error(self, path: str, message: str) -> None:
        self.errors.append(BundleError(path, message))

    def model_errors(self, path: str, error: ValidationError, names: dict | None = None):
        names = {**BUNDLE_NAMES, **(names or {})}
        if not hasattr(error, "error_dict"):
            for message in error.messages:
                self.error(path, message)
            return
        for name, messages in error.message_dict.items():
            where = path if name == "__all__" else join_path(path, names.get(name, name))
            for message in messages:
                self.error(where, message)

    def save(self, path: str, row, names: dict | None = None, exclude=None) -> bool:
        """full_clean() then save; problems go to the error list. A conflict only the
        database sees (another writer got there between check and save) ends the
        import: the transaction cannot go on after it, and nothing is written."""
        try:
            row.full_clean(exclude=exclude)
        except ValidationError as error:
            self.model_errors(path, error, names)
            return False
        try:
            row.save()
        except IntegrityError as error:
            self.error(path, f"Conflicts with existing data: {error}")
            raise _Stop from error
        return True

    def code(self, path: str, kind: str, code):
        if code is None:
            return None
        row = self.vocabulary.get(kind, code)
        if row is None:
            self.error(path, f"Unknown {kind} code '{code}'.")
        return row

    def codes(self, path: str, kind: str, codes) -> list:
        found = [self.code(join_path(path, i), kind, c) for i, c in enumerate(codes or [])]
        return [row for row in found if row is not None]

    def find_publication(self, path: str, ref: dict) -> Publication | None:
        key = tuple(
            sorted((name, normalize_doi(v) if name == "doi" else v) for name, v in ref.items())
        )
        if key not in self.publication_refs:
            self.publication_refs[key] = find_publication(ref)
        found = self.publication_refs[key]
        if found is None:
            if ref.get("doi"):
                spelled = f"with DOI {normalize_doi(ref['doi'])}"
            elif ref.get("pmid"):
                spelled = f"with PMID {ref['pmid']}"
            else:
                spelled = f"in {ref.get('journal')} {ref.get('year')} {ref.get('pages', '')}"
            self.error(path, f"No publication {spelled.strip()}; import it first.")
        return found

    def set_source(self, path: str, row, source: dict) -> None:
        row.source_kind = source["kind"]
        row.source_label = source["label"]
        if "publication" in source:
            publication = self.find_publication(
                join_path(path, "source", "publication"), source["publication"]
            )
            row.source_publication = publication or self.publication
        else:
            row.source_publication = self.publication

    def assign(self, row, entry: dict, names) -> None:
        for name in names:
            if name not in entry:
                continue
            value = entry[name]
            if name in DECIMAL_FIELDS:
                value = _decimal(value)
            setattr(row, name, value)

    def dates(self, path: str, row, entry: dict, names) -> bool:
        ok = True
        for name in names:
            if name in entry:
                try:
                    setattr(row, name, _date(entry[name]))
                except ValueError:
                    self.error(join_path(path, name), f"'{entry[name]}' is not a valid date.")
                    ok = False
        return ok

    # Steps ---------------------------------------------------------------------------------

    def run(self) -> None:
        self.import_publication(self.document["publication"])
        for index, entry in enumerate(self.document.get("constructs", [])):
            self.import_construct(join_path("constructs", index), entry)
        for index, entry in enumerate(self.document.get("studies", [])):
            self.import_study(join_path("studies", index), entry)
        patients = self.document.get("patients", [])
        saved = [self.import_patient(join_path("patients", i), e) for i, e in enumerate(patients)]
        for index, (entry, patient) in enumerate(zip(patients, saved, strict=True)):
            if patient is not None and "same_person_as" in entry:
                self.link_person(join_path("patients", index), entry, patient)
        if not self.errors:
            self.remove_stale_rows()

    def import_publication(self, entry: dict) -> None:
        doi = normalize_doi(entry.get("doi"))
        pmid = entry.get("pmid")
        by_doi = Publication.objects.filter(doi=doi).first() if doi else None
        by_pmid = Publication.objects.filter(pmid=pmid).first() if pmid else None
        if by_doi and by_pmid and by_doi.pk != by_pmid.pk:
            self.error(
                "publication.pmid",
                f"PMID {pmid} belongs to another publication ({by_pmid}) than the DOI.",
            )
            raise _Stop()
        existing = by_doi or by_pmid
        if not doi and not pmid:
            authors = entry.get("authors") or [{}]
            existing = find_publication(
                {
                    "journal": entry.get("journal", ""),
                    "year": entry["year"],
                    "pages": entry.get("pages", ""),
                    "first_author": authors[0].get("family_name", ""),
                }
            )
        publication = existing or Publication(created_by=self.user)
        if existing is not None:
            Publication.objects.select_for_update().filter(pk=existing.pk).first()
        self.assign(publication, entry, PUBLICATION_FIELDS)
        publication.doi = doi
        if "superseded_by" in entry:
            ref = entry["superseded_by"]
            publication.superseded_by = (
                self.find_publication("publication.superseded_by", ref) if ref else None
            )
        if not self.save("publication", publication):
            raise _Stop()
        self.publication = publication
        self.summary = ImportSummary(publication, created=existing is None)
        if "authors" in entry:
            self.import_authors(publication, entry["authors"])
        self.summary.counts["publications"] += 1

    def import_authors(self, publication: Publication, authors: list) -> None:
        """Authors in order, updated in place by position: the history records who
        changed which name, and an unchanged list writes nothing."""
        existing = {row.position: row for row in publication.authors.all()}
        for index, author in enumerate(authors):
            position = index + 1
            row = existing.pop(position, None) or PublicationAuthor(
                publication=publication, position=position
            )
            names = (author["family_name"], author.get("given_names", ""))
            if row.pk is None or (row.family_name, row.given_names) != names:
                row.family_name, row.given_names = names
                self.save(join_path("publication", "authors", index), row)
        for row in existing.values():
            row.delete()

    def import_construct(self, path: str, entry: dict) -> None:
        name = entry["name"]
        construct = (
            CarConstruct.objects.filter(name__iexact=name).first()
            or CarConstruct.objects.filter(aliases__alias__iexact=name).first()
            or CarConstruct(created_by=self.user)
        )
        construct.name = name
        self.assign(construct, entry, CONSTRUCT_FIELDS)
        targets = self.codes(join_path(path, "targets"), "antigen", entry["targets"])
        domains = self.codes(
            join_path(path, "costimulatory_domains"),
            "costimulatory domain",
            entry.get("costimulatory_domains", []),
        )
        if not self.save(path, construct):
            return
        construct.targets.set(targets)
        if "costimulatory_domains" in entry:
            construct.costimulatory_domains.set(domains)
        if "aliases" in entry:
            construct.aliases.exclude(alias__in=entry["aliases"]).delete()
            for index, alias in enumerate(entry["aliases"]):
                row = ConstructAlias.objects.filter(alias=alias).first()
                if row is not None and row.construct_id != construct.pk:
                    self.error(
                        join_path(path, "aliases", index),
                        f"'{alias}' is an alias of another construct ({row.construct}).",
                    )
                    continue
                row = row or ConstructAlias(construct=construct, alias=alias)
                self.save(join_path(path, "aliases", index), row, names={"alias": ""})
        self.constructs_by_name[name.lower()] = construct
        for alias in entry.get("aliases", []):
            self.constructs_by_name[alias.lower()] = construct
        self.summary.counts["constructs"] += 1

    def find_study(self, path: str, entry: dict) -> Study | None:
        if "id" in entry:
            study = public(Study.objects.filter(pk=entry["id"])).first()
            if study is None:
                self.error(join_path(path, "id"), f"No study with id {entry['id']}.")
            return study
        identifiers = [r["identifier"] for r in entry.get("registry_ids", [])]
        if identifiers:
            from .identifiers import normalize_registry_id

            normalized = [normalize_registry_id(i) for i in identifiers]
            found = RegistryId.objects.filter(identifier__in=normalized).select_related("study")
            studies = {row.study_id: row.study for row in found}
            if len(studies) > 1:
                self.error(
                    join_path(path, "registry_ids"),
                    "These registry ids belong to different studies.",
                )
                return None
            if studies:
                return next(iter(studies.values()))
        return Study.objects.filter(
            reports__publication=self.publication, title__iexact=entry["title"]
        ).first()

    def import_study(self, path: str, entry: dict) -> None:
        key = entry["key"]
        if key in self.studies_by_key:
            self.error(join_path(path, "key"), f"Two studies have the key '{key}'.")
            return
        existing = self.find_study(path, entry)
        if existing is None and "id" in entry:
            return
        study = existing or Study(created_by=self.user)
        self.assign(study, entry, STUDY_FIELDS)
        if not self.dates(path, study, entry, ("start_date", "completion_date")):
            return
        countries = self.codes(join_path(path, "countries"), "country", entry.get("countries"))
        if not self.save(path, study):
            return
        self.studies_by_key[key] = study
        if "countries" in entry:
            study.countries.set(countries)
        if "registry_ids" in entry:
            self.import_registry_ids(join_path(path, "registry_ids"), study, entry["registry_ids"])
        report = StudyReport.objects.filter(study=study, publication=self.publication).first()
        report = report or StudyReport(
            study=study, publication=self.publication, created_by=self.user
        )
        if self.dates(path, report, entry, ("data_cutoff",)):
            if self.save(path, report, names={"study": "key", "publication": "key"}):
                self.kept["reports"].add(report.pk)
        self.summary.counts["studies"] += 1
        for index, arm_entry in enumerate(entry.get("arms", [])):
            self.import_arm(join_path(path, "arms", index), study, arm_entry)

    def import_registry_ids(self, path: str, study: Study, entries: list) -> None:
        keep = []
        for index, entry in enumerate(entries):
            row = RegistryId(
                study=study,
                registry=entry["registry"],
                identifier=entry["identifier"],
                created_by=self.user,
            )
            try:
                row.clean()
            except ValidationError as error:
                self.model_errors(join_path(path, index), error)
                continue
            existing = RegistryId.objects.filter(identifier=row.identifier).first()
            if existing is not None and existing.study_id != study.pk:
                self.error(
                    join_path(path, index, "identifier"),
                    f"{row.identifier} belongs to another study ({existing.study}).",
                )
                continue
            if existing is not None:
                existing.registry = row.registry
                row = existing
            if self.save(join_path(path, index), row):
                keep.append(row.pk)
        study.registry_ids.exclude(pk__in=keep).delete()

    def import_arm(self, path: str, study: Study, entry: dict) -> None:
        label = entry["label"]
        if (study.pk, label) in self.arms:
            self.error(join_path(path, "label"), f"The study already has an arm '{label}' here.")
            return
        if "id" in entry:  # an arm kept by id may be renamed
            arm = Arm.objects.filter(pk=entry["id"], study=study).first()
            if arm is None:
                self.error(join_path(path, "id"), f"The study has no arm with id {entry['id']}.")
                return
            if arm.pk in self.kept["arms"]:
                self.error(join_path(path, "id"), f"The arm {entry['id']} is listed twice.")
                return
        else:
            arm = Arm.objects.filter(study=study, label=label).first() or Arm(
                study=study, created_by=self.user
            )
        arm.label = label
        arm.n_patients = entry.get("n_patients")
        disease = self.code(join_path(path, "disease"), "disease", entry["disease"])
        arm.lymphodepletion = self.code(
            join_path(path, "lymphodepletion"),
            "lymphodepletion regimen",
            entry.get("lymphodepletion"),
        )
        self.set_source(path, arm, entry["source"])
        if disease is None:
            return
        arm.disease = disease
        if not self.save(path, arm, names={"study": "label"}):
            return
        self.arms[(study.pk, label)] = arm
        self.kept["arms"].add(arm.pk)
        self.summary.counts["arms"] += 1
        for index, product in enumerate(entry.get("products", [])):
            self.import_product(join_path(path, "products", index), arm, product, entry)
        self.import_results(path, entry, arm=arm)

    def find_construct(self, path: str, ref) -> CarConstruct | None:
        if isinstance(ref, dict):
            construct = CarConstruct.objects.filter(pk=ref["id"]).first()
            if construct is None:
                self.error(path, f"No construct with id {ref['id']}.")
            return construct
        construct = self.constructs_by_name.get(ref.lower())
        if construct is None:
            construct = (
                CarConstruct.objects.filter(name__iexact=ref).first()
                or CarConstruct.objects.filter(aliases__alias__iexact=ref).first()
            )
        if construct is None:
            self.error(path, f"No construct named '{ref}': add it under 'constructs'.")
        return construct

    def import_product(self, path: str, arm: Arm, entry: dict, arm_entry: dict) -> None:
        construct = self.find_construct(join_path(path, "construct"), entry["construct"])
        order = entry.get("order", 1)
        product = ArmProduct.objects.filter(arm=arm, order=order).first() or ArmProduct(
            arm=arm, created_by=self.user
        )
        if product.pk in self.kept["products"]:
            self.error(join_path(path, "order"), "Two products of an arm cannot share an order.")
            return
        self.assign(product, {**entry, "order": order}, PRODUCT_FIELDS)
        product.administration = entry.get("administration", Administration.SINGLE)
        product.dose_unit = entry.get("dose_unit", "")
        self.set_source(path, product, entry.get("source", arm_entry["source"]))
        if construct is None:
            return
        product.construct = construct
        if self.save(path, product, names={"arm": "order"}):
            self.kept["products"].add(product.pk)
            self.summary.counts["products"] += 1

    def import_results(self, path: str, entry: dict, *, arm=None, patient=None) -> None:
        subject = {"arm": arm} if arm is not None else {"patient": patient}
        if "outcomes" in entry:
            existing = list(
                OutcomeResult.objects.filter(
                    source_publication=self.publication, **subject
                ).order_by("pk")
            )
            for index, outcome in enumerate(entry["outcomes"]):
                self.import_outcome(join_path(path, "outcomes", index), subject, outcome, existing)
        if "adverse_events" in entry:
            existing = list(
                AdverseEvent.objects.filter(
                    source_publication=self.publication, **subject
                ).order_by("pk")
            )
            for index, event in enumerate(entry["adverse_events"]):
                self.import_event(
                    join_path(path, "adverse_events", index), subject, event, existing
                )

    @staticmethod
    def _take(existing: list, match) -> object | None:
        for index, row in enumerate(existing):
            if match(row):
                return existing.pop(index)
        return None

    def import_outcome(self, path: str, subject: dict, entry: dict, existing: list) -> None:
        measure = self.code(join_path(path, "measure"), "outcome measure", entry["measure"])
        if measure is None:
            return
        row = self._take(
            existing,
            lambda r: (
                (r.measure_id, r.timepoint, r.day)
                == (measure.pk, entry["timepoint"], entry.get("day"))
            ),
        ) or OutcomeResult(created_by=self.user, **subject)
        for name in OUTCOME_FIELDS:
            setattr(row, name, None if name not in ("unit",) else "")
        self.assign(row, entry, OUTCOME_FIELDS)
        row.measure = measure
        self.set_source(path, row, entry["source"])
        if self.save(path, row, names={"patient": "", "arm": ""}):
            self.kept["outcomes"].add(row.pk)
            self.summary.counts["outcomes"] += 1

    def import_event(self, path: str, subject: dict, entry: dict, existing: list) -> None:
        row = self._take(
            existing,
            lambda r: (
                (r.event_type, r.term, r.grade)
                == (entry["event_type"], entry.get("term", ""), entry.get("grade"))
            ),
        ) or AdverseEvent(created_by=self.user, **subject)
        for name in ADVERSE_EVENT_FIELDS:
            setattr(row, name, "" if name in ("term", "grading_system") else None)
        self.assign(row, entry, ADVERSE_EVENT_FIELDS)
        self.set_source(path, row, entry["source"])
        if self.save(path, row, names={"patient": "", "arm": ""}):
            self.kept["adverse_events"].add(row.pk)
            self.summary.counts["adverse_events"] += 1

    def import_patient(self, path: str, entry: dict) -> Patient | None:
        study = self.studies_by_key.get(entry["study"])
        if study is None:
            if not any(s.get("key") == entry["study"] for s in self.document.get("studies", [])):
                self.error(
                    join_path(path, "study"),
                    f"No study with key '{entry['study']}' in this bundle.",
                )
            return None  # the study itself had problems, reported at its own path
        arm = (
            self.arms.get((study.pk, entry["arm"]))
            or Arm.objects.filter(study=study, label=entry["arm"]).first()
        )
        if arm is None:
            listed = any(
                arm_entry.get("label") == entry["arm"]
                for study_entry in self.document.get("studies", [])
                if study_entry.get("key") == entry["study"]
                for arm_entry in study_entry.get("arms", [])
            )
            if not listed:  # a listed arm that failed has its problems reported already
                self.error(
                    join_path(path, "arm"),
                    f"The study '{entry['study']}' has no arm '{entry['arm']}'.",
                )
            return None
        if "id" in entry:  # a patient kept by id may be renamed or moved to another arm
            patient = Patient.objects.filter(
                pk=entry["id"], source_publication=self.publication
            ).first()
            if patient is None:
                self.error(
                    join_path(path, "id"),
                    f"This publication reports no patient with id {entry['id']}.",
                )
                return None
            patient.arm = arm
        else:
            patient = Patient.objects.filter(
                source_publication=self.publication, arm=arm, label=entry["label"]
            ).first() or Patient(arm=arm, created_by=self.user)
        if patient.pk in self.kept["patients"]:
            self.error(join_path(path, "label"), f"'{entry['label']}' is listed twice in this arm.")
            return None
        for name in PATIENT_FIELDS:
            setattr(patient, name, "" if name == "sex" else None)
        self.assign(patient, entry, PATIENT_FIELDS)
        primary = self.code(join_path(path, "primary_disease"), "disease", entry["primary_disease"])
        secondary = self.codes(
            join_path(path, "secondary_diseases"), "disease", entry.get("secondary_diseases")
        )
        therapies = self.codes(
            join_path(path, "prior_therapies"), "therapy", entry.get("prior_therapies")
        )
        self.set_source(path, patient, entry["source"])
        if primary is None:
            return None
        patient.primary_disease = primary
        if not self.save(path, patient, names={"arm": "arm"}):
            return None
        patient.secondary_diseases.set(secondary)
        patient.prior_therapies.set(therapies)
        self.kept["patients"].add(patient.pk)
        self.summary.counts["patients"] += 1
        self.import_results(path, entry, patient=patient)
        return patient

    def link_person(self, path: str, entry: dict, patient: Patient) -> None:
        others = []
        for index, link in enumerate(entry["same_person_as"]):
            where = join_path(path, "same_person_as", index)
            publication = self.find_publication(
                join_path(where, "publication"), link["publication"]
            )
            if publication is None:
                continue
            candidates = Patient.objects.filter(source_publication=publication, label=link["label"])
            if link.get("arm"):
                candidates = candidates.filter(arm__label=link["arm"])
            found = list(candidates.exclude(pk=patient.pk)[:2])
            if len(found) != 1:
                problem = "no patient" if not found else "more than one patient (give 'arm')"
                self.error(where, f"{publication} reports {problem} labelled '{link['label']}'.")
                continue
            others.append(found[0])
        if len(others) != len(entry["same_person_as"]):
            return
        evidence = entry.get("person_evidence", "")
        if not others:
            patient.person, patient.person_evidence = None, ""
            self.save(path, patient)
            return
        persons = [p.person for p in [patient, *others] if p.person_id]
        person = persons[0] if persons else None
        if person is None:
            note = f"Linked by the bundle of {self.publication}."
            person = Person.objects.create(created_by=self.user, note=note)
        patient.person, patient.person_evidence = person, evidence
        if not self.save(path, patient, names={"person_evidence": "person_evidence"}):
            return
        for other in others:
            if other.person_id != person.pk:
                other.person = person
                other.person_evidence = other.person_evidence or evidence
                self.save(path, other)

    def remove_stale_rows(self) -> None:
        """Rows cited from this publication that the bundle no longer lists."""
        mine = {"source_publication": self.publication}
        stale = [
            ("outcomes", OutcomeResult.objects.filter(**mine)),
            ("adverse_events", AdverseEvent.objects.filter(**mine)),
            ("products", ArmProduct.objects.filter(**mine)),
            ("patients", Patient.objects.filter(**mine)),
            ("reports", StudyReport.objects.filter(publication=self.publication)),
        ]
        for name, queryset in stale:
            rows = queryset.exclude(pk__in=self.kept[name])
            try:
                with transaction.atomic():
                    _, per_model = rows.delete()
                count = per_model.get(rows.model._meta.label, 0)
            except ProtectedError as error:
                kept = ", ".join(str(row) for row in list(error.protected_objects)[:3])
                self.error(name, f"Rows the bundle no longer lists are still referred to: {kept}")
                continue
            if count and name != "reports":
                self.summary.deleted[name] += count


# Export ---------------------------------------------------------------------------------------


def _number(value):
    if value is None:
        return None
    value = Decimal(value)
    if value == value.to_integral_value():
        return int(value)
    return float(value.normalize())


def _plain(row, names) -> dict:
    result = {}
    for name in names:
        value = getattr(row, name)
        if name in DECIMAL_FIELDS:
            value = _number(value)
        elif isinstance(value, date):
            value = value.isoformat()
        result[name] = value
    return result


def publication_ref(publication: Publication) -> dict:
    """How a bundle names a publication: DOI, else PMID, else its natural key."""
    if publication.doi:
        return {"doi": publication.doi}
    if publication.pmid:
        return {"pmid": publication.pmid}
    return {
        "journal": publication.journal,
        "year": publication.year,
        "pages": publication.pages,
        "first_author": publication.first_author,
    }


def find_publication(ref: dict) -> Publication | None:
    """The publication a reference names (see publication_ref), or None."""
    if ref.get("doi"):
        return Publication.objects.filter(doi=normalize_doi(ref["doi"])).first()
    if ref.get("pmid"):
        return Publication.objects.filter(pmid=ref["pmid"]).first()
    candidates = (
        Publication.objects.filter(
            doi=None,
            pmid=None,
            journal=ref.get("journal", ""),
            year=ref.get("year"),
            pages=ref.get("pages", ""),
        )
        .prefetch_related("authors")
        .order_by("pk")
    )
    first_author = ref.get("first_author", "")
    return next((p for p in candidates if p.first_author == first_author), None)


def _source(row, publication: Publication, refs: dict) -> dict:
    source = {"kind": row.source_kind, "label": row.source_label}
    if row.source_publication_id != publication.pk:
        source["publication"] = refs[row.source_publication_id]
    return source


_KEY_SAFE = re.compile(r"[^a-z0-9]+")


def export_bundle(publication: Publication, *, ids: bool = False) -> dict:
    """The publication and everything cited from it, in the bundle format.

    ``ids`` names each study, arm and patient row by its id, so that importing the
    document back into this catalogue updates those rows even where their labels
    changed (curation edits). Without them (the public export) the document matches
    rows by natural keys, and so travels to another catalogue."""

    def row_id(row) -> dict:
        return {"id": row.pk} if ids else {}

    report_order = list(
        StudyReport.objects.filter(publication=publication)
        .order_by("pk")
        .values_list("study_id", flat=True)
    )
    studies = sorted(
        public(Study.objects.filter(pk__in=report_order)).prefetch_related(
            "countries", "registry_ids"
        ),
        key=lambda study: report_order.index(study.pk),
    )
    cutoffs = dict(
        StudyReport.objects.filter(publication=publication).values_list("study_id", "data_cutoff")
    )
    mine = Q(source_publication=publication)
    patients = list(
        public(Patient.objects.filter(mine))
        .select_related("arm", "primary_disease", "person")
        .prefetch_related("secondary_diseases", "prior_therapies")
        .order_by("pk")
    )
    results = list(
        public(OutcomeResult.objects.filter(mine)).select_related("measure").order_by("pk")
    )
    events = list(public(AdverseEvent.objects.filter(mine)).order_by("pk"))
    used_arms = (
        {p.arm_id for p in patients}
        | {r.arm_id for r in results if r.arm_id}
        | {e.arm_id for e in events if e.arm_id}
        | set(ArmProduct.objects.filter(mine).values_list("arm_id", flat=True))
    )
    arms = list(
        public(Arm.objects.filter(Q(study__in=studies) & (mine | Q(pk__in=used_arms))))
        .select_related("disease", "lymphodepletion")
        .order_by("pk")
    )
    products = list(
        public(ArmProduct.objects.filter(arm__in=arms))
        .select_related("construct")
        .order_by("arm_id", "order")
    )
    construct_ids = {p.construct_id for p in products}
    constructs = list(
        CarConstruct.objects.filter(pk__in=construct_ids)
        .prefetch_related("aliases", "targets", "costimulatory_domains")
        .order_by("name")
    )
    linked = {}
    person_ids = {p.person_id for p in patients if p.person_id}
    for other in (
        Patient.objects.filter(person_id__in=person_ids)
        .select_related("arm", "source_publication")
        .order_by("pk")
    ):
        linked.setdefault(other.person_id, []).append(other)

    cited = {publication.pk}
    for row in [*arms, *products, *patients, *results, *events]:
        cited.add(row.source_publication_id)
    for others in linked.values():
        cited.update(o.source_publication_id for o in others)
    refs = {p.pk: publication_ref(p) for p in Publication.objects.filter(pk__in=cited)}

    keys = {}
    for study in studies:
        base = study.short_name or study.title
        key = _KEY_SAFE.sub("-", base.lower()).strip("-")[:60] or "study"
        while key in keys.values():
            key += "-2"
        keys[study.pk] = key

    results_by = defaultdict(list)
    for result in results:
        results_by[
            ("arm", result.arm_id) if result.arm_id else ("patient", result.patient_id)
        ].append(result)
    events_by = defaultdict(list)
    for event in events:
        events_by[("arm", event.arm_id) if event.arm_id else ("patient", event.patient_id)].append(
            event
        )
    products_by = defaultdict(list)
    for product in products:
        products_by[product.arm_id].append(product)

    def outcome(row):
        return {
            "measure": row.measure.code,
            **_plain(row, OUTCOME_FIELDS),
            "source": _source(row, publication, refs),
        }

    def event(row):
        return {**_plain(row, ADVERSE_EVENT_FIELDS), "source": _source(row, publication, refs)}

    def arm_entry(arm):
        return {
            **row_id(arm),
            "label": arm.label,
            "disease": arm.disease.code,
            "lymphodepletion": arm.lymphodepletion.code if arm.lymphodepletion_id else None,
            "n_patients": arm.n_patients,
            "source": _source(arm, publication, refs),
            "products": [
                {
                    "construct": p.construct.name,
                    **_plain(p, PRODUCT_FIELDS),
                    "source": _source(p, publication, refs),
                }
                for p in products_by[arm.pk]
            ],
            "outcomes": [outcome(r) for r in results_by[("arm", arm.pk)]],
            "adverse_events": [event(e) for e in events_by[("arm", arm.pk)]],
        }

    def study_entry(study):
        return {
            "key": keys[study.pk],
            **row_id(study),
            **_plain(study, STUDY_FIELDS),
            "countries": sorted(c.code for c in study.countries.all()),
            "registry_ids": [
                {"registry": r.registry, "identifier": r.identifier}
                for r in sorted(study.registry_ids.all(), key=lambda r: r.pk)
            ],
            "data_cutoff": cutoffs[study.pk].isoformat() if cutoffs.get(study.pk) else None,
            "arms": [arm_entry(a) for a in arms if a.study_id == study.pk],
        }

    def patient_entry(patient):
        study_key = keys.get(patient.arm.study_id)
        others = [o for o in linked.get(patient.person_id, []) if o.pk != patient.pk]
        return {
            **row_id(patient),
            "study": study_key,
            "arm": patient.arm.label,
            **_plain(patient, PATIENT_FIELDS),
            "primary_disease": patient.primary_disease.code,
            "secondary_diseases": sorted(d.code for d in patient.secondary_diseases.all()),
            "prior_therapies": sorted(t.code for t in patient.prior_therapies.all()),
            "same_person_as": [
                {"publication": refs[o.source_publication_id], "arm": o.arm.label, "label": o.label}
                for o in others
            ],
            "person_evidence": patient.person_evidence,
            "source": _source(patient, publication, refs),
            "outcomes": [outcome(r) for r in results_by[("patient", patient.pk)]],
            "adverse_events": [event(e) for e in events_by[("patient", patient.pk)]],
        }

    authors = publication.authors.order_by("position")
    return {
        "format": FORMAT,
        "publication": {
            **_plain(publication, PUBLICATION_FIELDS),
            "authors": [
                {"family_name": a.family_name, "given_names": a.given_names} for a in authors
            ],
            "superseded_by": refs_for(publication.superseded_by),
        },
        "constructs": [
            {
                "name": c.name,
                "aliases": sorted(a.alias for a in c.aliases.all()),
                "targets": sorted(t.code for t in c.targets.all()),
                **_plain(c, CONSTRUCT_FIELDS),
                "costimulatory_domains": sorted(d.code for d in c.costimulatory_domains.all()),
            }
            for c in constructs
        ],
        "studies": [study_entry(s) for s in studies],
        "patients": [patient_entry(p) for p in patients if p.arm.study_id in keys],
    }


def refs_for(publication: Publication | None) -> dict | None:
    return publication_ref(publication) if publication is not None else None
