"""The Python example of docs/api-examples.md (copied into the README) runs as written
against a live server: paging, CSV into pandas, and a bundle upload."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from studies.models import OutcomeResult, Publication
from tests.factories import UserFactory

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCRIPT = DOCS / "examples" / "api_example.py"


def run_example(base_url: str, token: str = "") -> str:
    env = {**os.environ, "CARLIT_API_URL": base_url, "CARLIT_API_TOKEN": token}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_python_example_runs_against_a_live_server(live_server):
    staff = UserFactory(username="example-staff", is_staff=True)
    token = Token.objects.create(user=staff).key

    first = run_example(live_server.url, token)
    assert "SLE x CD19 studies: 0" in first
    assert "Bundle imported: publication" in first and "created" in first
    publication = Publication.objects.get(doi="10.1038/s41591-022-02017-5")
    assert OutcomeResult.objects.filter(source_publication=publication).count() == 5

    second = run_example(live_server.url, token)
    assert "SLE x CD19 studies: 1" in second
    assert "Erlangen CD19 CAR T-cell programme" in second
    assert "DORIS rows: 1" in second
    assert "updated in place" in second
    assert Publication.objects.count() == 1

    anonymous = run_example(live_server.url)
    assert "Bundle imported" not in anonymous


def test_the_docs_and_readme_show_the_example_verbatim(db):
    script = SCRIPT.read_text().strip()
    assert script in (DOCS / "api-examples.md").read_text()
    assert script in (DOCS.parent / "README.md").read_text()
