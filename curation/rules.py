"""Who may do what with an extraction. Services enforce these; views and the API
use the same functions to decide what to show and to answer 403/404."""

from .models import EDITABLE_STATUSES, Extraction, ExtractionStatus


def _active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def is_curator(user) -> bool:
    return _active(user) and user.has_perm("curation.add_extraction")


def is_reviewer(user) -> bool:
    return _active(user) and user.has_perm("curation.review_extraction")


def is_manager(user) -> bool:
    """The admin role: may edit any open extraction (e.g. to finish a colleague's)."""
    return _active(user) and user.has_perm("curation.manage_extractions")


def may_use_curation(user) -> bool:
    return is_curator(user) or is_reviewer(user) or is_manager(user)


def may_revert(user) -> bool:
    return _active(user) and user.has_perm("curation.revert_record")


def may_view(user, extraction: Extraction) -> bool:
    """Curators see their own work only (so two curators extracting one paper stay
    independent); reviewers and admins see every extraction."""
    if not _active(user):
        return False
    if extraction.curator_id == user.pk:
        return may_use_curation(user)
    return is_reviewer(user) or is_manager(user)


def may_edit(user, extraction: Extraction) -> bool:
    if extraction.status not in EDITABLE_STATUSES:
        return False
    if extraction.curator_id == user.pk and is_curator(user):
        return True
    return is_manager(user)


def may_review(user, extraction: Extraction) -> bool:
    """Accept or reject: a reviewer, never of their own extraction."""
    return (
        extraction.status == ExtractionStatus.SUBMITTED
        and is_reviewer(user)
        and extraction.curator_id != user.pk
    )
