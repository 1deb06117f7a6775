"""A reviewer flags a suspected error on a curator's draft in a real browser (htmx
swaps the thread in place); the curator finds it in her queue, replies and resolves."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from curation import services as curation
from tests.curation.bundles import new_publication_payload

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery staple"


def person(username: str, *roles: str):
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    user.groups.add(*Group.objects.filter(name__in=roles))
    return user


def sign_in(page, base_url: str, username: str, next_url: str):
    page.goto(f"{base_url}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


def test_a_flag_goes_from_reviewer_to_curator_and_is_resolved(live_server, page_for):
    alice = person("alice", "curator")
    person("rita", "reviewer")
    draft = curation.extraction_import(curator=alice, payload=new_publication_payload())
    workspace = f"/curation/extractions/{draft.pk}/"

    rita = page_for()
    sign_in(rita, live_server.url, "rita", workspace)
    rita.click("#discussion .comment-new summary")
    rita.select_option("#discussion select[name=kind]", "suspected_error")
    rita.fill("#discussion textarea[name=body]", "Age is 42 in Table 1, not 24.")
    rita.fill("#discussion input[name=location]", "patients[0].age_years")
    rita.click("#discussion .comment-new button[type=submit]")
    flag = rita.locator("#discussion article.comment", has_text="Age is 42 in Table 1")
    flag.wait_for()
    assert rita.url.endswith(workspace)  # swapped in place by htmx, no page load
    assert rita.locator("[data-open-comments]").inner_text() == "1 open"

    curator = page_for()
    sign_in(curator, live_server.url, "alice", "/curation/")
    queue = curator.locator("#queue-comments")
    assert queue.locator("[data-queue-count]").inner_text() == "1"
    queue.locator("a", has_text=f"Extraction {draft.pk}").click()
    curator.wait_for_url(re.compile(r"#comment-\d+$"))
    thread = curator.locator("#discussion article.comment").first
    thread.locator(".comment-reply-form summary").click()
    thread.locator("textarea[name=body]").fill("Corrected, thank you.")
    thread.locator(".comment-reply-form button[type=submit]").click()
    curator.locator(".comment-reply", has_text="Corrected, thank you.").wait_for()
    curator.click("#discussion button[data-action=resolve]")
    curator.locator("#discussion [data-comment-state=resolved]").wait_for()
    assert "Resolved by alice" in curator.locator("#discussion").inner_text()

    curator.goto(f"{live_server.url}/curation/")
    assert curator.locator("#queue-comments [data-queue-count]").inner_text() == "0"
