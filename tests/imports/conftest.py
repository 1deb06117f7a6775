"""The people of the import tests (the curation tests' named users)."""

import pytest

from tests.curation.conftest import with_roles
from tests.factories import UserFactory


@pytest.fixture
def curator(db):
    """Alice curates: she imports files and extracts what they cite."""
    return with_roles("alice", "curator")


@pytest.fixture
def other_curator(db):
    return with_roles("carol", "curator")


@pytest.fixture
def reviewer(db):
    """Rita only reviews: the curation area is open to her, importing is not."""
    return with_roles("rita", "reviewer")


@pytest.fixture
def outsider(db):
    return UserFactory(username="otto")


@pytest.fixture
def client_for(client):
    def sign_in(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return sign_in
