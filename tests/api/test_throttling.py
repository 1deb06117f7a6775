"""Rate limits: over the limit a client gets 429 with Retry-After, counted per client
in the shared cache."""

import pytest
from django.core.cache import cache

from .conftest import token_client


@pytest.fixture
def tight_limits(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/minute", "user": "3/minute"},
    }
    cache.clear()


def test_anonymous_clients_get_429_with_retry_after(db, tight_limits, anonymous_client):
    statuses = [anonymous_client.get("/api/v1/antigens/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = anonymous_client.get("/api/v1/antigens/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()


def test_token_clients_have_their_own_larger_allowance(db, tight_limits, staff, curator):
    for _ in range(2):
        token_client().get("/api/v1/antigens/")
    staff_client = token_client(staff)
    assert [staff_client.get("/api/v1/antigens/").status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]
    assert token_client(curator).get("/api/v1/antigens/").status_code == 200


def test_limits_are_counted_in_the_default_cache(db, tight_limits, anonymous_client):
    anonymous_client.get("/api/v1/antigens/")
    history = cache.get("throttle_anon_127.0.0.1")  # DRF's key: scope and client address
    assert isinstance(history, list) and len(history) == 1
