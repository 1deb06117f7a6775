"""Previewing and confirming an import.

``import_preview`` reads the file and sorts every record into new, matching an
existing record, or invalid, without writing anything. ``import_confirm`` does the
same again inside one transaction (so what it writes reflects the database at that
moment, not at preview time) and then writes every new record: a draft curation
Extraction per new citation (live tables hold accepted data only, so a publication
becomes public when a reviewer accepts its extraction), a RegistryRecord per new
registry record. If anything is invalid, nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Upper
from django.urls import reverse

from curation import rules
from curation.models import OPEN_STATUSES, Extraction
from curation.services import AlreadyOpen, PublicationAlreadyPublic, extraction_create
from studies.choices import Phase, StudyStatus
from studies.models import Country, Disease, Publication, RegistryId

from .models import RegistryRecord
from .parsers import (
    CITATION,
    REGISTRY,
    ImportFormat,
    ParsedRecord,
    ParseFailed,
    Problem,
    detect_format,
)
from .parsers import parse as parse_file
from .vocabulary import country_index, disease_index, match_diseases, name_key

NEW = "new"
MATCH = "match"
INVALID = "invalid"
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 * 1024


class ImportRefused(Exception):
    """Nothing was (or can be) imported; ``message`` says why, ``problems`` where."""

    status_code = 400

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class ImportForbidden(ImportRefused):
    status_code = 403


class ImportTooLarge(ImportRefused):
    status_code = 413


def max_upload_bytes() -> int:
    return int(getattr(settings, "IMPORTS_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def file_size(size: int) -> str:
    """2097152 -> '2 MB', 3250586 -> '3.1 MB', 1536 -> '1.5 kB'."""
    for unit, scale in (("MB", 1024 * 1024), ("kB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def check_size(size: int) -> None:
    """Refuse a file over the limit before it is read."""
    limit = max_upload_bytes()
    if size > limit:
        raise ImportTooLarge(f"The file is {file_size(size)}; the limit is {file_size(limit)}.")


@dataclass
class Existing:
    """The record a citation or registry record matches, for the preview to link."""

    label: str
    url: str = ""


@dataclass
class PreviewRow:
    record: ParsedRecord
    status: str
    existing: Existing | None = None
    note: str = ""

    @property
    def problems(self) -> list[Problem]:
        return self.record.problems

    @property
    def fields(self) -> dict:
        return self.record.fields

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def summary(self) -> str:
        """A one-line description of the record, for lists."""
        fields = self.record.fields
        if self.record.kind == REGISTRY:
            return " ".join(part for part in (fields.get("identifier"), fields.get("title"))
                            if part)
        authors = fields.get("authors") or []
        who = f"{authors[0]['family_name']} et al." if authors else fields.get("journal", "")
        return " ".join(str(part) for part in (who, fields.get("year"), fields.get("title"))
                        if part)

    @property
    def registry_details(self) -> str:
        """Phase, status, sponsor, countries and diseases of a registry record."""
        fields = self.record.fields
        parts = [
            Phase(fields["phase"]).label if fields.get("phase") else "",
            StudyStatus(fields["status"]).label if fields.get("status") else "",
            fields.get("sponsor", ""),
            ", ".join(fields.get("countries") or []),
            ", ".join(fields.get("diseases") or []),
        ]
        return " · ".join(part for part in parts if part)

    def as_dict(self) -> dict:
        fields = {
            name: value for name, value in self.record.fields.items()
            if name not in ("raw", "country_names")
        }
        for name in ("start_date", "completion_date"):
            if fields.get(name):
                fields[name] = fields[name].isoformat()
        return {
            "record": self.record.record,
            "line": self.record.line,
            "kind": self.record.kind,
            "status": self.status,
            "summary": self.summary,
            "fields": fields,
            "existing": (
                {"label": self.existing.label, "url": self.existing.url}
                if self.existing else None
            ),
            "note": self.note,
            "problems": [problem.as_dict() for problem in self.problems],
        }


@dataclass
class ImportPreview:
    import_format: str
    filename: str
    rows: list[PreviewRow] = field(default_factory=list)

    @property
    def format_label(self) -> str:
        return ImportFormat(self.import_format).label

    def with_status(self, status: str) -> list[PreviewRow]:
        return [row for row in self.rows if row.status == status]

    @property
    def new(self) -> list[PreviewRow]:
        return self.with_status(NEW)

    @property
    def matches(self) -> list[PreviewRow]:
        return self.with_status(MATCH)

    @property
    def invalid(self) -> list[PreviewRow]:
        return self.with_status(INVALID)

    @property
    def problems(self) -> list[Problem]:
        return [problem for row in self.invalid for problem in row.problems]

    @property
    def can_confirm(self) -> bool:
        return not self.invalid and bool(self.new)

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "matches": len(self.matches),
                "invalid": len(self.invalid)}


@dataclass
class ImportResult:
    preview: ImportPreview
    extractions: list[Extraction]
    registry_records: list[RegistryRecord]


# Reading and classifying --------------------------------------------------------------------


def _read(*, content: bytes, filename: str, import_format: str | None) -> tuple[str, list]:
    check_size(len(content))
    chosen = import_format or detect_format(filename, content)
    if chosen is None:
        raise ImportRefused(
            f"Cannot tell the format of '{filename or 'the file'}': choose RIS, BibTeX, "
            "PubMed XML or ClinicalTrials.gov JSON."
        )
    try:
        return chosen, parse_file(chosen, content)
    except ParseFailed as failed:
        raise ImportRefused(
            f"The file could not be read ({failed.problems[0].where}): "
            f"{failed.problems[0].message}",
            failed.problems,
        ) from failed


def _resolve_vocabularies(records: list[ParsedRecord]) -> None:
    """Registry records: country names to codes (an unknown country is a problem),
    conditions to disease codes (unmatched conditions stay as text)."""
    registry_records = [record for record in records if record.kind == REGISTRY]
    if not registry_records:
        return
    countries = country_index(list(Country.objects.values_list("code", "name")))
    diseases = disease_index(list(Disease.objects.values_list("code", "name", "abbreviation")))
    for record in registry_records:
        codes: list[str] = []
        for country in record.fields.get("country_names", []):
            code = countries.get(name_key(country["name"]))
            if code is None:
                record.problem(
                    f"'{country['name']}' is not a country carlit knows; add it to the "
                    "countries vocabulary first.", field=country["field"],
                )
            elif code not in codes:
                codes.append(code)
        record.fields["countries"] = codes
        record.fields["diseases"] = match_diseases(record.fields.get("conditions", []), diseases)


def _citation_matches(rows: list[PreviewRow], user) -> None:
    citations = [row for row in rows if row.kind == CITATION and row.status == NEW]
    dois = {row.fields["doi"] for row in citations if row.fields.get("doi")}
    pmids = {row.fields["pmid"] for row in citations if row.fields.get("pmid")}
    if not dois and not pmids:
        return
    by_doi: dict[str, Existing] = {}
    by_pmid: dict[int, Existing] = {}
    # Open extractions first, so that a live publication (the stronger match) wins.
    extractions = Extraction.objects.filter(status__in=OPEN_STATUSES, publication__isnull=True)
    extractions = extractions.filter(
        Q(payload__publication__doi__in=sorted(dois))
        | Q(payload__publication__pmid__in=sorted(pmids))
    ).select_related("curator")
    for extraction in extractions:
        existing = Existing(
            f"{extraction.citation}: an open extraction by {extraction.curator.get_username()} "
            f"({extraction.get_status_display().lower()})",
            # Curators see only their own drafts: no link to one they cannot open.
            extraction.get_absolute_url() if rules.may_view(user, extraction) else "",
        )
        doi, pmid = extraction.citation_fields.get("doi"), extraction.citation_fields.get("pmid")
        if doi:
            by_doi.setdefault(doi, existing)
        if pmid:
            by_pmid.setdefault(pmid, existing)
    publications = Publication.objects.filter(
        Q(doi__in=sorted(dois)) | Q(pmid__in=sorted(pmids))
    ).prefetch_related("authors")
    for publication in publications:
        existing = Existing(
            f"{publication.short_citation}: in the catalogue",
            reverse("curation:record_history", args=["publication", publication.pk]),
        )
        if publication.doi:
            by_doi[publication.doi] = existing
        if publication.pmid:
            by_pmid[publication.pmid] = existing
    for row in citations:
        existing = by_doi.get(row.fields.get("doi")) or by_pmid.get(row.fields.get("pmid"))
        if existing is not None:
            row.status, row.existing = MATCH, existing


def _registry_matches(rows: list[PreviewRow]) -> None:
    records = [row for row in rows if row.kind == REGISTRY and row.status == NEW]
    identifiers = {row.fields["identifier"].upper() for row in records}
    if not identifiers:
        return
    found: dict[str, Existing] = {}
    for record in RegistryRecord.objects.filter(identifier__in=sorted(identifiers)):
        found[record.identifier.upper()] = Existing(
            f"{record.identifier}: imported {record.imported_at:%Y-%m-%d}",
            record.get_absolute_url(),
        )
    live = RegistryId.objects.annotate(upper=Upper("identifier")).filter(
        upper__in=sorted(identifiers)
    ).select_related("study")
    for registry_id in live:
        found[registry_id.identifier.upper()] = Existing(
            f"{registry_id.identifier}: {registry_id.study} in the catalogue",
            reverse("studies:study_detail", args=[registry_id.study_id]),
        )
    for row in records:
        existing = found.get(row.fields["identifier"].upper())
        if existing is not None:
            row.status, row.existing = MATCH, existing


def _classify(
    import_format: str, filename: str, records: list[ParsedRecord], user
) -> ImportPreview:
    _resolve_vocabularies(records)
    preview = ImportPreview(import_format=import_format, filename=filename)
    seen: dict[tuple, ParsedRecord] = {}
    for record in records:
        row = PreviewRow(record=record, status=INVALID if record.problems else NEW)
        preview.rows.append(row)
        if row.status == INVALID:
            continue
        # A second copy in the same file is a match to the first, never a second draft.
        keys = (
            [("identifier", record.fields["identifier"].upper())] if record.kind == REGISTRY
            else [(name, record.fields[name]) for name in ("doi", "pmid")
                  if record.fields.get(name)]
        )
        first = next((seen[key] for key in keys if key in seen), None)
        if first is not None:
            row.status = MATCH
            row.existing = Existing(f"the same record as {first.where} of this file")
            row.note = "duplicate"
        for key in keys:
            seen.setdefault(key, record)
    _citation_matches(preview.rows, user)
    _registry_matches(preview.rows)
    return preview


def _check_curator(user) -> None:
    if not rules.is_curator(user):
        raise ImportForbidden("Only curators can import citations and registry records.")


def import_preview(
    *, user, content: bytes, filename: str = "", import_format: str | None = None
) -> ImportPreview:
    """What importing the file would do, record by record; nothing is written."""
    _check_curator(user)
    chosen, records = _read(content=content, filename=filename, import_format=import_format)
    return _classify(chosen, filename, records, user)


# Writing --------------------------------------------------------------------------------------


def import_confirm(
    *, user, content: bytes, filename: str = "", import_format: str | None = None
) -> ImportResult:
    """Write every new record of the file, in one transaction, or nothing.

    The file is read and classified again here: a record that became a match since the
    preview (someone imported it meanwhile) is not written twice."""
    _check_curator(user)
    chosen, records = _read(content=content, filename=filename, import_format=import_format)
    try:
        with transaction.atomic():
            # One import at a time per curator: a double-clicked Confirm waits for the
            # first, then finds its records already there.
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            preview = _classify(chosen, filename, records, user)
            if preview.invalid:
                count = len(preview.invalid)
                raise ImportRefused(
                    f"Nothing was imported: {count} record{'s are' if count != 1 else ' is'} "
                    "invalid. Correct the file and upload it again.",
                    preview.problems,
                )
            extractions = _create_extractions(user, preview)
            registry_records = _create_registry_records(user, preview)
    except IntegrityError as error:  # another curator imported the same registry id
        raise ImportRefused(
            "Nothing was imported: some of these records were imported by someone else "
            "meanwhile. Upload the file again to see the current state."
        ) from error
    return ImportResult(preview=preview, extractions=extractions,
                        registry_records=registry_records)


def _create_extractions(user, preview: ImportPreview) -> list[Extraction]:
    created = []
    for row in preview.new:
        if row.kind != CITATION:
            continue
        try:
            created.append(extraction_create(curator=user, citation=dict(row.fields)))
        except (PublicationAlreadyPublic, AlreadyOpen) as refused:
            # Classification said new a moment ago in this transaction; only a
            # concurrent writer gets here. All or nothing: undo the whole import.
            raise ImportRefused(
                f"Nothing was imported: {row.record.where}: {refused.message}"
            ) from refused
    return created


def _create_registry_records(user, preview: ImportPreview) -> list[RegistryRecord]:
    rows = [row for row in preview.new if row.kind == REGISTRY]
    if not rows:
        return []
    records = RegistryRecord.objects.bulk_create([
        RegistryRecord(
            registry=row.fields["registry"],
            identifier=row.fields["identifier"],
            title=row.fields["title"],
            acronym=row.fields["acronym"],
            phase=row.fields["phase"],
            status=row.fields["status"],
            sponsor=row.fields["sponsor"],
            conditions=row.fields["conditions"],
            start_date=row.fields["start_date"],
            completion_date=row.fields["completion_date"],
            raw=row.fields["raw"],
            imported_by=user,
        )
        for row in rows
    ])
    if any(record.pk is None for record in records):  # a backend without RETURNING
        by_identifier = RegistryRecord.objects.in_bulk(
            [record.identifier for record in records], field_name="identifier"
        )
        records = [by_identifier[record.identifier] for record in records]
    country_ids = dict(Country.objects.values_list("code", "pk"))
    disease_ids = dict(Disease.objects.values_list("code", "pk"))
    Countries = RegistryRecord.countries.through
    Diseases = RegistryRecord.diseases.through
    Countries.objects.bulk_create([
        Countries(registryrecord_id=record.pk, country_id=country_ids[code])
        for record, row in zip(records, rows, strict=True) for code in row.fields["countries"]
    ])
    Diseases.objects.bulk_create([
        Diseases(registryrecord_id=record.pk, disease_id=disease_ids[code])
        for record, row in zip(records, rows, strict=True) for code in row.fields["diseases"]
    ])
    return records
