"""Synthetic catalogue data for benchmarks and load tests.

:func:`synthetic_generate` writes N studies shaped like the real literature: case
reports, series and trials, each reported by one to three publications (an abstract
later superseded by the full paper, a series updated with longer follow-up); arms
with one or two CAR-T products (dual-target constructs and co-infused pairs among
them); patients re-reported across publications and linked to one person; outcome
results over time points within each measure's range; adverse events graded by ASTCT
or CTCAE; and, when the curation app is installed, open extractions (drafts,
submissions, returned ones). Every number is invented: nothing here describes a real
study.

The same ``seed`` and ``studies`` give the same rows (generator.py). Identifiers
carry the seed (DOIs under 10.5555, PMIDs above 10^9, registry numbers starting with
9), so runs with different seeds can share a database and never collide with real
records. Rows go to the database a chunk of studies at a time, one transaction per
chunk, by COPY on PostgreSQL (writer.py): 100,000 studies take minutes.

Bulk writes send no model signals, so each chunk sets its studies' stored catalogue
columns and search documents and marks the catalogue's counts stale itself
(studies.denormalized, studies.search_documents, studies.catalogue_counts), and at
the end the stored summaries are queued for a full rebuild
(summaries.services.mark_changed), as that app asks of bulk writers.
"""

from __future__ import annotations

import random
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction

from links.suggestions import refresh_suggestions

from ..catalogue_counts import catalogue_changed
from ..denormalized import refresh_study_counts
from ..facet_values import refresh_facet_values
from ..models import CarConstruct, Publication, Study
from ..search_documents import refresh_search_documents
from .generator import DOI_PREFIX, REFERENCED, WRITE_ORDER, Generator, MissingVocabulary
from .writer import RowWriter

SYSTEM_USERNAME = "carlit-synthetic"
MAX_SEED = 99
# Registry numbers hold a five-digit trial counter (a quarter of the studies).
MAX_STUDIES = 250_000
CHUNK_STUDIES = 1000
MAX_DRAFTS = 50

__all__ = [
    "CHUNK_STUDIES",
    "DOI_PREFIX",
    "SyntheticDataError",
    "SyntheticSummary",
    "seed_loaded",
    "synthetic_generate",
]


class SyntheticDataError(Exception):
    """The request cannot be carried out (bad arguments, seed already loaded)."""


@dataclass
class SyntheticSummary:
    studies: int
    seed: int
    counts: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    drafts_note: str = ""
    summaries_note: str = ""

    @property
    def rows_written(self) -> int:
        """Catalogue rows (the curation extractions aside)."""
        return sum(self.counts.values()) - self.counts["curation extractions"]

    def lines(self) -> list[str]:
        lines = [f"{name}: {count}" for name, count in sorted(self.counts.items())]
        rate = self.rows_written / self.seconds if self.seconds else 0
        lines.append(
            f"{self.rows_written} rows for {self.studies} studies (seed {self.seed}) in "
            f"{self.seconds:.1f} s ({rate:,.0f} rows/s)"
        )
        return lines + [note for note in (self.drafts_note, self.summaries_note) if note]


def seed_loaded(seed: int) -> bool:
    """Whether a run with this seed wrote anything here (even a run cut short)."""
    products = CarConstruct.objects.filter(
        created_by__username=SYSTEM_USERNAME, name__regex=rf"\.{seed:02d}[0-9]{{4}}$"
    )
    publications = Publication.objects.filter(doi__startswith=f"{DOI_PREFIX}.s{seed}.")
    return products.exists() or publications.exists()


def synthetic_user():
    user, _ = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False}
    )
    return user


