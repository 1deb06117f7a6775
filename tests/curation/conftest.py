"""Records of the curation tests. The named people (Alice the curator, Rita the
reviewer, ...) are fixtures of tests/conftest.py, shared with the other apps' tests."""

import pytest

from .bundles import new_publication_payload


@pytest.fixture
def draft(curator):
    """Alice's draft of a new publication, with one arm, one patient and a SLEDAI-2K."""
    from curation.services import extraction_import

    return extraction_import(curator=curator, payload=new_publication_payload())
