"""Benchmark: study bundle imports per second, through the API against in-process.

    .venv/bin/python bench/bundles.py --database carlit_bench_1k [--bundles 40]

Works on a scratch copy of the database (CREATE DATABASE ... TEMPLATE), dropped at
the end. The bundles are exports of synthetic publications that are the only report
of their study, given a new DOI and a new study title, so that each import creates a
publication, a study, its arms, patients, results and adverse events. Half go through
POST /api/v1/bundles/ on gunicorn (a staff user's token), half through
studies.bundles.import_bundle in this process, in turns. Without a Celery broker the
summary refresh that an import requests runs inline, in both.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402


def scratch_copy(database: str) -> str:
    scratch = f"{database}_bundles"
    harness.psql("postgres", f'DROP DATABASE IF EXISTS "{scratch}"')
    harness.psql("postgres", f'CREATE DATABASE "{scratch}" TEMPLATE "{database}"')
    return scratch


def bundles_to_import(count: int) -> list[dict]:
    from django.db.models import Count

    from studies.bundles import export_bundle
    from studies.models import Publication, Study

    single = Study.objects.annotate(n=Count("reports")).filter(n=1)
    publications = (
        Publication.objects.filter(reports__study__in=single, superseded_by__isnull=True)
        .order_by("pk")
        .distinct()[:count]
    )
    documents = []
    for number, publication in enumerate(publications):
        document = copy.deepcopy(export_bundle(publication))
        citation = document["publication"]
        citation.update(
            doi=f"10.5555/carlit-bench-import.{os.getpid()}.{number}", pmid=None, pmcid=None
        )
        for study in document["studies"]:
            study.pop("id", None)
            study["title"] = f"{study['title']} (imported copy {number})"
            study["registry_ids"] = []
        for patient in document.get("patients", []):
            patient.pop("same_person_as", None)
        documents.append(document)
    return documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--bundles", type=int, default=40, help="In all, for both ways.")
    arguments = parser.parse_args()

    scratch = scratch_copy(arguments.database)
    os.environ["DATABASE_URL"] = harness.database_url(scratch)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carlit.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from studies.bundles import import_bundle

    try:
        user, _ = get_user_model().objects.get_or_create(
            username="bench-importer", defaults={"is_staff": True}
        )
        token = Token.objects.get_or_create(user=user)[0].key
        documents = bundles_to_import(arguments.bundles)
        rows = sum(
            len(d.get("patients", [])) + sum(len(s.get("arms", [])) for s in d["studies"])
            for d in documents
        )
        print(
            f"[bundles: {len(documents)} bundles from {arguments.database} "
            f"(copied to {scratch}); {rows} arms and patients in all]",
            flush=True,
        )
        api_times, local_times = [], []
        with harness.Server(scratch) as server:
            headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
            for number, document in enumerate(documents):
                if number % 2 == 0:
                    answer = harness.request(
                        server.address,
                        "POST",
                        "/api/v1/bundles/",
                        body=json.dumps(document).encode(),
                        headers=headers,
                    )
                    if answer.status != 201:
                        raise RuntimeError(
                            f"API import: HTTP {answer.status} {answer.body[:500]!r}"
                        )
                    api_times.append(answer.seconds)
                else:
                    started = time.perf_counter()
                    import_bundle(document, user=user)
                    local_times.append(time.perf_counter() - started)
        api, local = statistics.median(api_times), statistics.median(local_times)
        print(
            f"  bundle import: API {1 / api:.1f} bundles/s ({harness.ms(api)} each) vs "
            f"in-process {1 / local:.1f} bundles/s ({harness.ms(local)} each) -> "
            f"ratio {api / local:.2f}× (HTTP, authentication and DRF on top of the import)"
        )
    finally:
        from django.db import connections

        connections.close_all()
        harness.psql("postgres", f'DROP DATABASE IF EXISTS "{scratch}"')


if __name__ == "__main__":
    main()
