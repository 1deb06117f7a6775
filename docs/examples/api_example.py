"""carlit's REST API from Python: page through studies, load results into pandas, and
upload a study bundle.

    pip install requests pandas
    CARLIT_API_URL=http://127.0.0.1:8000 CARLIT_API_TOKEN=<staff token> \
        python docs/examples/api_example.py

Reading needs no token. Uploading needs a staff user's token: create one with
`python manage.py drf_create_token <username>`.
"""

import io
import json
import os
import sys
from pathlib import Path

import pandas as pd
import requests

API = os.environ.get("CARLIT_API_URL", "http://127.0.0.1:8000").rstrip("/") + "/api/v1"
TOKEN = os.environ.get("CARLIT_API_TOKEN", "")

session = requests.Session()
if TOKEN:
    session.headers["Authorization"] = f"Token {TOKEN}"


def all_rows(resource: str, **filters):
    """Every row of a list, following the opaque `next` links page by page."""
    url, params = f"{API}/{resource}/", {"page_size": 200, **filters}
    while url:
        response = session.get(url, params=params, timeout=30)
        response.raise_for_status()
        page = response.json()
        yield from page["results"]
        url, params = page["next"], None  # the next link already carries the filters


def csv_frame(resource: str, **filters) -> pd.DataFrame:
    """A list as one DataFrame, read from CSV pages (the next page is in the Link header)."""
    url, params = f"{API}/{resource}/", {"format": "csv", "page_size": 500, **filters}
    frames = []
    while url:
        response = session.get(url, params=params, timeout=30)
        response.raise_for_status()
        frames.append(pd.read_csv(io.StringIO(response.text)))
        url, params = response.links.get("next", {}).get("url"), None
    return pd.concat(frames, ignore_index=True)


# 1. Studies of SLE treated with a CD19-targeted product, through every page.
studies = list(all_rows("studies", disease="sle", target="cd19"))
print(f"SLE x CD19 studies: {len(studies)}")
for study in studies:
    print(f"  {study['title']} ({study['n_patients']} patients, reports {study['publications']})")

# 2. Arm-level DORIS remission counts as a DataFrame: events over patients evaluable.
doris = csv_frame("outcomes", measure="doris", level="arm")
print(f"DORIS rows: {len(doris)}")
if len(doris):
    print(doris[["study", "arm", "day", "n_events", "n_evaluable", "source_label"]])

# 3. Upload a study bundle (needs a staff token). Imports are keyed by DOI/PMID: if the
#    catalogue already has this paper, export it and upload it back, which changes nothing.
if TOKEN:
    doi = "10.1038/s41591-022-02017-5"
    known = session.get(f"{API}/publications/", params={"doi": doi}, timeout=30).json()
    if known["results"]:
        bundle = session.get(f"{API}/bundles/{known['results'][0]['id']}/", timeout=30).json()
    else:
        bundle = json.loads(Path(__file__).with_name("mackensen-2022-bundle.json").read_text())
    response = session.post(f"{API}/bundles/", json=bundle, timeout=60)
    if response.status_code == 400:  # nothing was written; every problem has its path
        for problem in response.json()["errors"]:
            print(f"  {problem['path']}: {problem['message']}")
        sys.exit(1)
    response.raise_for_status()
    result = response.json()
    state = "created" if result["created"] else "updated in place"
    print(f"Bundle imported: publication {result['publication']} {state}, {result['written']}")
