"""The load run: mixed catalogue and API traffic against gunicorn on loopback.

A fixed number of client threads each send one request at a time (a closed loop:
nothing queues up beyond the clients) until the time is up. Reported: requests per
second, latency percentiles over all requests and per kind of request, and errors
(any answer other than 200, and any failed connection). Target: no errors, p99
under ten times p50.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import defaultdict
from urllib.parse import urlencode

from .harness import Server, get, ms, percentile, psql

FACETS = {
    "disease": ["sle", "ssc", "iim", "lupus-nephritis", "ra", "sjogren", "aav"],
    "target": ["cd19", "bcma", "cd20", "cd7"],
    "phase": ["1", "1_2", "2"],
    "country": ["CN", "DE", "US", "FR"],
    "status": ["recruiting", "completed"],
}


class Traffic:
    """What a visitor or a script asks for, with weights."""

    def __init__(self, database: str):
        self.studies = [row[0] for row in psql(database, "SELECT id FROM studies_study")]
        self.constructs = [row[0] for row in psql(database, "SELECT id FROM studies_carconstruct")]
        self.diseases = [
            row[0]
            for row in psql(
                database,
                "SELECT DISTINCT d.code FROM studies_arm a "
                "JOIN studies_disease d ON d.id = a.disease_id",
            )
        ]
        # Disease × target groups with stored summaries (none if the database was
        # prepared with --no-summaries: their pages are then left out).
        self.groups = psql(
            database,
            "SELECT d.code, s.target_key FROM summaries_diseasetargetsummary s "
            "JOIN studies_disease d ON d.id = s.disease_id",
        )
        self.kinds = [
            ("catalogue", 14, self.catalogue),
            ("catalogue filtered", 10, self.catalogue_filtered),
            ("catalogue page n", 4, self.catalogue_page),
            ("study page", 20, lambda rng: f"/studies/{rng.choice(self.studies)}/"),
            ("construct page", 4, lambda rng: f"/constructs/{rng.choice(self.constructs)}/"),
            ("disease page", 3, lambda rng: f"/diseases/{rng.choice(self.diseases)}/"),
            ("API study list", 10, lambda rng: "/api/v1/studies/?page_size=50"),
            ("API study list filtered", 10, self.api_filtered),
            ("API study", 15, lambda rng: f"/api/v1/studies/{rng.choice(self.studies)}/"),
            (
                "API outcomes of a study",
                10,
                lambda rng: f"/api/v1/outcomes/?study={rng.choice(self.studies)}&page_size=100",
            ),
        ]
        if self.groups:
            self.kinds += [
                ("summary dashboard", 4, lambda rng: "/summary/"),
                ("summary group page", 3, self.group_page),
            ]

    def filters(self, rng: random.Random) -> dict:
        chosen = rng.sample(sorted(FACETS), k=rng.randint(1, 2))
        return {name: rng.choice(FACETS[name]) for name in chosen}

    def catalogue(self, rng):
        return "/studies/"

    def catalogue_filtered(self, rng):
        return f"/studies/?{urlencode(self.filters(rng))}"

    def catalogue_page(self, rng):
        return f"/studies/?page={rng.randint(2, 20)}"

    def group_page(self, rng):
        disease, target = rng.choice(self.groups)
        return f"/summary/{disease}/{target}/?page={rng.randint(1, 3)}"

    def api_filtered(self, rng):
        return f"/api/v1/studies/?page_size=50&{urlencode(self.filters(rng))}"

    def pick(self, rng: random.Random) -> tuple[str, str]:
        kind, _, make = rng.choices(self.kinds, weights=[w for _, w, _ in self.kinds])[0]
        return kind, make(rng)


def run(
    database: str, *, seconds: float = 60, clients: int = 6, workers: int = 3, seed: int = 1
) -> dict:
    traffic = Traffic(database)
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    samples: list[str] = []
    lock = threading.Lock()

    with Server(database, workers=workers) as server:
        # Warm every worker's connection and caches, as a server in service would be.
        for rng_seed in range(3 * workers):
            rng = random.Random(rng_seed)
            for _ in range(len(traffic.kinds)):
                get(server.address, traffic.pick(rng)[1])
        print(
            f"[load: {clients} clients for {seconds:g} s against {server.database} on "
            f"{server.address}, {workers} gunicorn workers]",
            flush=True,
        )
        deadline = time.monotonic() + seconds

        def client(number: int) -> None:
            rng = random.Random(f"{seed}:{number}")
            while time.monotonic() < deadline:
                kind, path = traffic.pick(rng)
                started = time.perf_counter()
                try:
                    answer = get(server.address, path)
                    status = answer.status
                except OSError as error:
                    status = f"{type(error).__name__}"
                elapsed = time.perf_counter() - started
                with lock:
                    timings[kind].append(elapsed)
                    if status != 200:
                        errors[kind] += 1
                        if len(samples) < 5:
                            samples.append(f"{status} {path}")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

    every = [t for values in timings.values() for t in values]
    total_errors = sum(errors.values())
    p50, p95, p99 = (percentile(every, f) for f in (0.5, 0.95, 0.99))
    print(
        f"  {len(every)} requests in {elapsed:.1f} s: {len(every) / elapsed:.1f} requests/s; "
        f"p50 {ms(p50)}, p95 {ms(p95)}, p99 {ms(p99)}; errors {total_errors}"
    )
    print("  | request | n | p50 | p95 | p99 | errors |")
    print("  | --- | --- | --- | --- | --- | --- |")
    for kind, values in sorted(timings.items(), key=lambda item: -len(item[1])):
        print(
            f"  | {kind} | {len(values)} | {ms(statistics.median(values))} | "
            f"{ms(percentile(values, 0.95))} | {ms(percentile(values, 0.99))} | "
            f"{errors.get(kind, 0)} |"
        )
    for sample in samples:
        print(f"  error: {sample}")
    ratio = p99 / p50
    verdict = "met" if total_errors == 0 and ratio < 10 else "MISSED"
    print(
        f"  p99/p50 = {ratio:.1f} (target < 10), errors {total_errors} (target 0): {verdict}",
        flush=True,
    )
    return {
        "requests": len(every),
        "seconds": elapsed,
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "errors": total_errors,
        "verdict": verdict,
    }
