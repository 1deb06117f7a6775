"""Roles, queues and their counts in the navigation bar, and races between reviewers."""

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from curation import services
from curation.models import ExtractionStatus

from .bundles import new_publication_payload


def test_the_roles_exist_with_their_permissions(db):
    roles = {group.name: group for group in Group.objects.prefetch_related("permissions")}
    codenames = {name: {p.codename for p in group.permissions.all()}
                 for name, group in roles.items()}
    assert {"add_extraction", "change_extraction"} <= codenames["curator"]
    assert "review_extraction" not in codenames["curator"]
    assert {"review_extraction", "revert_record"} <= codenames["reviewer"]
    assert "add_extraction" not in codenames["reviewer"]
    assert {"manage_extractions", "review_extraction", "change_study"} <= codenames["admin"]


def test_the_navigation_bar_counts_each_queue(client_for, curator, reviewer, draft):
    services.extraction_import(curator=curator, payload=new_publication_payload(
        doi="10.5555/second"))
    page = client_for(curator).get("/").content.decode()
    assert 'data-count="mine">2<' in page
    assert 'data-count="review"' not in page

    services.extraction_submit(extraction_id=draft.pk, user=curator, version=1)
    page = client_for(reviewer).get("/").content.decode()
    assert 'data-count="review">1<' in page
    queue = client_for(reviewer).get("/curation/").content.decode()
    assert 'data-queue-count="review">1<' in queue


def test_returned_extractions_wait_in_the_curators_queue(client_for, curator, reviewer, draft):
    submitted = services.extraction_submit(extraction_id=draft.pk, user=curator, version=1)
    services.extraction_reject(extraction_id=submitted.pk, user=reviewer,
                               version=submitted.version, comment="Patient 1's age is 25.")
    page = client_for(curator).get("/curation/").content.decode()
    returned = page.split('id="queue-returned"')[1].split("</section>")[0]
    assert "Lovelace et al. 2024" in returned and "Patient 1&#x27;s age is 25." in returned
    assert 'data-count="mine">1<' in page


def test_anonymous_visitors_see_a_sign_in_link_and_no_queue(client, db):
    page = client.get("/").content.decode()
    assert "/accounts/login/" in page and "data-count" not in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_reviewers_acting_at_once_cannot_both_succeed(curator, reviewer, senior):
    draft = services.extraction_import(curator=curator, payload=new_publication_payload())
    submitted = services.extraction_submit(extraction_id=draft.pk, user=curator, version=1)
    start = threading.Barrier(2)
    results = {}

    def act(name, action):
        try:
            start.wait()
            action()
            results[name] = "done"
        except services.ExtractionRefused as refused:
            results[name] = type(refused).__name__
        finally:
            connection.close()

    threads = [
        threading.Thread(target=act, args=("accept", lambda: services.extraction_accept(
            extraction_id=submitted.pk, user=reviewer, version=submitted.version))),
        threading.Thread(target=act, args=("reject", lambda: services.extraction_reject(
            extraction_id=submitted.pk, user=senior, version=submitted.version,
            comment="Not yet"))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results.values()) == ["StaleVersion", "done"], results
    submitted.refresh_from_db()
    expected = ExtractionStatus.ACCEPTED if results["accept"] == "done" else \
        ExtractionStatus.REJECTED
    assert submitted.status == expected
    assert submitted.version == 3
