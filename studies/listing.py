"""Study lists for pages (catalogue, home, disease and construct pages): each page of
rows is one SQL statement.

A row's related values (registry ids, publications, diseases, targets, constructs,
countries) come as lists built in SQL, compiled once per process as the API list's are
(api/compiled.py), and the template reads them from small plain objects: loading model
instances and prefetching their relations cost five times what the database took.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import OuterRef, QuerySet, Subquery
from django.urls import get_script_prefix, reverse

from .api.aggregates import JSONList
from .api.compiled import compiled_columns
from .choices import Phase, StudyDesign, StudyStatus
from .models import (
    Antigen,
    Arm,
    ArmProduct,
    Country,
    PublicationAuthor,
    RegistryId,
    Study,
    StudyReport,
)
from .models.publications import short_citation
from .summary import antigen_order
from .visibility import public

PHASES = dict(Phase.choices)
DESIGNS = dict(StudyDesign.choices)
STATUSES = dict(StudyStatus.choices)


# Links are reversed once per process and script prefix (which a deployment under a
# path sets per request), then reused: reverse() costs ~100 us, and one per study was
# about a fifth of a whole-catalogue CSV export.


@functools.lru_cache(maxsize=4096)
def _url(prefix: str, name: str, key) -> str:
    """The page of a vocabulary value (a disease, a construct): the same few come back
    on every page. ``prefix``, which reverse() applies, is there to key the cache."""
    return reverse(name, args=[key])


_SOME_PK = 2**31 - 1


@functools.lru_cache(maxsize=8)
def _study_url_parts(prefix: str) -> tuple[str, str]:  # prefix: as for _url
    before, _, after = reverse("studies:study_detail", args=[_SOME_PK]).rpartition(str(_SOME_PK))
    return before, after


def _study_url(prefix: str, pk: int) -> str:
    before, after = _study_url_parts(prefix)
    return f"{before}{pk}{after}"


@dataclass(frozen=True)
class Value:
    """A vocabulary value as a row shows it: ``label`` is what str() of the model gives."""

    code: str
    name: str
    label: str
    url: str = ""

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Construct:
    pk: int
    name: str
    url: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ListedPublication:
    first_author: str
    journal: str
    year: int | None = None
    doi: str | None = None
    pmid: int | None = None

    @property
    def short_citation(self) -> str:
        return short_citation(self.first_author, self.journal, self.year)


@dataclass(frozen=True)
class ListedStudy:
    """The study columns a row shows (``study`` in templates)."""

    pk: int
    title: str
    phase: str
    url: str
    short_name: str = ""
    design: str = ""
    status: str = ""

    def get_phase_display(self) -> str:
        return PHASES.get(self.phase, self.phase)

    def get_design_display(self) -> str:
        return DESIGNS.get(self.design, self.design)

    def get_status_display(self) -> str:
        return STATUSES.get(self.status, self.status)


@dataclass
class ListRow:
    """One study of a list, as studies/partials/study_table.html shows it."""

    study: ListedStudy
    first_publication: ListedPublication | None
    year: int | None
    patient_count: int | None
    registry_ids: list[str]
    diseases: list[Value]
    targets: list[Value]
    constructs: list[Construct]
    countries: list[Value]
    publications: list[ListedPublication] = field(default_factory=list)  # oldest first


def _columns() -> dict:
    arms = public(Arm.objects.filter(study=OuterRef("pk")))
    products = public(ArmProduct.objects.filter(arm__study=OuterRef("pk")))
    first_author = PublicationAuthor.objects.filter(publication=OuterRef("publication"))
    reports = public(StudyReport.objects.filter(study=OuterRef("pk"))).annotate(
        first_author=Subquery(first_author.order_by("position").values("family_name")[:1])
    )
    targets = Antigen.objects.filter(
        constructs__in=public(
            ArmProduct.objects.filter(arm__study=OuterRef(OuterRef("pk")))
        ).values("construct_id")
    )
    return {
        "registry_ids": JSONList(
            RegistryId.objects.filter(study=OuterRef("pk")),
            "identifier",
            order_by=["registry", "identifier"],
        ),
        # Every report's publication, oldest first; the row shows the first.
        "publications": JSONList(
            reports,
            fields={
                "author": "first_author",
                "journal": "publication__journal",
                "year": "publication__year",
                "doi": "publication__doi",
                "pmid": "publication__pmid",
            },
            order_by=["publication__year", "publication_id"],
        ),
        "diseases": JSONList(
            arms,
            fields={
                "code": "disease__code",
                "abbreviation": "disease__abbreviation",
                "name": "disease__name",
            },
        ),
        "targets": JSONList(targets, fields={"code": "code", "name": "name"}),
        "constructs": JSONList(
            products,
            fields={"id": "construct_id", "name": "construct__name"},
            order_by=["arm__label", "arm_id", "order"],
        ),
        "countries": JSONList(
            Country.objects.filter(studies=OuterRef("pk")),
            fields={"code": "code", "name": "name"},
            order_by=["name"],
        ),
    }


@functools.cache
def _compiled(using: str) -> dict:
    return compiled_columns(public(Study.objects.using(using)), _columns())


def _antigen_label(code: str, name: str) -> str:
    # As Antigen.__str__: CD antigens and BCMA by their code, others by name.
    return code.upper() if code.startswith("cd") or code == "bcma" else name


def _row(values: dict, prefix: str) -> ListRow:
    publications = [
        ListedPublication(p["author"] or "", p["journal"], p["year"], p["doi"], p["pmid"])
        for p in values["publications"]
    ]
    diseases = {
        d["code"]: Value(
            d["code"],
            d["name"],
            d["abbreviation"] or d["name"],
            _url(prefix, "studies:disease_detail", d["code"]),
        )
        for d in values["diseases"]
    }
    targets = {
        t["code"]: Value(t["code"], t["name"], _antigen_label(t["code"], t["name"]))
        for t in values["targets"]
    }
    constructs = {
        c["id"]: Construct(c["id"], c["name"], _url(prefix, "studies:construct_detail", c["id"]))
        for c in values["constructs"]
    }
    return ListRow(
        study=ListedStudy(
            values["id"],
            values["title"],
            values["phase"],
            _study_url(prefix, values["id"]),
            values["short_name"],
            values["design"],
            values["status"],
        ),
        first_publication=publications[0] if publications else None,
        year=values["first_year"],
        patient_count=values["patient_count"],
        registry_ids=values["registry_ids"],
        diseases=sorted(diseases.values(), key=str),
        targets=sorted(targets.values(), key=antigen_order),
        constructs=list(constructs.values()),
        countries=[Value(c["code"], c["name"], c["name"]) for c in values["countries"]],
        publications=publications,
    )


def list_rows(studies: QuerySet[Study]) -> list[ListRow]:
    """Rows of ``studies`` (public, filtered and ordered, possibly a slice) in their
    order: one query. The queryset must not join other tables (a study would come once
    per joined row); the catalogue's filters match related rows by subqueries."""
    values = studies.values(
        "id", "title", "phase", "first_year", "patient_count", "short_name", "design", "status"
    ).annotate(**_compiled(studies.db))
    prefix = get_script_prefix()
    return [_row(row, prefix) for row in values]


EXPORT_CHUNK = 1000


def export_rows(studies: QuerySet[Study], chunk: int | None = None) -> Iterator[ListRow]:
    """Rows of every study of ``studies`` in its order, with the columns exports add,
    fetched ``chunk`` studies at a time: a download of the whole catalogue starts at
    once and holds one chunk in memory."""
    chunk = chunk or EXPORT_CHUNK
    ids = list(studies.values_list("pk", flat=True))
    base = public(Study.objects.using(studies.db)).order_by()
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        by_id = {row.study.pk: row for row in list_rows(base.filter(pk__in=part))}
        # A study deleted since the ids were read is left out, not an error mid-download.
        yield from (by_id[pk] for pk in part if pk in by_id)