def synthetic_generate(
    *,
    studies: int,
    seed: int,
    chunk_studies: int = CHUNK_STUDIES,
    drafts: int | None = None,
    writers: int = 1,
    refresh_summaries: bool = True,
    progress: Callable[[int], None] | None = None,
) -> SyntheticSummary:
    """Write ``studies`` synthetic studies for ``seed`` (0-99); return the row counts.

    Each chunk of studies is one transaction; ``progress`` is called with the number
    of studies written so far after each. ``drafts`` open curation extractions are
    made when the curation app is installed (default: 1% of the publications, at
    most 50; 0 for none). With ``writers`` above 1 (PostgreSQL only), chunks are
    written on that many connections of their own, in parallel with generation.
    ``refresh_summaries=False`` leaves the stored summaries stale (for a later
    ``manage.py refresh_summaries --full``) instead of requesting their rebuild, which
    runs inline when Celery has no broker."""
    if not 1 <= studies <= MAX_STUDIES:
        raise SyntheticDataError(f"The number of studies must be between 1 and {MAX_STUDIES}.")
    if not 0 <= seed <= MAX_SEED:
        raise SyntheticDataError(f"The seed must be between 0 and {MAX_SEED}.")
    if seed_loaded(seed):
        raise SyntheticDataError(
            f"Synthetic data for seed {seed} is already in this database; use another seed."
        )
    started = time.perf_counter()
    try:
        generator = Generator(studies=studies, seed=seed, user_id=synthetic_user().pk)
    except MissingVocabulary as missing:
        raise SyntheticDataError(
            f"Vocabulary rows are missing ({missing}): run the migrations first."
        ) from missing
    summary = SyntheticSummary(studies=studies, seed=seed)
    writer = RowWriter()
    with transaction.atomic():
        _write(writer, generator.constructs(), summary.counts)  # no studies: no facets

    def chunks():
        done = 0
        while done < studies:
            size = min(chunk_studies, studies - done)
            for _ in range(size):
                generator.study()
            done += size
            rows = generator.take_rows()
            for model in REFERENCED:
                writer.allocate_ids(model, rows.get(model, []))
            yield done, rows

    analyzed_at = 0

    def committed(done: int) -> None:
        # Tables filled by COPY have no statistics until something analyses them, and
        # autovacuum may be off: the statements run per chunk (search documents, facet
        # tags) were then planned for tiny tables and slowed with every chunk (100,000
        # studies took an hour). Analysing the committed rows each time they have
        # doubled costs a few seconds in all. (Analysing before a chunk commits would
        # record empty tables, and plans for those are worse than none.)
        nonlocal analyzed_at
        if done >= 2 * analyzed_at:
            writer.analyze(WRITE_ORDER)
            analyzed_at = done
        if progress:
            progress(done)

    if writers > 1 and writer.postgres:
        _write_in_parallel(chunks(), writers, summary.counts, committed)
    else:
        for done, rows in chunks():
            with transaction.atomic():
                writer.relax_durability()
                _write_facets(_write(writer, rows, summary.counts))
            committed(done)
    writer.analyze(WRITE_ORDER)
    summary.seconds = time.perf_counter() - started
    summary.drafts_note = _make_drafts(seed=seed, count=drafts, summary=summary)
    summary.summaries_note = (
        _queue_summary_rebuild()
        if refresh_summaries
        else ("stored summaries: not refreshed (run manage.py refresh_summaries --full)")
    )
    return summary


def _write(writer: RowWriter, rows: dict, counts: Counter) -> list[int]:
    """Write a chunk whose rows already have their ids (see allocate_ids); return its
    study ids, whose facet values the caller writes (:func:`_write_facets`)."""
    for model in REFERENCED:
        if rows.get(model) and "id" not in rows[model][0]:
            writer.allocate_ids(model, rows[model])
    for model in WRITE_ORDER:
        if rows.get(model):
            counts[_label(model)] += writer.write(model, rows[model])
    # In the chunk's transaction, so that no one sees its studies without these.
    study_ids = [row["id"] for row in rows.get(Study, [])]
    refresh_study_counts(study_ids)
    refresh_search_documents(study_ids)
    refresh_suggestions(study_ids)
    catalogue_changed()
    return study_ids


def _write_facets(study_ids: list[int]) -> None:
    # PostgreSQL adds the studies' pairs of facet values to counts that every chunk
    # shares (studies.pair_counts) and keeps those rows locked until the chunk commits.
    refresh_facet_values(study_ids)


