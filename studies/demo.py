"""Loading the demo data set (data/demo_studies.json) into the catalogue.

The file's format is described in its own "about" list. In short: constructs,
publications, studies (with reports, arms, products, patients, results and adverse
events) and persons, keyed by natural keys and vocabulary codes, every number with its
source. :func:`load_demo_data` writes it in one transaction, through ``full_clean()``,
and can be run any number of times.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction

from .identifiers import detect_registry, normalize_doi, normalize_registry_id
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
from .models.base import Curated

DEMO_DATA_PATH = Path(settings.BASE_DIR) / "data" / "demo_studies.json"
FILE_FORMAT = "carlit-demo-studies"
FILE_VERSION = 1
SYSTEM_USERNAME = "carlit-demo"
# The file may give time points and durations in months; stored as days at 30 per month.
DAYS_PER_MONTH = 30

# Keys every record may carry for people reading the file; the loader ignores them.
COMMENT_KEYS = {"curator_note"}

# The fields each kind of record may have (anything else is a typo and is refused).
SOURCE_KEYS = {"publication", "kind", "label"}
CONSTRUCT_KEYS = set(
    "name aliases targets costimulatory_domains binder_type binder_origin binder_name hinge "
    "transmembrane vector cell_source developer notes".split()
)
PUBLICATION_KEYS = set(
    "key type doi pmid pmcid title journal year volume issue pages abstract authors "
    "superseded_by".split()
)
AUTHOR_KEYS = {"family_name", "given_names"}
STUDY_KEYS = set(
    "title short_name design phase status sponsor countries start_date completion_date "
    "registry_ids reports arms".split()
)
REPORT_KEYS = {"publication", "data_cutoff"}
ARM_KEYS = set(
    "label disease lymphodepletion n_patients source products patients results "
    "adverse_events".split()
)
PRODUCT_KEYS = set(
    "construct order administration dose_value dose_value_max dose_unit source".split()
)
PATIENT_KEYS = set(
    "key label age_years sex primary_disease secondary_diseases disease_duration_months "
    "disease_duration_years prior_therapies follow_up_days follow_up_months source results "
    "adverse_events".split()
)
RESULT_VALUE_FIELDS = tuple(
    "value unit value_bool n_evaluable n_events median minimum maximum iqr_low iqr_high mean "
    "sd".split()
)
RESULT_KEYS = {"measure", "timepoint", "day", "month", "source", *RESULT_VALUE_FIELDS}
ADVERSE_EVENT_FIELDS = tuple(
    "event_type term grading_system grade onset_day duration_days n_affected n_evaluable".split()
)
ADVERSE_EVENT_KEYS = {"source", *ADVERSE_EVENT_FIELDS}
PERSON_KEYS = {"note", "reports"}
PERSON_REPORT_KEYS = {"patient", "evidence"}

# Model field -> the file's name for it, so that errors name what the curator wrote.
FILE_FIELD_NAMES = {
    "source_publication": "source.publication",
    "source_kind": "source.kind",
    "source_label": "source.label",
    "publication_type": "type",
    "person_evidence": "evidence",
}


class DemoDataError(Exception):
    """The data file is malformed or a record fails validation. The message names the
    record (its path in the file) and the field."""


@dataclass
class LoadSummary:
    """Rows created, updated and found unchanged, per model."""

    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)

    def count(self, model: type[models.Model], outcome: str) -> None:
        getattr(self, outcome)[model._meta.verbose_name_plural] += 1

    @property
    def total_created(self) -> int:
        return sum(self.created.values())

    def lines(self) -> list[str]:
        names = sorted(set(self.created) | set(self.updated) | set(self.unchanged))
        return [
            f"{name}: {self.created[name]} created, {self.updated[name]} updated, "
            f"{self.unchanged[name]} unchanged"
            for name in names
        ]


def load_demo_data(*, path: Path | str = DEMO_DATA_PATH) -> LoadSummary:
    """Load the demo data file; idempotent (a second run creates nothing).

    Every row goes through ``full_clean()``. On any error nothing is written and
    :class:`DemoDataError` names the record and field."""
    document = _read(Path(path))
    with transaction.atomic():
        loader = _Loader()
        loader.load(document)
    return loader.summary


def _read(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DemoDataError(f"{path}: cannot read the file ({exc.strerror}).") from exc
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise DemoDataError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
        ) from exc
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise DemoDataError(f"{path}: not a carlit demo data file (format '{FILE_FORMAT}').")
    if document.get("version") != FILE_VERSION:
        raise DemoDataError(f"{path}: version {document.get('version')!r} is not supported.")
    return document


class _Loader:
    def __init__(self):
        self.summary = LoadSummary()
        self.trail: list[str] = []
        self.user = self._system_user()
        self.publications: dict[str, Publication] = {}
        self.constructs: dict[str, CarConstruct] = {}
        self.patients: dict[str, Patient] = {}
        self.seen: set[tuple] = set()
        self.vocabularies = {
            "disease": {d.code: d for d in Disease.objects.all()},
            "antigen": {a.code: a for a in Antigen.objects.all()},
            "costimulatory domain": {c.code: c for c in CostimulatoryDomain.objects.all()},
            "therapy": {t.code: t for t in Therapy.objects.all()},
            "country": {c.code: c for c in Country.objects.all()},
            "lymphodepletion regimen": {r.code: r for r in LymphodepletionRegimen.objects.all()},
            "measure": {m.code: m for m in OutcomeMeasure.objects.all()},
        }

    # Reporting where we are ------------------------------------------------------------

    @contextmanager
    def at(self, record: str) -> Iterator[None]:
        self.trail.append(record)
        try:
            yield
        finally:
            self.trail.pop()

    def error(self, field_name: str | None, message: str) -> DemoDataError:
        where = " › ".join(self.trail) or "file"
        if field_name:
            return DemoDataError(f"{where}: {field_name}: {message}")
        return DemoDataError(f"{where}: {message}")

    def check_keys(self, record: Any, allowed: set[str], required: set[str] = frozenset()):
        if not isinstance(record, dict):
            raise self.error(None, "expected an object")
        unknown = sorted(set(record) - allowed - COMMENT_KEYS)
        if unknown:
            raise self.error(unknown[0], "unknown field")
        for name in sorted(required):
            if record.get(name) in (None, ""):
                raise self.error(name, "required")

    def items(self, record: dict, name: str) -> list:
        value = record.get(name) or []
        if not isinstance(value, list):
            raise self.error(name, "expected a list")
        return value

    # Lookups ----------------------------------------------------------------------------

    def vocabulary(self, kind: str, code: Any, field_name: str):
        if code in (None, ""):
            return None
        try:
            return self.vocabularies[kind][code]
        except (KeyError, TypeError):
            raise self.error(field_name, f"unknown {kind} code {code!r}") from None

    def vocabulary_list(self, kind: str, record: dict, field_name: str) -> list:
        return [self.vocabulary(kind, code, field_name) for code in self.items(record, field_name)]

    def publication(self, key: Any, field_name: str) -> Publication:
        try:
            return self.publications[key]
        except (KeyError, TypeError):
            raise self.error(field_name, f"no publication with key {key!r} in the file") from None

    def construct(self, name: Any, field_name: str) -> CarConstruct:
        try:
            return self.constructs[name]
        except (KeyError, TypeError):
            raise self.error(field_name, f"no construct named {name!r} in the file") from None

    def source(self, record: dict) -> dict:
        source = record.get("source")
        with self.at("source"):
            self.check_keys(source, SOURCE_KEYS, required=SOURCE_KEYS)
            return {
                "source_publication": self.publication(source["publication"], "publication"),
                "source_kind": source["kind"],
                "source_label": source["label"],
            }

    def day(self, record: dict, days: str, months: str) -> int | None:
        if record.get(days) is not None and record.get(months) is not None:
            raise self.error(months, f"give either {days} or {months}, not both")
        if record.get(months) is not None:
            return _whole(Decimal(record[months]) * DAYS_PER_MONTH)
        return record.get(days)

    # Writing ----------------------------------------------------------------------------

    def save(
        self,
        model: type[models.Model],
        lookup: dict,
        values: dict | None = None,
        *,
        natural_key: tuple | None = None,
    ):
        """Insert or update the row found by lookup (its natural key), through full_clean().

        natural_key, when the lookup is not the natural key itself, is what makes two
        records of the file the same row."""
        if natural_key is None:
            natural_key = tuple(sorted((k, _identity(v)) for k, v in lookup.items()))
        if (model.__name__, natural_key) in self.seen:
            raise self.error(None, f"the file gives this {model._meta.verbose_name} twice")
        self.seen.add((model.__name__, natural_key))
        values = values or {}
        row = model.objects.filter(**lookup).first() if lookup else None
        created = row is None
        if created:
            row = model(**{k: v for k, v in lookup.items() if k != "pk"})
            if isinstance(row, Curated):
                row.created_by = self.user
        changed = created or any(_differs(getattr(row, k), v) for k, v in values.items())
        for name, value in values.items():
            setattr(row, name, value)
        if changed:
            self.clean(row)
            row.save()
        self.summary.count(model, "created" if created else "updated" if changed else "unchanged")
        return row

    def clean(self, row: models.Model) -> None:
        try:
            row.full_clean()
        except ValidationError as exc:
            problems = []
            for name, messages in exc.message_dict.items():
                label = FILE_FIELD_NAMES.get(name, name)
                text = " ".join(messages)
                problems.append(text if name == "__all__" else f"{label}: {text}")
            raise self.error(None, "; ".join(problems)) from exc

    def _system_user(self):
        User = get_user_model()
        user = User.objects.filter(username=SYSTEM_USERNAME).first()
        if user is not None:
            self.summary.count(User, "unchanged")
            return user
        user = User(username=SYSTEM_USERNAME, is_active=False)
        user.set_unusable_password()
        with self.at(f"user '{SYSTEM_USERNAME}'"):
            self.clean(user)
        user.save()
        self.summary.count(User, "created")
        return user

    # The file's sections ------------------------------------------------------------------

    def load(self, document: dict) -> None:
        self.check_keys(
            document,
            {"format", "version", "about", "constructs", "publications", "studies", "persons"},
        )
        for record in self.items(document, "constructs"):
            self.load_construct(record)
        records = self.items(document, "publications")
        for record in records:
            self.load_publication(record)
        for record in records:
            self.link_superseding(record)
        for record in self.items(document, "studies"):
            self.load_study(record)
        for number, record in enumerate(self.items(document, "persons"), start=1):
            with self.at(f"person {number}"):
                self.load_person(record)

    def load_construct(self, record: dict) -> None:
        name = record.get("name") if isinstance(record, dict) else None
        with self.at(f"construct {name!r}"):
            self.check_keys(record, CONSTRUCT_KEYS, required={"name", "targets"})
            if name in self.constructs:
                raise self.error("name", "two constructs in the file have this name")
            text_fields = CONSTRUCT_KEYS - {"name", "aliases", "targets", "costimulatory_domains"}
            construct = self.save(
                CarConstruct,
                {"name": name},
                {field_name: record.get(field_name) or "" for field_name in text_fields},
            )
            construct.targets.set(self.vocabulary_list("antigen", record, "targets"))
            construct.costimulatory_domains.set(
                self.vocabulary_list("costimulatory domain", record, "costimulatory_domains")
            )
            for alias in self.items(record, "aliases"):
                with self.at(f"alias {alias!r}"):
                    self.save(ConstructAlias, {"alias": alias}, {"construct": construct})
            self.constructs[name] = construct

    def load_publication(self, record: dict) -> None:
        key = record.get("key") if isinstance(record, dict) else None
        with self.at(f"publication {key!r}"):
            self.check_keys(record, PUBLICATION_KEYS, required={"key", "type", "year"})
            if key in self.publications:
                raise self.error("key", "two publications in the file have this key")
            authors = self.items(record, "authors")
            for author in authors:
                self.check_keys(author, AUTHOR_KEYS, required={"family_name"})
            first_author = authors[0]["family_name"] if authors else ""
            values = {
                "doi": normalize_doi(record.get("doi")),
                "pmid": record.get("pmid"),
                "pmcid": record.get("pmcid"),
                "title": record.get("title") or "",
                "journal": record.get("journal") or "",
                "year": record["year"],
                "volume": record.get("volume") or "",
                "issue": record.get("issue") or "",
                "pages": record.get("pages") or "",
                "abstract": record.get("abstract") or "",
                "publication_type": record["type"],
            }
            lookup, natural_key = self.publication_lookup(values, first_author)
            publication = self.save(
                Publication,
                lookup,
                {k: v for k, v in values.items() if k not in lookup},
                natural_key=natural_key,
            )
            for position, author in enumerate(authors, start=1):
                with self.at(f"author {position}"):
                    self.save(
                        PublicationAuthor,
                        {"publication": publication, "position": position},
                        {
                            "family_name": author["family_name"],
                            "given_names": author.get("given_names") or "",
                        },
                    )
            self.publications[key] = publication

    def publication_lookup(self, values: dict, first_author: str) -> tuple[dict, tuple]:
        """Natural key: DOI, else PMID, else journal + year + first author + pages.

        Returns the lookup for the stored row (empty: not stored yet) and the key."""
        if values["doi"]:
            return {"doi": values["doi"]}, ("doi", values["doi"])
        if values["pmid"]:
            return {"pmid": values["pmid"]}, ("pmid", values["pmid"])
        if not values["journal"]:
            raise self.error("journal", "a publication without DOI or PMID needs its journal")
        key = (values["journal"], values["year"], first_author, values["pages"])
        candidates = Publication.objects.filter(
            doi=None,
            pmid=None,
            journal=values["journal"],
            year=values["year"],
            pages=values["pages"],
        ).prefetch_related("authors")
        matches = [p.pk for p in candidates if p.first_author == first_author]
        return ({"pk": min(matches)} if matches else {}), key

    def link_superseding(self, record: dict) -> None:
        key = record["key"]
        with self.at(f"publication {key!r}"):
            newer_key = record.get("superseded_by")
            newer = self.publication(newer_key, "superseded_by") if newer_key else None
            publication = self.publications[key]
            if _differs(publication.superseded_by, newer):
                publication.superseded_by = newer
                self.clean(publication)
                publication.save()

    def load_study(self, record: dict) -> None:
        title = record.get("title") if isinstance(record, dict) else None
        with self.at(f"study {title!r}"):
            self.check_keys(record, STUDY_KEYS, required={"title", "design"})
            values = {
                name: record.get(name) or ""
                for name in ("short_name", "design", "phase", "status", "sponsor")
            }
            for name in ("start_date", "completion_date"):
                values[name] = self.date(record, name)
            study = self.save(Study, {"title": title}, values)
            study.countries.set(self.vocabulary_list("country", record, "countries"))
            for identifier in self.items(record, "registry_ids"):
                with self.at(f"registry id {identifier!r}"):
                    normalised = normalize_registry_id(str(identifier))
                    registry = detect_registry(normalised)
                    if registry is None:
                        raise self.error("registry_ids", "not a known registry's format")
                    self.save(
                        RegistryId,
                        {"identifier": normalised},
                        {"study": study, "registry": registry},
                    )
            for number, report in enumerate(self.items(record, "reports"), start=1):
                with self.at(f"report {number}"):
                    self.check_keys(report, REPORT_KEYS, required={"publication"})
                    self.save(
                        StudyReport,
                        {
                            "study": study,
                            "publication": self.publication(report["publication"], "publication"),
                        },
                        {"data_cutoff": self.date(report, "data_cutoff")},
                    )
            for arm in self.items(record, "arms"):
                self.load_arm(study, arm)

    def date(self, record: dict, name: str) -> date | None:
        value = record.get(name)
        if value in (None, ""):
            return None
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            raise self.error(name, f"{value!r} is not a date (YYYY-MM-DD)") from None

    def load_arm(self, study: Study, record: dict) -> None:
        label = record.get("label") if isinstance(record, dict) else None
        with self.at(f"arm {label!r}"):
            self.check_keys(record, ARM_KEYS, required={"label", "disease", "source"})
            arm = self.save(
                Arm,
                {"study": study, "label": label},
                {
                    "disease": self.vocabulary("disease", record["disease"], "disease"),
                    "lymphodepletion": self.vocabulary(
                        "lymphodepletion regimen", record.get("lymphodepletion"), "lymphodepletion"
                    ),
                    "n_patients": record.get("n_patients"),
                    **self.source(record),
                },
            )
            for number, product in enumerate(self.items(record, "products"), start=1):
                with self.at(f"product {number}"):
                    self.load_product(arm, product, number)
            for patient in self.items(record, "patients"):
                self.load_patient(arm, patient)
            self.load_results(record, arm=arm)
            self.load_adverse_events(record, arm=arm)

    def load_product(self, arm: Arm, record: dict, number: int) -> None:
        self.check_keys(record, PRODUCT_KEYS, required={"construct", "source"})
        order = record.get("order", number)
        values = {
            "construct": self.construct(record["construct"], "construct"),
            "administration": record.get("administration") or "single",
            "dose_value": record.get("dose_value"),
            "dose_value_max": record.get("dose_value_max"),
            "dose_unit": record.get("dose_unit") or "",
            **self.source(record),
        }
        self.save(ArmProduct, {"arm": arm, "order": order}, values)

    def load_patient(self, arm: Arm, record: dict) -> None:
        key = record.get("key") if isinstance(record, dict) else None
        with self.at(f"patient {key!r}"):
            self.check_keys(
                record, PATIENT_KEYS, required={"key", "label", "primary_disease", "source"}
            )
            if key in self.patients:
                raise self.error("key", "two patients in the file have this key")
            source = self.source(record)
            if (
                record.get("disease_duration_months") is not None
                and record.get("disease_duration_years") is not None
            ):
                raise self.error(
                    "disease_duration_years",
                    "give either disease_duration_months or disease_duration_years",
                )
            duration = record.get("disease_duration_months")
            if record.get("disease_duration_years") is not None:
                duration = Decimal(record["disease_duration_years"]) * 12
            patient = self.save(
                Patient,
                {
                    "source_publication": source["source_publication"],
                    "arm": arm,
                    "label": record["label"],
                },
                {
                    "source_kind": source["source_kind"],
                    "source_label": source["source_label"],
                    "age_years": record.get("age_years"),
                    "sex": record.get("sex") or "",
                    "primary_disease": self.vocabulary(
                        "disease", record["primary_disease"], "primary_disease"
                    ),
                    "disease_duration_months": duration,
                    "follow_up_days": self.day(record, "follow_up_days", "follow_up_months"),
                },
            )
            patient.secondary_diseases.set(
                self.vocabulary_list("disease", record, "secondary_diseases")
            )
            patient.prior_therapies.set(self.vocabulary_list("therapy", record, "prior_therapies"))
            self.patients[key] = patient
            self.load_results(record, patient=patient)
            self.load_adverse_events(record, patient=patient)

    def load_results(self, record: dict, **subject) -> None:
        for number, result in enumerate(self.items(record, "results"), start=1):
            measure_code = result.get("measure") if isinstance(result, dict) else None
            with self.at(f"result {number} ({measure_code})"):
                self.check_keys(result, RESULT_KEYS, required={"measure", "source"})
                day = self.day(result, "day", "month")
                timepoint = result.get("timepoint") or ("day" if day is not None else "")
                source = self.source(result)
                values = {name: result.get(name) for name in RESULT_VALUE_FIELDS}
                values["unit"] = values["unit"] or ""
                values["source_kind"] = source["source_kind"]
                values["source_label"] = source["source_label"]
                self.save(
                    OutcomeResult,
                    {
                        "patient": subject.get("patient"),
                        "arm": subject.get("arm"),
                        "measure": self.vocabulary("measure", measure_code, "measure"),
                        "timepoint": timepoint,
                        "day": day,
                        "source_publication": source["source_publication"],
                    },
                    values,
                )

    def load_adverse_events(self, record: dict, **subject) -> None:
        for number, event in enumerate(self.items(record, "adverse_events"), start=1):
            event_type = event.get("event_type") if isinstance(event, dict) else None
            with self.at(f"adverse event {number} ({event_type})"):
                self.check_keys(event, ADVERSE_EVENT_KEYS, required={"event_type", "source"})
                source = self.source(event)
                values = {name: event.get(name) for name in ADVERSE_EVENT_FIELDS}
                for name in ("term", "grading_system"):
                    values[name] = values[name] or ""
                lookup = {
                    "patient": subject.get("patient"),
                    "arm": subject.get("arm"),
                    "source_publication": source["source_publication"],
                    **{k: values.pop(k) for k in ("event_type", "term", "grading_system", "grade")},
                }
                values["source_kind"] = source["source_kind"]
                values["source_label"] = source["source_label"]
                self.save(AdverseEvent, lookup, values)

    def load_person(self, record: dict) -> None:
        """Link patient rows of one real person; reuses the Person they already share."""
        self.check_keys(record, PERSON_KEYS, required={"note", "reports"})
        links = []
        for link in self.items(record, "reports"):
            self.check_keys(link, PERSON_REPORT_KEYS, required={"patient", "evidence"})
            patient = self.patients.get(link["patient"])
            if patient is None:
                raise self.error("patient", f"no patient with key {link['patient']!r} in the file")
            links.append((patient, link["evidence"]))
        if len(links) < 2:
            raise self.error("reports", "a person links at least two patient rows")
        existing = sorted({p.person_id for p, _ in links if p.person_id})
        lookup = {"pk": existing[0]} if existing else {"note": record["note"]}
        person = self.save(Person, lookup, {"note": record["note"]})
        for patient, evidence in links:
            with self.at(f"patient {patient.label!r} of {patient.source_publication}"):
                if _differs(patient.person, person) or patient.person_evidence != evidence:
                    patient.person = person
                    patient.person_evidence = evidence
                    self.clean(patient)
                    patient.save()
                    self.summary.updated["identity links"] += 1
                else:
                    self.summary.unchanged["identity links"] += 1


def _identity(value: Any) -> Any:
    return value.pk if isinstance(value, models.Model) else value


def _differs(current: Any, new: Any) -> bool:
    if isinstance(current, models.Model) or isinstance(new, models.Model):
        return _identity(current) != _identity(new)
    if isinstance(current, Decimal) or isinstance(new, Decimal):
        if current is None or new is None:
            return current is not new
        try:
            return Decimal(str(current)) != Decimal(str(new))
        except ArithmeticError:
            return True
    return current != new


def _whole(days: Decimal) -> int:
    return int(days.to_integral_value())
