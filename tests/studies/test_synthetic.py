"""The synthetic data generator: deterministic, valid by the models' own rules, and
shaped like the literature (reports, dual products, re-reported patients)."""

import threading
import time
from io import StringIO

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count

from studies.facet_values import refresh_facet_values
from studies.models import (
    AdverseEvent,
    Arm,
    ArmProduct,
    CarConstruct,
    OutcomeResult,
    Patient,
    Person,
    Publication,
    PublicationAuthor,
    RegistryId,
    Study,
    StudyReport,
)
from studies.synthetic import SyntheticDataError, synthetic_generate
from tests.studies.test_facet_values import kept_pairs, recounted_pairs

pytestmark = pytest.mark.django_db

# Rows other rows point at: compared by their rank in insertion order, not their id.
RANKED = (CarConstruct, Publication, Study, Arm, Person, Patient)
TABLES = (
    CarConstruct,
    Publication,
    PublicationAuthor,
    Study,
    StudyReport,
    RegistryId,
    Arm,
    ArmProduct,
    Person,
    Patient,
    OutcomeResult,
    AdverseEvent,
)
THROUGH = (
    CarConstruct.targets.through,
    CarConstruct.costimulatory_domains.through,
    Study.countries.through,
    Patient.secondary_diseases.through,
    Patient.prior_therapies.through,
)
NOT_COMPARED = {"id", "created_at", "updated_at", "created_by_id"}


def generate(studies: int, seed: int, **options):
    options = {"drafts": 0, "refresh_summaries": False, **options}
    return synthetic_generate(studies=studies, seed=seed, **options)


def snapshot() -> dict:
    """Every synthetic row, ids replaced by ranks so that two runs compare equal."""
    ranks = {
        model: {
            pk: rank
            for rank, pk in enumerate(model.objects.order_by("pk").values_list("pk", flat=True))
        }
        for model in RANKED
    }
    tables = {}
    for model in (*TABLES, *THROUGH):
        fields = [f for f in model._meta.concrete_fields if f.attname not in NOT_COMPARED]
        rows = []
        for values in model.objects.order_by("pk").values_list(*(f.attname for f in fields)):
            rows.append(
                tuple(
                    ranks[f.related_model][value]
                    if f.is_relation and f.related_model in ranks and value is not None
                    else value
                    for f, value in zip(fields, values, strict=True)
                )
            )
        tables[model._meta.label] = rows if model in TABLES else sorted(rows)
    return tables


class Discard(Exception):
    pass


def test_same_seed_gives_the_same_data():
    with pytest.raises(Discard), transaction.atomic():
        generate(25, seed=3)
        first = snapshot()
        raise Discard
    assert not Study.objects.exists()

    generate(25, seed=3)

    second = snapshot()
    assert second == first
    assert len(second["studies.Study"]) == 25


def test_another_seed_gives_other_data():
    with pytest.raises(Discard), transaction.atomic():
        generate(10, seed=3)
        first = snapshot()
        raise Discard

    generate(10, seed=4)

    assert snapshot()["studies.OutcomeResult"] != first["studies.OutcomeResult"]