def _write_in_thread(rows: dict, previous: Future | None) -> Counter:
    counts: Counter = Counter()
    try:
        writer = RowWriter()
        with transaction.atomic():
            writer.relax_durability()
            study_ids = _write(writer, rows, counts)
            if previous is not None:
                # Foreign keys are checked at commit and may name rows of the previous
                # chunk (a person seen in two studies): commit after it, or fail with it.
                previous.result()
            # Only now: holding the shared pair counts while waiting for the previous
            # chunk, which needs them too, would make both wait for ever.
            _write_facets(study_ids)
    finally:
        connection.close()  # this thread's own connection
    return counts


def _write_in_parallel(chunks, writers: int, counts: Counter, progress) -> None:
    """Write chunks on ``writers`` connections of their own while the next chunks are
    generated; they commit in order. At most ``writers`` chunks wait in memory."""
    pending: deque = deque()
    previous = None

    def collect():
        written, future = pending.popleft()
        counts.update(future.result())
        if progress:
            progress(written)

    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="synthetic") as pool:
        for done, rows in chunks:
            previous = pool.submit(_write_in_thread, rows, previous)
            pending.append((done, previous))
            while len(pending) > writers:
                collect()
        while pending:
            collect()


def _label(model) -> str:
    return str(model._meta.verbose_name_plural)


# Curation drafts and stored summaries (apps that may be absent) ------------------------------


def _make_drafts(*, seed: int, count: int | None, summary: SyntheticSummary) -> str:
    """Open extractions of some synthetic publications: drafts, submissions waiting for
    review and submissions returned to the curator, made through the curation services."""
    if not apps.is_installed("curation"):
        return "drafts: none (the curation app is not installed)"
    from curation import services as curation
    from curation.roles import CURATOR, REVIEWER

    if count is None:
        count = min(MAX_DRAFTS, max(1, summary.counts[_label(Publication)] // 100))
    if count <= 0:
        return "drafts: none requested"
    started = time.perf_counter()
    rng = random.Random(f"carlit-synthetic-drafts:{seed}")
    curators = [_role_user(f"{SYSTEM_USERNAME}-curator-{n}", CURATOR) for n in (1, 2, 3)]
    reviewer = _role_user(f"{SYSTEM_USERNAME}-reviewer", REVIEWER)
    mine = Publication.objects.filter(doi__startswith=f"{DOI_PREFIX}.s{seed}.")
    chosen = sorted(
        rng.sample(list(mine.values_list("doi", flat=True)), k=min(count, mine.count()))
    )
    statuses: Counter = Counter()
    for index, publication in enumerate(mine.filter(doi__in=chosen).order_by("doi")):
        curator = curators[index % len(curators)]
        extraction = curation.extraction_start_edit(curator=curator, publication=publication)
        roll = rng.random()
        if roll < 0.5:
            statuses["draft"] += 1
            continue
        extraction = curation.extraction_submit(
            extraction_id=extraction.pk, user=curator, version=extraction.version
        )
        if roll < 0.8:
            statuses["submitted"] += 1
            continue
        curation.extraction_reject(
            extraction_id=extraction.pk,
            user=reviewer,
            version=extraction.version,
            comment="Please check the source labels against Table 2.",
        )
        statuses["returned to the curator"] += 1
    summary.counts["curation extractions"] += sum(statuses.values())
    made = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    return f"drafts: {made} ({time.perf_counter() - started:.1f} s)"


def _role_user(username: str, role: str):
    user = get_user_model().objects.get_or_create(username=username)[0]
    user.groups.add(Group.objects.get(name=role))
    return user


def _queue_summary_rebuild() -> str:
    if not apps.is_installed("summaries"):
        return ""
    from summaries.services import ALL, mark_changed

    started = time.perf_counter()
    with transaction.atomic():
        mark_changed(ALL)
    # Without a Celery broker the rebuild ran inline, at the commit above.
    return f"stored summaries: full rebuild requested ({time.perf_counter() - started:.1f} s)"
