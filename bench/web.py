"""Benchmarks of pages and API lists served by gunicorn, each against a counterpart.

- API list against the raw-SQL view returning the same rows (with and without filters);
- the catalogue page against the same rows from raw SQL rendered by a bare template;
- a deep cursor page against the first page;
- the same requests against a small and a large database.
"""

from __future__ import annotations

import json
import re

from .harness import Comparison, Server, compare, get, getter, psql

API_LIST = "/api/v1/studies/"
RAW_LIST = "/bench/raw/studies/"
PAGE_SIZE = 100
# Filter sets of the API list benchmark: none, one, several.
FILTERS = ("", "disease=sle", "target=cd19&phase=1", "disease=iim&country=DE&status=recruiting")
TIMESTAMPS = ("created_at", "updated_at")


def _results(body: bytes) -> list[dict]:
    return json.loads(body)["results"]


def check_same_rows(server: Server, query: str) -> int:
    """The API and the raw view must send the same rows in the same order."""
    suffix = f"&{query}" if query else ""
    api = _results(get(server.address, f"{API_LIST}?page_size={PAGE_SIZE}{suffix}").body)
    raw = _results(get(server.address, f"{RAW_LIST}?page_size={PAGE_SIZE}{suffix}").body)
    strip = [{k: v for k, v in row.items() if k not in TIMESTAMPS} for row in api]
    raw_strip = [{k: v for k, v in row.items() if k not in TIMESTAMPS} for row in raw]
    if strip != raw_strip:
        for a, b in zip(strip, raw_strip, strict=False):
            if a != b:
                raise AssertionError(f"API and raw rows differ ({query or 'no filter'}):\n{a}\n{b}")
        raise AssertionError(f"API sent {len(strip)} rows, raw {len(raw_strip)}")
    return len(strip)


def api_vs_raw(server: Server, *, rounds: int) -> list[Comparison]:
    results = []
    for query in FILTERS:
        rows = check_same_rows(server, query)
        suffix = f"&{query}" if query else ""
        results.append(
            compare(
                "API list vs raw SQL",
                f"{API_LIST}?page_size={PAGE_SIZE}{suffix}",
                "API",
                getter(server.address, f"{API_LIST}?page_size={PAGE_SIZE}{suffix}"),
                "raw",
                getter(server.address, f"{RAW_LIST}?page_size={PAGE_SIZE}{suffix}"),
                rounds=rounds,
                target=2,
                note=f"{rows} rows, same as raw",
            )
        )
    return results


STUDY_LINK = re.compile(rb'href="/studies/(\d+)/"')


def catalogue_vs_raw(server: Server, *, rounds: int) -> list[Comparison]:
    page = get(server.address, "/studies/").body
    raw = get(server.address, "/bench/raw/catalogue/").body
    ours, theirs = STUDY_LINK.findall(page), STUDY_LINK.findall(raw)
    if ours != theirs:
        raise AssertionError(f"catalogue and raw page list other studies: {ours} / {theirs}")
    return [
        compare(
            "Catalogue vs raw SQL",
            "/studies/ (first page, no filter)",
            "catalogue",
            getter(server.address, "/studies/"),
            "raw+bare template",
            getter(server.address, "/bench/raw/catalogue/"),
            rounds=rounds,
            target=3,
            note=f"{len(ours)} rows, same as raw; the catalogue also counts its facets",
        )
    ]


def study_at(database: str, fraction: float) -> tuple[int, str]:
    """The (id, title) of the study that far into the API's order (title, id)."""
    total = psql(database, "SELECT count(*) FROM studies_study")[0][0]
    offset = min(total - 1, int(total * fraction))
    return psql(
        database,
        f"SELECT id, title FROM studies_study ORDER BY title, id OFFSET {offset} LIMIT 1",
    )[0]


def walked_cursor(server: Server, fraction: float, query: str = "") -> str:
    """The cursor the API itself hands out about ``fraction`` into the list, reached by
    following its next links (up to 500 rows a page)."""
    total = psql(server.database, "SELECT count(*) FROM studies_study")[0][0]
    size = min(500, max(10, total // 50))
    path = f"{API_LIST}?page_size={size}{'&' + query if query else ''}"
    seen = 0
    while True:
        page = json.loads(get(server.address, path).body)
        seen += len(page["results"])
        if not page["next"] or seen >= total * fraction:
            break
        path = page["next"].split(server.address, 1)[1]
    match = re.search(r"cursor=([^&]+)", page["next"] or "")
    if not match:
        raise AssertionError("the list ended before the deep page")
    return match.group(1)


def deep_vs_first(server: Server, *, rounds: int) -> list[Comparison]:
    cursor = walked_cursor(server, 0.9)
    deep = f"{API_LIST}?page_size={PAGE_SIZE}&cursor={cursor}"
    first = f"{API_LIST}?page_size={PAGE_SIZE}"
    if not _results(get(server.address, deep).body):
        raise AssertionError("the deep cursor page is empty")
    study_id, _ = study_at(server.database, 0.9)
    results = [
        compare(
            "Deep cursor vs first page",
            "API, 90% into the list (cursor from its next links)",
            "deep page",
            getter(server.address, deep),
            "first page",
            getter(server.address, first),
            rounds=rounds,
            target=1.2,
        )
    ]
    results.append(
        compare(
            "Deep cursor vs first page",
            "raw SQL keyset, 90% into the list",
            "deep page",
            getter(server.address, f"{RAW_LIST}?page_size={PAGE_SIZE}&after={study_id}"),
            "first page",
            getter(server.address, f"{RAW_LIST}?page_size={PAGE_SIZE}"),
            rounds=rounds,
            target=None,
            note="for reference",
        )
    )
    return results


def scale_paths(server: Server) -> list[str]:
    """The same kinds of request for any database size (ids picked at the same rank)."""
    study_id, _ = study_at(server.database, 0.5)
    construct = psql(server.database, "SELECT id FROM studies_carconstruct ORDER BY id LIMIT 1")
    return [
        f"{API_LIST}?page_size={PAGE_SIZE}",
        f"{API_LIST}?page_size={PAGE_SIZE}&disease=sle&target=cd19",
        f"{API_LIST}?page_size={PAGE_SIZE}&cursor={walked_cursor(server, 0.9)}",
        f"{API_LIST}{study_id}/",
        "/studies/",
        "/studies/?disease=ssc&phase=1",
        # The same pages counted afresh, as on their first request after a change.
        "/bench/afresh/catalogue/",
        "/bench/afresh/catalogue/?disease=ssc&phase=1",
        f"/studies/{study_id}/",
        f"/constructs/{construct[0][0]}/",
        # The home page and a disease's page: their study totals, like the catalogue's.
        "/",
        "/diseases/sle/",
        # The dashboard, and a group's drill-down, first page (both need the stored
        # summaries: bench/run.py prepare builds them unless --no-summaries).
        "/summary/",
        "/summary/sle/cd19/",
        # The drill-down with its rows pooled and drawn anew, as after a change.
        "/bench/afresh/summary/sle/cd19/",
    ]


def small_vs_large(small: Server, large: Server, *, rounds: int) -> list[Comparison]:
    results = []
    for small_path, large_path in zip(scale_paths(small), scale_paths(large), strict=True):
        name = re.sub(r"/\d+/", "/<id>/", small_path)
        name = re.sub(r"cursor=[^&]+", "cursor=<90%>", name)
        results.append(
            compare(
                f"{large.database} vs {small.database}",
                name,
                "large",
                getter(large.address, large_path),
                "small",
                getter(small.address, small_path),
                rounds=rounds,
                target=1.5,
            )
        )
    return results
