"""Dual extraction in a real browser (Debian chromium, Playwright).

alice and carol extract the same paper independently (their payloads are seeded
through the services, except carol's one differing value, which she types in her
workspace). rita, a reviewer, finds the pair ready to reconcile, sees the one
disagreement highlighted and the agreement rate, picks carol's value and confirms; the
catalogue's study page then shows the chosen value.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from curation import services
from curation.models import Extraction, ExtractionStatus, Reconciliation
from tests.curation.bundles import new_publication_payload

pytestmark = [
    pytest.mark.browser,
    # Roles and vocabularies come from data migrations: restore them for every test.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"
DOI = "10.5555/browser.dual.1"
TITLE = "Dual-extracted case of CD19 CAR T in SLE"


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


def payload() -> dict:
    document = new_publication_payload(doi=DOI)
    document["studies"][0]["title"] = TITLE
    # As the workspace's form fills it in when carol saves (else a second disagreement).
    document["studies"][0]["arms"][0]["products"][0]["administration"] = "single"
    return document


def test_a_reviewer_reconciles_two_extractions_and_the_catalogue_shows_the_choice(
    demo, page_for
):
    alice = person("alice", "curator")
    carol = person("carol", "curator")
    person("rita", "reviewer")
    alices = services.extraction_import(curator=alice, payload=payload())
    services.extraction_submit(extraction_id=alices.pk, user=alice, version=alices.version)
    carols = services.extraction_import(curator=carol, payload=payload())

    # carol reads the SLEDAI-2K at day 90 as 4 (alice: 2) and submits.
    curator = page_for()
    workspace = f"/curation/extractions/{carols.pk}/"
    sign_in(curator, demo.url, "carol", next_url=workspace)
    assert curator.input_value("#id_outcomes-1-value") == "2"
    curator.fill("#id_outcomes-1-value", "4")
    curator.click("button[name=action][value=submit]")
    curator.wait_for_selector(".status-submitted")
    assert "alice" not in curator.content()

    reviewer = page_for()
    sign_in(reviewer, demo.url, "rita")
    reviewer.click(f'#queue-reconcile a[href="/curation/reconcile/{alices.pk}/{carols.pk}/"]')
    reviewer.wait_for_selector("#reconcile-form")
    assert reviewer.locator("#dispute-count").inner_text() == "1 decision to make"
    agreement = reviewer.locator("#agreement [data-agreement]").inner_text()
    assert re.fullmatch(r"9\d\.\d%", agreement), agreement
    disputed = reviewer.locator("tr.dispute")
    assert disputed.count() == 1
    assert disputed.get_attribute("data-field") == "value"
    assert disputed.locator("td.side-a").inner_text() == "2"
    assert disputed.locator("td.side-b").inner_text() == "4"
    # It is highlighted: its background differs from an agreeing row's.
    background = "el => getComputedStyle(el).backgroundColor"
    agreeing = reviewer.locator("tr.field-agree td").first
    assert disputed.locator("td").first.evaluate(background) != agreeing.evaluate(background)

    disputed.locator("input[type=radio][value=b]").check()
    reviewer.click("#reconcile-form button[type=submit]")
    reviewer.wait_for_selector("#reconciliation")
    assert reviewer.locator("#reconciliation [data-agreement]").inner_text() == agreement
    assert reviewer.locator(".status-accepted").count() == 1
    done = Reconciliation.objects.get()
    assert set(Extraction.objects.filter(pk__in=[alices.pk, carols.pk]).values_list(
        "status", flat=True)) == {ExtractionStatus.MERGED}
    assert f"{done.agreement_percent}%" == agreement

    visitor = page_for()
    visitor.goto(f"{demo.url}/studies/?q=Dual-extracted")
    visitor.click(f"text={TITLE}")
    visitor.wait_for_url(re.compile(r"/studies/\d+/$"))
    timeline = visitor.locator("td.timeline").first.inner_text()
    assert re.search(r"day 90: 4\b", timeline), timeline
