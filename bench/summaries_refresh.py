"""Benchmark: the stored summaries' refreshes, side by side, on PostgreSQL.

    .venv/bin/python bench/summaries_refresh.py --database carlit_bench_10k [--repeat 5]
    .venv/bin/python bench/summaries_refresh.py --studies 10000   # carlit_bench_10k

It copies a synthetic database (``manage.py generate_synthetic --studies N --seed 1``;
with ``--studies`` and no such database it makes one first) to a scratch database,
``<database>_refresh``, and times in turns, ``--repeat`` times each:

- incremental refreshes, each after a single edit (an arm's size, a patient's
  numeric result, a patient's yes/no result flipped: one of each per turn; saved
  through the ORM so that the change receivers mark its study), against a full
  rebuild of every table: target ≤ 1%;
- the full rebuild against one GROUP BY over the same live rows
  (bench/summaries_groupby.py): target ≤ 2×.

Edits only queue their refresh (no task is sent); the benchmark runs it. After each
full rebuild the summary tables are vacuumed (untimed), as autovacuum would: the
incremental refresh is timed in that steady state, not amid a rebuild's dead rows.
The scratch database is dropped at the end (BENCH_KEEP=1 keeps it, to EXPLAIN
queries). Your data is not touched.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402

INCREMENTAL_TARGET = 0.01
GROUP_BY_TARGET = 2.0


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def prepare(database: str, studies: int) -> None:
    """Make a synthetic database of this size, as bench/run.py prepare does."""
    harness.psql("postgres", f'CREATE DATABASE "{database}"')
    harness.manage(database, "migrate", "--noinput", "-v0")
    harness.manage(
        database, "generate_synthetic", "--studies", str(studies), "--seed", "1",
        "--no-summary-refresh",
    )


def setup_django(database: str) -> None:
    os.environ["DATABASE_URL"] = harness.database_url(database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carlit.settings")
    import django

    django.setup()


def vacuum() -> None:
    """VACUUM ANALYZE the summaries app's tables (outside any transaction)."""
    from django.apps import apps
    from django.db import connection

    with connection.cursor() as cursor:
        for model in apps.get_app_config("summaries").get_models():
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


class Edits:
    """Single edits, in turn: an arm's size, a patient's numeric result, and a
    patient's yes/no result flipped (which moves a pooled rate)."""

    KINDS = ("arm size", "patient value", "patient yes/no")

    def __init__(self, seed: int = 1):
        from studies.models import Arm, OutcomeResult
        from summaries.snapshot import visible_arms

        rng = random.Random(seed)
        arm_ids = sorted(visible_arms().values_list("pk", flat=True))
        patient_results = OutcomeResult.objects.filter(patient__isnull=False)
        values = sorted(
            patient_results.filter(value__isnull=False).values_list("pk", flat=True)[:50_000]
        )
        answers = sorted(
            patient_results.filter(value_bool__isnull=False).values_list("pk", flat=True)[
                :50_000
            ]
        )
        self.arms = [Arm.objects.get(pk=pk) for pk in rng.sample(arm_ids, 20)]
        self.values = [OutcomeResult.objects.get(pk=pk) for pk in rng.sample(values, 20)]
        self.answers = [OutcomeResult.objects.get(pk=pk) for pk in rng.sample(answers, 20)]
        self.count = 0

    def one(self) -> str:
        kind = self.KINDS[self.count % len(self.KINDS)]
        index = self.count // len(self.KINDS) % 20
        self.count += 1
        if kind == "arm size":
            arm = self.arms[index]
            arm.n_patients = (arm.n_patients or 0) + 1
            arm.save()
        elif kind == "patient value":
            result = self.values[index]
            result.value += 1
            result.save()
        else:
            result = self.answers[index]
            result.value_bool = not result.value_bool
            result.save()
        return kind


def run(database: str, repeat: int) -> dict:
    scratch = f"{database}_refresh"
    harness.psql("postgres", f'DROP DATABASE IF EXISTS "{scratch}"')
    harness.psql("postgres", f'CREATE DATABASE "{scratch}" TEMPLATE "{database}"')
    try:
        setup_django(scratch)
        return _measure(database, repeat)
    finally:
        from django.db import connections

        connections.close_all()
        if not os.environ.get("BENCH_KEEP"):
            harness.psql("postgres", f'DROP DATABASE IF EXISTS "{scratch}"')


def _measure(database: str, repeat: int) -> dict:
    from unittest import mock

    from django.db import connection

    from bench.summaries_groupby import GROUP_BY
    from studies.models import Study
    from summaries import services
    from summaries.models import PendingRefresh

    def group_by() -> None:
        with connection.cursor() as cursor:
            cursor.execute(GROUP_BY)
            cursor.fetchall()

    print(f"[summaries: {Study.objects.count()} studies of {database}; {harness.machine()}]",
          flush=True)
    # Time the refresh itself: an edit only records its pending key.
    with mock.patch.object(services, "enqueue_refresh"):
        PendingRefresh.objects.all().delete()
        services.full_rebuild()  # warm up, and the tables the edits start from
        vacuum()
        group_by()
        edits = Edits()
        fulls, groups, incrementals, kinds = [], [], [], []
        for index in range(repeat):
            steps = ["full", "group", "incremental"]
            if index % 2:
                steps.reverse()  # whatever else loads the machine falls on all alike
            for step in steps:
                if step == "full":
                    fulls.append(timed(services.full_rebuild))
                    vacuum()
                elif step == "group":
                    groups.append(timed(group_by))
                else:
                    for _ in Edits.KINDS:  # one edit of each kind, each refreshed
                        kinds.append(edits.one())
                        started = time.perf_counter()
                        result = services.refresh_keys()
                        incrementals.append(time.perf_counter() - started)
                        assert result.kind == "incremental", result
    full, grouped = statistics.median(fulls), statistics.median(groups)
    one = statistics.median(incrementals)
    figures = {
        "incremental": one,
        "full": full,
        "group_by": grouped,
        "incremental_ratio": one / full,
        "group_by_ratio": full / grouped,
    }
    verdict = {True: "met", False: "MISSED"}
    print(
        f"  incremental refresh after one edit {harness.ms(one)} (median of "
        f"{len(incrementals)}: {', '.join(sorted(set(kinds)))}; all "
        f"{', '.join(harness.ms(t) for t in incrementals)})",
        flush=True,
    )
    print(f"  full rebuild {harness.ms(full)} (all {', '.join(harness.ms(t) for t in fulls)})")
    print(f"  one GROUP BY {harness.ms(grouped)} (all {', '.join(harness.ms(t) for t in groups)})")
    print(
        f"  incremental / full: {100 * figures['incremental_ratio']:.2f}% target ≤ 1% "
        f"{verdict[figures['incremental_ratio'] <= INCREMENTAL_TARGET]}"
    )
    print(
        f"  full / GROUP BY: {figures['group_by_ratio']:.1f}× target ≤ 2× "
        f"{verdict[figures['group_by_ratio'] <= GROUP_BY_TARGET]}",
        flush=True,
    )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="A synthetic database (default: by --studies).")
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="Timings to take the median of.")
    arguments = parser.parse_args(argv)
    database = arguments.database or harness.bench_database(arguments.studies)
    exists = harness.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'")
    if not exists:
        if arguments.database:
            sys.exit(f"{database} does not exist.")
        print(f"{database}: generating {arguments.studies} synthetic studies (seed 1)", flush=True)
        prepare(database, arguments.studies)
    run(database, arguments.repeat)


if __name__ == "__main__":
    main()
