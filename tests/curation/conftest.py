"""Named people of the curation tests, each holding the role the name says.

The role groups come from curation's data migration; users join them as a site
admin would. Passwords are unusable: log in with client.force_login.
"""

import pytest
from django.contrib.auth.models import Group

from tests.factories import UserFactory

from .bundles import new_publication_payload


def with_roles(username: str, *roles: str):
    user = UserFactory(username=username)
    user.groups.add(*Group.objects.filter(name__in=roles))
    return user


@pytest.fixture
def curator(db):
    """Alice curates: she starts extractions and edits her own drafts."""
    return with_roles("alice", "curator")


@pytest.fixture
def other_curator(db):
    """Carol curates too, on her own drafts."""
    return with_roles("carol", "curator")


@pytest.fixture
def reviewer(db):
    """Rita reviews other people's submissions."""
    return with_roles("rita", "reviewer")


@pytest.fixture
def senior(db):
    """Sam curates and reviews (a senior curator holding both roles)."""
    return with_roles("sam", "curator", "reviewer")


@pytest.fixture
def admin_user(db):
    """Ada holds the admin role: every curation permission."""
    return with_roles("ada", "admin")


@pytest.fixture
def outsider(db):
    """Otto is signed in but has no role."""
    return UserFactory(username="otto")


@pytest.fixture
def client_for(client):
    """client_for(user) -> the test client signed in as user (None: anonymous)."""

    def sign_in(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def draft(curator):
    """Alice's draft of a new publication, with one arm, one patient and a SLEDAI-2K."""
    from curation.services import extraction_import

    return extraction_import(curator=curator, payload=new_publication_payload())
