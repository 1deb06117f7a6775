"""Curators and a reviewer at work in a real browser (Debian chromium, Playwright).

1. A curator signs in, creates a publication, adds a study, an arm with its product,
   a patient and a SLEDAI-2K result with its source (rows added without reloading),
   and submits; a reviewer accepts; an anonymous visitor then sees the result in the
   catalogue and the API.
2. Two curators edit the same draft; the second save is refused and keeps the input.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from curation.models import Extraction, ExtractionStatus
from studies.models import CarConstruct

pytestmark = [
    pytest.mark.browser,
    # Roles and vocabularies come from data migrations: restore them for every test.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"
DOI = "10.5555/browser.curation.1"


def person(username: str, *roles: str):
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    user.groups.add(*Group.objects.filter(name__in=roles))
    return user


def sign_in(page, base_url: str, username: str, next_url: str = "/curation/"):
    page.goto(f"{base_url}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


def add_row(page, section: str, index: int):
    """Click 'Add …' and wait for the row htmx inserts (no page load)."""
    page.click(f'button[data-add-row="{section}"]')
    page.wait_for_selector(f"#row-{section}-{index}")


def test_a_curators_extraction_becomes_public_once_a_reviewer_accepts_it(demo, page_for):
    person("alice", "curator")
    person("rita", "reviewer")
    construct = CarConstruct.objects.order_by("name").first().name

    curator = page_for()
    sign_in(curator, demo.url, "alice")
    curator.click("text=Start a new publication")
    curator.fill("#id_publication-doi", DOI)
    curator.fill("#id_publication-year", "2025")
    curator.select_option("#id_publication-publication_type", "case_report")
    curator.fill("#id_publication-title", "CD19 CAR T cells for a patient with lupus (browser)")
    curator.fill("#id_publication-journal", "Browser Reports")
    curator.fill("#id_publication-authors", "Lovelace, Ada")
    curator.click("#new-publication button[type=submit]")
    curator.wait_for_url(re.compile(r"/curation/extractions/\d+/$"))

    add_row(curator, "studies", 0)
    curator.fill("#id_studies-0-key", "case")
    curator.fill("#id_studies-0-title", "Browser case of CD19 CAR T in SLE")
    curator.select_option("#id_studies-0-design", "case")

    add_row(curator, "arms", 0)
    curator.fill("#id_arms-0-study", "case")
    curator.fill("#id_arms-0-label", "SLE")
    curator.select_option("#id_arms-0-disease", "sle")
    curator.select_option("#id_arms-0-lymphodepletion", "flu-cy-standard")
    curator.fill("#id_arms-0-n_patients", "1")
    curator.select_option("#id_arms-0-source_kind", "text")
    curator.fill("#id_arms-0-source_label", "Case presentation")

    add_row(curator, "products", 0)
    curator.fill("#id_products-0-arm", "case / SLE")
    curator.select_option("#id_products-0-construct", construct)
    curator.fill("#id_products-0-dose_value", "1000000")
    curator.select_option("#id_products-0-dose_unit", "cells_per_kg")

    add_row(curator, "patients", 0)
    curator.fill("#id_patients-0-arm", "case / SLE")
    curator.fill("#id_patients-0-label", "Patient B1")
    curator.fill("#id_patients-0-age_years", "27")
    curator.select_option("#id_patients-0-sex", "female")
    curator.select_option("#id_patients-0-primary_disease", "sle")
    curator.select_option("#id_patients-0-source_kind", "table")
    curator.fill("#id_patients-0-source_label", "Table 1")

    add_row(curator, "outcomes", 0)
    curator.fill("#id_outcomes-0-subject", "patient: case / SLE / Patient B1")
    curator.select_option("#id_outcomes-0-measure", "sledai-2k")
    # The measure's range appears next to it as soon as it is chosen.
    hint = curator.locator("#hint-outcomes-0")
    hint.filter(has_text="0–105").wait_for()
    curator.select_option("#id_outcomes-0-timepoint", "baseline")
    curator.fill("#id_outcomes-0-value", "17")
    curator.select_option("#id_outcomes-0-source_kind", "table")
    curator.fill("#id_outcomes-0-source_label", "Table 2")
    assert curator.locator(".row-card").count() == 6  # publication + five rows, one page

    curator.click('button[name=action][value=submit]')
    curator.wait_for_selector(".status-submitted")
    extraction = Extraction.objects.get()
    assert extraction.status == ExtractionStatus.SUBMITTED

    # The catalogue does not show it yet.
    visitor = page_for()
    visitor.goto(f"{demo.url}/studies/?q=Browser+case")
    assert "Browser case of CD19 CAR T in SLE" not in visitor.content()

    reviewer = page_for()
    sign_in(reviewer, demo.url, "rita")
    assert reviewer.locator('[data-count="review"]').inner_text() == "1"
    reviewer.click(f'#queue-review a[href="/curation/extractions/{extraction.pk}/"]')
    reviewer.fill("#id_comment", "Checked against Table 2.")
    reviewer.click("button[name=action][value=accept]")
    reviewer.wait_for_selector(".status-accepted")

    visitor.goto(f"{demo.url}/studies/?q=Browser+case")
    visitor.click("text=Browser case of CD19 CAR T in SLE")
    visitor.wait_for_url(re.compile(r"/studies/\d+/$"))
    study_id = int(re.search(r"/studies/(\d+)/$", visitor.url).group(1))
    timeline = visitor.locator("td.timeline").first.inner_text()
    assert "17" in timeline
    body = visitor.request.get(
        f"{demo.url}/api/v1/outcomes/?measure=sledai-2k&page_size=500").json()
    mine = [row for row in body["results"] if row["study"] == study_id]
    assert [row["value"] for row in mine] == [17], "the API lists the new result"


def test_the_second_of_two_concurrent_saves_is_refused_and_keeps_the_input(demo, page_for):
    from curation.services import extraction_create

    alice = person("alice", "curator")
    person("ada", "curator", "admin")
    extraction = extraction_create(curator=alice, citation={
        "doi": DOI, "year": 2025, "publication_type": "article",
        "title": "A paper two people edit"})
    url = f"{demo.url}/curation/extractions/{extraction.pk}/"

    first = page_for()
    sign_in(first, demo.url, "alice", next_url=f"/curation/extractions/{extraction.pk}/")
    second = page_for()
    sign_in(second, demo.url, "ada", next_url=f"/curation/extractions/{extraction.pk}/")
    assert first.url == second.url == url

    second.fill("#id_publication-journal", "Journal typed by Ada")
    second.click("button[name=action][value=save]")
    second.wait_for_selector("text=Draft saved (version 2)")

    first.fill("#id_publication-journal", "Journal typed by Alice")
    first.fill("#id_publication-pages", "101-109")
    first.click("button[name=action][value=save]")
    first.wait_for_selector("#stale")
    assert "changed by ada after you opened it" in first.content()
    assert first.input_value("#id_publication-journal") == "Journal typed by Alice"
    assert first.input_value("#id_publication-pages") == "101-109"
    assert "Journal typed by Ada" in first.locator("#stale").inner_text()

    extraction.refresh_from_db()
    assert extraction.payload["publication"]["journal"] == "Journal typed by Ada"
    assert extraction.version == 2
