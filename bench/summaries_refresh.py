"""Benchmark: one incremental summary refresh after a single edit, against a full rebuild.

Run by hand, on PostgreSQL (not part of the test suite):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carlit .venv/bin/python \\
        bench/summaries_refresh.py [--studies 10000] [--repeat 5]

It creates a scratch database beside the one DATABASE_URL names (carlit_bench, or
BENCH_DATABASE_NAME), migrates it, fills it with synthetic studies by bulk_create,
times the refreshes and drops the scratch database again (BENCH_KEEP=1 keeps it, to
EXPLAIN queries). Your data is not touched. BENCH_PROFILE=1 prints the slowest queries
and a profile of one incremental refresh.
Target: the incremental refresh takes at most 1% of the full rebuild.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carlit.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from studies.choices import AdverseEventType, GradingSystem, TimePoint  # noqa: E402
from studies.models import (  # noqa: E402
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    Disease,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Person,
    Publication,
    Study,
    StudyReport,
)
from summaries import services  # noqa: E402
from summaries.models import PendingRefresh  # noqa: E402

BATCH = 2000


def sourced(user, publication) -> dict:
    return {"created_by": user, "source_publication": publication, "source_kind": "table",
            "source_label": "Table 1"}


def make_catalogue(studies: int, seed: int = 7) -> None:
    """Synthetic studies: one or two reports, one arm, patient rows for a third of the
    arms, arm-level main outcome and CRS rows, a few persons linked across studies."""
    rng = random.Random(seed)
    user = get_user_model().objects.create(username="bench")
    # Lupus dominates the literature; every seeded disease appears.
    diseases = list(Disease.objects.order_by("code"))
    disease_weights = [12 if d.code == "sle" else 4 if d.code in ("ssc", "iim") else 1
                       for d in diseases]
    measures = {m.code: m for m in OutcomeMeasure.objects.filter(
        code__in=["doris", "drug-free-remission", "sledai-2k"])}
    # Sixty products over the usual target sets, most of them CD19.
    target_sets = [["cd19"]] * 6 + [["bcma"], ["cd19", "bcma"], ["cd20"], ["cd7"]]
    constructs = []
    for index in range(60):
        construct = CarConstruct.objects.create(name=f"BENCH-{index}", created_by=user)
        construct.targets.set(Antigen.objects.filter(code__in=rng.choice(target_sets)))
        constructs.append(construct)

    publications = Publication.objects.bulk_create(
        [Publication(year=rng.randint(2021, 2025), doi=f"10.5555/bench.{n}",
                     publication_type="article", created_by=user)
         for n in range(studies * 3 // 2)],
        batch_size=BATCH,
    )
    study_rows = Study.objects.bulk_create(
        [Study(title=f"Bench study {n}", design="cohort", created_by=user)
         for n in range(studies)],
        batch_size=BATCH,
    )
    reports, arms, first_publication = [], [], {}
    for n, study in enumerate(study_rows):
        mine = [publications[n]]
        if n % 2 == 0:
            mine.append(publications[studies + n // 2])
        first_publication[study.pk] = mine[-1]
        for publication in mine:
            cutoff = date(publication.year, rng.randint(1, 12), 1) if rng.random() < 0.7 else None
            reports.append(StudyReport(study=study, publication=publication, data_cutoff=cutoff,
                                       created_by=user))
        disease = rng.choices(diseases, disease_weights)[0]
        arms.append(Arm(study=study, label="Cohort", disease=disease,
                        n_patients=rng.randint(1, 12), **sourced(user, mine[-1])))
    StudyReport.objects.bulk_create(reports, batch_size=BATCH)
    arms = Arm.objects.bulk_create(arms, batch_size=BATCH)
    ArmProduct.objects.bulk_create(
        [ArmProduct(arm=arm, construct=rng.choice(constructs), order=1,
                    **sourced(user, arm.source_publication)) for arm in arms],
        batch_size=BATCH,
    )

    persons = Person.objects.bulk_create([Person(created_by=user) for _ in range(studies // 50)])
    patients, results, events = [], [], []
    for arm in arms:
        publication = arm.source_publication
        results.append(OutcomeResult(
            arm=arm, measure=measures["doris"], timepoint=TimePoint.DAY, day=180,
            n_evaluable=arm.n_patients, n_events=rng.randint(0, arm.n_patients),
            **sourced(user, publication)))
        events.append(AdverseEvent(
            arm=arm, event_type=AdverseEventType.CRS, grading_system=GradingSystem.ASTCT,
            grade=rng.choice([None, 1, 2]), n_affected=rng.randint(0, arm.n_patients),
            n_evaluable=arm.n_patients, **sourced(user, publication)))
        if rng.random() < 1 / 3:
            for number in range(rng.randint(1, 4)):
                person = rng.choice(persons) if persons and rng.random() < 0.05 else None
                patients.append(Patient(
                    arm=arm, label=f"P{number}", primary_disease=arm.disease,
                    follow_up_days=rng.choice([None, 90, 180, 365, 720]), person=person,
                    person_evidence="probable" if person else "", **sourced(user, publication)))
    patients = Patient.objects.bulk_create(patients, batch_size=BATCH)
    for patient in patients:
        results.append(OutcomeResult(
            patient=patient, measure=measures["doris"], timepoint=TimePoint.DAY, day=180,
            value_bool=rng.random() < 0.6, **sourced(user, patient.source_publication)))
        results.append(OutcomeResult(
            patient=patient, measure=measures["sledai-2k"], timepoint=TimePoint.DAY, day=180,
            value=rng.randint(0, 20), **sourced(user, patient.source_publication)))
        events.append(AdverseEvent(
            patient=patient, event_type=AdverseEventType.CRS, grading_system=GradingSystem.ASTCT,
            grade=rng.choice([0, 1, 2]), **sourced(user, patient.source_publication)))
    OutcomeResult.objects.bulk_create(results, batch_size=BATCH)
    AdverseEvent.objects.bulk_create(events, batch_size=BATCH)
    print(f"catalogue: {studies} studies, {len(arms)} arms, {len(patients)} patient rows, "
          f"{len(results)} results, {len(events)} adverse events")


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="Timings to take the median of.")
    arguments = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run the benchmark on PostgreSQL: set DATABASE_URL=postgres://...")

    settings.DATABASES["default"]["TEST"]["NAME"] = os.environ.get(
        "BENCH_DATABASE_NAME", "carlit_bench"
    )
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True,
                                                  keepdb=False)
    # Time the refresh itself: edits only queue it (no task is sent, eager or not).
    no_tasks = mock.patch.object(services, "enqueue_refresh")
    no_tasks.start()
    try:
        make_catalogue(arguments.studies)
        PendingRefresh.objects.all().delete()
        services.full_rebuild()  # warm up (and fill the tables the edits start from)
        full = statistics.median(
            timed(services.full_rebuild) for _ in range(max(1, arguments.repeat // 2))
        )
        incremental = []
        arms = list(Arm.objects.order_by("?")[: arguments.repeat])
        for arm in arms:
            arm.n_patients += 1
            arm.save()  # one edit: the receivers mark its study changed
            incremental.append(timed(services.refresh_keys))
        one = statistics.median(incremental)
        print(f"full rebuild:         {full * 1000:9.1f} ms")
        print(f"incremental refresh:  {one * 1000:9.1f} ms (one edited study; median of "
              f"{len(incremental)})")
        print(f"ratio:                {100 * one / full:9.2f} % (target ≤ 1%)")
        if os.environ.get("BENCH_PROFILE"):
            profile_queries()
    finally:
        no_tasks.stop()
        if not os.environ.get("BENCH_KEEP"):
            connection.creation.destroy_test_db(original, verbosity=0)


def profile_queries() -> None:
    """The slowest queries of a full rebuild and of an incremental refresh."""
    from django.test.utils import CaptureQueriesContext

    for name, run in [("full", services.full_rebuild), ("incremental", _edit_and_refresh)]:
        with CaptureQueriesContext(connection) as captured:
            run()
        print(f"--- {name}: {len(captured)} queries")
        for query in sorted(captured, key=lambda q: -float(q["time"]))[:6]:
            print(f"{float(query['time']) * 1000:8.1f} ms  {query['sql'][:400]}")
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(_edit_and_refresh)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"summaries/", 25)


def _edit_and_refresh() -> None:
    arm = Arm.objects.order_by("?").first()
    arm.n_patients += 1
    arm.save()
    services.refresh_keys()


if __name__ == "__main__":
    main()
