"""Who may read, write and resolve comments. Services enforce these; views, template
tags and the API use them to decide what to show.

Reading follows curation: a comment on an extraction is seen by whoever may see the
extraction (its curator, reviewers, admins), so two curators extracting one paper
never read each other's discussion, which could give their values away. Comments on
live records are seen by every curation user and never by the public.
"""

from __future__ import annotations

from curation import rules as curation_rules
from curation.models import Extraction, ExtractionStatus

from . import targets


def may_see_discussion(user) -> bool:
    return curation_rules.may_use_curation(user)


def may_view_target(user, target) -> bool:
    if isinstance(target, Extraction):
        return curation_rules.may_view(user, target)
    return may_see_discussion(user)


# Whoever may see a record may ask about it or flag it.
may_comment = may_view_target


def is_record_curator(user, target) -> bool:
    """The extraction's curator, or for a live record the curator of an accepted
    extraction of the publication it came from."""
    if not curation_rules.is_curator(user):
        return False
    if isinstance(target, Extraction):
        return target.curator_id == user.pk
    publications = targets.publication_ids(target)
    return bool(publications) and Extraction.objects.filter(
        curator=user, status=ExtractionStatus.ACCEPTED, publication_id__in=publications
    ).exists()


def may_resolve(user, comment, *, record_curator: bool) -> bool:
    """The comment's author, the record's curator or a reviewer; ``record_curator`` is
    is_record_curator(user, target), passed in so that a page asks it once."""
    if comment.parent_id is not None or not may_see_discussion(user):
        return False
    return comment.author_id == user.pk or record_curator or curation_rules.is_reviewer(user)
