"""A curator imports a RIS file in a real browser (Debian chromium, Playwright).

Three references, one of them (Müller 2024, by DOI) already in the catalogue: the
preview shows 2 new and 1 match; after confirming, the two new publications exist
once each (as draft extractions, public once a reviewer accepts them) and the
matched one is not duplicated.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from curation.models import Extraction
from studies.models import Publication
from tests.factories import PublicationFactory
from tests.imports.samples import MACKENSEN_DOI, MULLER_DOI, RIS_THREE, TAUBMANN_DOI

pytestmark = [
    pytest.mark.browser,
    # Roles and vocabularies come from data migrations: restore them for every test.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"


def sign_in(page, base_url: str, username: str, next_url: str):
    page.goto(f"{base_url}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


def test_a_curator_imports_a_ris_file_with_one_reference_already_present(
    live_server, page, tmp_path
):
    curator = get_user_model().objects.create_user("alice", password=PASSWORD)
    curator.groups.add(*Group.objects.filter(name="curator"))
    PublicationFactory(doi=MULLER_DOI.lower(), pmid=None, authors=["Müller"])
    ris = tmp_path / "car-t-references.ris"
    ris.write_bytes(RIS_THREE)

    sign_in(page, live_server.url, "alice", "/curation/")
    page.click("text=Import citations or registry records")
    page.wait_for_url(re.compile(r"/curation/import/$"))
    page.set_input_files("#id_file", str(ris))
    page.click("#import-upload button[type=submit]")
    page.wait_for_url(re.compile(r"/curation/import/[\w-]+/$"))

    assert page.text_content('[data-import-count="new"]') == "2"
    assert page.text_content('[data-import-count="matches"]') == "1"
    assert page.text_content('[data-import-count="invalid"]') == "0"
    match = page.locator("#import-matches tbody tr")
    assert match.count() == 1
    assert "line 18" in match.inner_text() and "in the catalogue" in match.inner_text()

    page.click("#import-confirm button[type=submit]")
    page.wait_for_url(re.compile(r"/curation/import/[\w-]+/done/$"))
    assert "2 draft extractions and 0 registry records created" in page.inner_text("main")
    links = page.locator("#imported-extractions table a")
    assert links.count() == 2

    for doi in (MACKENSEN_DOI, TAUBMANN_DOI):
        assert Extraction.objects.filter(payload__publication__doi=doi.lower()).count() == 1
    assert not Extraction.objects.filter(payload__publication__doi=MULLER_DOI.lower()).exists()
    assert Publication.objects.filter(doi=MULLER_DOI.lower()).count() == 1
    assert Publication.objects.count() == 1

    # The links lead to the curator's drafts.
    links.first.click()
    page.wait_for_url(re.compile(r"/curation/extractions/\d+/$"))
