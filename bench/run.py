"""Run carlit's benchmarks by hand (see bench/README.md).

    .venv/bin/python bench/run.py prepare --studies 1000
    .venv/bin/python bench/run.py prepare --studies 10000
    .venv/bin/python bench/run.py all --small 1000 --large 10000 --markdown bench/last-run.md

Each benchmark compares two measurements taken in turns in one run and prints their
ratio next to its target. Servers are gunicorn on 127.0.0.1; databases are
carlit_bench_<size> on the PostgreSQL named by BENCH_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432, loopback only).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, load, web  # noqa: E402
from bench.harness import Comparison, Server  # noqa: E402


def prepare(studies: int, seed: int, writers: int, summaries: bool) -> None:
    """Create carlit_bench_<size>, migrate it and fill it with synthetic data."""
    database = harness.bench_database(studies)
    if harness.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
        sys.exit(f"{database} exists already; drop it first to make it again.")
    harness.psql("postgres", f'CREATE DATABASE "{database}"')
    started = time.perf_counter()
    harness.manage(database, "migrate", "--noinput", "-v0")
    migrated = time.perf_counter()
    print(f"{database}: migrated in {migrated - started:.1f} s", flush=True)
    result = harness.manage(
        database,
        "generate_synthetic",
        "--studies",
        str(studies),
        "--seed",
        str(seed),
        "--writers",
        str(writers),
        "--no-summary-refresh",
    )
    print(result.stdout, end="")
    print(
        f"{database}: generate_synthetic took {time.perf_counter() - migrated:.1f} s "
        "(wall clock, drafts included)",
        flush=True,
    )
    if summaries:
        started = time.perf_counter()
        harness.manage(database, "refresh_summaries", "--full")
        print(f"{database}: refresh_summaries --full took {time.perf_counter() - started:.1f} s")
    else:
        print(f"{database}: stored summaries left unbuilt (--no-summaries)")
    # As autovacuum would in time: until then a GIN index searches its pending list of
    # freshly inserted entries one by one (the facet counts at 100,000 studies took
    # twice as long), and the planner works from statistics of near-empty tables.
    started = time.perf_counter()
    harness.psql(database, "VACUUM ANALYZE")
    print(f"{database}: VACUUM ANALYZE took {time.perf_counter() - started:.1f} s")


def run_web(studies: int, rounds: int, parts: set[str]) -> list[Comparison]:
    results = []
    with Server(harness.bench_database(studies)) as server:
        print(f"[{server.database} on {server.address}]", flush=True)
        if "api" in parts:
            results += web.api_vs_raw(server, rounds=rounds)
        if "catalogue" in parts:
            results += web.catalogue_vs_raw(server, rounds=rounds)
        if "cursor" in parts:
            results += web.deep_vs_first(server, rounds=rounds)
    return results


def run_scale(small: int, large: int, rounds: int) -> list[Comparison]:
    with (
        Server(harness.bench_database(small)) as small_server,
        Server(harness.bench_database(large)) as large_server,
    ):
        print(f"[{large_server.database} vs {small_server.database}]", flush=True)
        return web.small_vs_large(small_server, large_server, rounds=rounds)


def run_script(name: str, *args: str) -> None:
    """Benchmarks that need Django in-process run as scripts of their own."""
    subprocess.run([sys.executable, str(Path(__file__).parent / name), *args], check=True)


def report(results: list[Comparison], markdown: Path | None) -> None:
    lines = [
        "| benchmark | request | A | B | ratio A/B | target | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        target = f"≤ {r.target:g}×" if r.target is not None else "–"
        lines.append(
            f"| {r.group} | `{r.name}` | {r.label_a} {harness.ms(r.median_a)} | "
            f"{r.label_b} {harness.ms(r.median_b)} | {r.ratio:.2f}× | {target} | {r.verdict} |"
        )
    print("\n".join(lines))
    if markdown:
        markdown.write_text(f"Machine: {harness.machine()}\n\n" + "\n".join(lines) + "\n")
        print(f"written to {markdown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    step = sub.add_parser("prepare", help="create and fill carlit_bench_<size>")
    step.add_argument("--studies", type=int, required=True)
    step.add_argument("--seed", type=int, default=1)
    step.add_argument("--writers", type=int, default=2)
    step.add_argument(
        "--no-summaries",
        dest="summaries",
        action="store_false",
        help="skip the full rebuild of the stored summaries (slow on big databases)",
    )
    for name in ("api", "catalogue", "cursor"):
        step = sub.add_parser(name)
        step.add_argument("--studies", type=int, default=10_000)
        step.add_argument("--rounds", type=int, default=25)
    step = sub.add_parser("scale", help="the same requests on a small and a large database")
    step.add_argument("--small", type=int, default=1000)
    step.add_argument("--large", type=int, default=10_000)
    step.add_argument("--rounds", type=int, default=25)
    step = sub.add_parser("load", help="60 s of mixed catalogue and API traffic")
    step.add_argument("--studies", type=int, default=10_000)
    step.add_argument("--seconds", type=float, default=60)
    step.add_argument("--clients", type=int, default=6)
    step.add_argument("--workers", type=int, default=3)
    step = sub.add_parser("bundles", help="bundle imports per second, API against in-process")
    step.add_argument("--studies", type=int, default=1000)
    step.add_argument("--bundles", type=int, default=40)
    step = sub.add_parser("summaries", help="incremental refresh, full rebuild, one GROUP BY")
    step.add_argument("--studies", type=int, default=10_000)
    step = sub.add_parser("all", help="everything above but prepare")
    step.add_argument("--small", type=int, default=1000)
    step.add_argument("--large", type=int, default=10_000)
    step.add_argument("--rounds", type=int, default=25)
    step.add_argument("--seconds", type=float, default=60)
    for step in sub.choices.values():
        step.add_argument("--markdown", type=Path, help="also write the table to this file")
    arguments = parser.parse_args()

    print(f"Machine: {harness.machine()}", flush=True)
    command = arguments.command
    results: list[Comparison] = []
    if command == "prepare":
        prepare(arguments.studies, arguments.seed, arguments.writers, arguments.summaries)
        return
    if command in ("api", "catalogue", "cursor"):
        results = run_web(arguments.studies, arguments.rounds, {command})
    elif command == "scale":
        results = run_scale(arguments.small, arguments.large, arguments.rounds)
    elif command == "load":
        load.run(
            harness.bench_database(arguments.studies),
            seconds=arguments.seconds,
            clients=arguments.clients,
            workers=arguments.workers,
        )
    elif command == "bundles":
        run_script(
            "bundles.py",
            "--database",
            harness.bench_database(arguments.studies),
            "--bundles",
            str(arguments.bundles),
        )
    elif command == "summaries":
        run_script(
            "summaries_groupby.py",
            "--database",
            harness.bench_database(arguments.studies),
            "--studies",
            str(arguments.studies),
        )
    elif command == "all":
        results = run_web(arguments.large, arguments.rounds, {"api", "catalogue", "cursor"})
        results += run_scale(arguments.small, arguments.large, arguments.rounds)
        run_script(
            "summaries_groupby.py",
            "--database",
            harness.bench_database(arguments.large),
            "--studies",
            str(arguments.large),
        )
        run_script("bundles.py", "--database", harness.bench_database(arguments.small))
        load.run(harness.bench_database(arguments.large), seconds=arguments.seconds)
    if results:
        report(results, arguments.markdown)


if __name__ == "__main__":
    main()
