"""The records the discussion tests talk about (the named people are in
tests/conftest.py): Alice's draft, Carol's draft of another paper, and an accepted public
study (Alice's, accepted by Rita)."""

import pytest

from curation import services as curation
from discussion import services
from studies.models import Arm
from tests.curation.bundles import new_publication_payload


@pytest.fixture
def people(curator, other_curator, reviewer, outsider):
    return {"anonymous": None, "otto": outsider, "alice": curator, "carol": other_curator,
            "rita": reviewer}


@pytest.fixture
def draft(curator):
    """Alice's draft of a new paper."""
    return curation.extraction_import(curator=curator, payload=new_publication_payload())


@pytest.fixture
def carols_draft(other_curator):
    return curation.extraction_import(
        curator=other_curator, payload=new_publication_payload(doi="10.5555/carol.1")
    )


@pytest.fixture
def accepted(curator, reviewer):
    """Alice's extraction of another paper, accepted by Rita: its rows are public."""
    extraction = curation.extraction_import(
        curator=curator, payload=new_publication_payload(doi="10.5555/public.1")
    )
    extraction = curation.extraction_submit(extraction_id=extraction.pk, user=curator,
                                            version=extraction.version)
    return curation.extraction_accept(extraction_id=extraction.pk, user=reviewer,
                                      version=extraction.version)


@pytest.fixture
def public_arm(accepted):
    return Arm.objects.get(source_publication=accepted.publication)


@pytest.fixture
def question(draft, reviewer):
    """Rita's question on Alice's draft."""
    return services.comment_add(
        user=reviewer, target_type="curation.extraction", object_id=draft.pk,
        kind="question", body="Is the day-90 SLEDAI-2K 2 or 4? Table 2 is blurry.",
        location="patients[0].outcomes[1].value",
    )