def test_a_sample_of_each_table_passes_full_clean():
    generate(30, seed=5)

    problems = []
    for model in TABLES:
        rows = list(model.objects.order_by("pk"))
        assert rows, f"no {model._meta.verbose_name_plural} generated"
        for row in rows[:: max(1, len(rows) // 40)]:
            try:
                row.full_clean()
            except ValidationError as error:
                problems.append(f"{model.__name__} {row.pk}: {error.message_dict}")
    assert problems == []


def test_data_has_the_shape_of_the_literature():
    summary = generate(80, seed=6)

    assert Study.objects.count() == 80
    assert summary.counts["studies"] == 80
    assert not Study.objects.filter(reports__isnull=True).exists()
    assert Publication.objects.filter(superseded_by__isnull=False).exists()
    # Several products: dual-target constructs or two products given together.
    dual_target = (
        CarConstruct.objects.filter(arm_products__isnull=False)
        .annotate(n=Count("targets", distinct=True))
        .filter(n__gt=1)
    )
    assert dual_target.exists()
    assert ArmProduct.objects.filter(
        order=2, administration__in=["co_infused", "sequential"]
    ).exists()
    # Patients re-reported in a later publication are one person.
    assert Person.objects.filter(reports__isnull=False).distinct().exists()
    linked = Patient.objects.filter(person__isnull=False)
    assert linked.values("person").distinct().count() < linked.count()
    # Results over time, for patients and for whole arms, within their ranges.
    assert OutcomeResult.objects.values("timepoint").distinct().count() >= 3
    assert OutcomeResult.objects.filter(patient__isnull=False).exists()
    assert OutcomeResult.objects.filter(arm__isnull=False, n_evaluable__isnull=False).exists()
    assert AdverseEvent.objects.filter(grading_system="astct").exists()
    assert AdverseEvent.objects.filter(grading_system="ctcae").exists()
    assert RegistryId.objects.exists()


def test_it_refuses_a_seed_already_loaded():
    generate(3, seed=7)

    with pytest.raises(SyntheticDataError, match="seed 7 is already"):
        generate(3, seed=7)


@pytest.mark.skipif(not apps.is_installed("curation"), reason="the curation app is absent")
def test_it_makes_open_extractions_of_synthetic_publications():
    from curation.models import OPEN_STATUSES, Extraction

    summary = generate(20, seed=8, drafts=4)

    extractions = Extraction.objects.all()
    assert extractions.count() == 4
    assert set(extractions.values_list("status", flat=True)) <= set(OPEN_STATUSES)
    assert summary.drafts_note.startswith("drafts: ")


def test_command_reports_what_it_wrote():
    out = StringIO()

    call_command(
        "generate_synthetic",
        "--studies",
        "4",
        "--seed",
        "9",
        "--drafts",
        "0",
        "--writers",
        "1",
        "--no-summary-refresh",
        stdout=out,
    )

    assert "Generated 4 synthetic studies." in out.getvalue()
    assert Study.objects.count() == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the writers commit
def test_parallel_writers_do_not_wait_for_each_other_and_keep_the_pair_counts(monkeypatch):
    # Each chunk's facet values add to pair counts that every chunk shares, whose rows
    # stay locked until the chunk commits; chunks commit in order. The first chunk is
    # slowed down here, so that a second chunk that took those locks before the first
    # one committed would wait for it while it waits for them, for ever.
    import studies.synthetic as synthetic

    calls = []

    def first_one_slow(study_ids):
        calls.append(study_ids)
        if threading.current_thread().name.endswith("_0"):  # the first chunk's writer
            time.sleep(2)
        return refresh_facet_values(study_ids)

    monkeypatch.setattr(synthetic, "refresh_facet_values", first_one_slow)
    outcome = {}

    def generate():
        try:
            outcome["summary"] = synthetic_generate(
                studies=4, seed=8, chunk_studies=2, writers=2, drafts=0, refresh_summaries=False
            )
        except Exception as error:  # reported below, in the test's thread
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=generate, daemon=True)
    thread.start()
    thread.join(timeout=60)
    if thread.is_alive():
        with connection.cursor() as cursor:  # unblock the writers before failing
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        thread.join(timeout=30)
        pytest.fail("the parallel writers were still waiting for each other after 60 s")

    assert "error" not in outcome, outcome.get("error")
    assert len(calls) == 2 and Study.objects.count() == 4
    assert kept_pairs() == recounted_pairs()
    assert kept_pairs()[("", "")] == 4


def _planner_rows_after_each_chunk(**options) -> dict[int, float]:
    seen = {}

    def planner_rows(done):
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'studies_study'")
            seen[done] = cursor.fetchone()[0]

    synthetic_generate(
        studies=9, chunk_studies=3, drafts=0, refresh_summaries=False, progress=planner_rows,
        **options,
    )
    return seen


@pytest.mark.postgres
def test_the_planner_learns_the_tables_sizes_while_they_grow():
    """COPY leaves no statistics and autovacuum may be off: the generator analyses the
    tables each time the committed rows have doubled, or the statements run per chunk
    are planned for empty tables and a large run slows to a crawl."""
    seen = _planner_rows_after_each_chunk(seed=11)

    # Analysed after the first chunk and after the second (the data had doubled).
    assert seen == {3: 3, 6: 6, 9: 6}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the writers commit
def test_with_parallel_writers_the_planner_never_learns_empty_tables():
    """The rows are analysed once committed: analysed while the first chunk was still
    being written, the tables were recorded empty, and the plans made for that were
    far slower still (minutes for a chunk of 1,000 studies)."""
    seen = _planner_rows_after_each_chunk(seed=12, writers=2)

    assert set(seen) == {3, 6, 9}
    assert all(rows >= 3 for rows in seen.values())
