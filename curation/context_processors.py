"""Queue counts for the navigation bar (templates/curation/nav.html): extractions and
link requests."""

from . import rules, selectors


def queues(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not rules.may_use_curation(user):
        return {"curation_nav": None}
    from links.selectors import queue_counts as link_counts  # links builds on curation

    counts = selectors.queue_counts(user)
    return {
        "curation_nav": {
            **counts,
            "links": link_counts(user),
            "mine": counts["drafts"] + counts["returned"],
            "is_curator": rules.is_curator(user),
            "is_reviewer": rules.is_reviewer(user),
        }
    }
