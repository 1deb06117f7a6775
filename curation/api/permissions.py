from rest_framework.permissions import BasePermission

from .. import rules


class CurationRole(BasePermission):
    """Signed in with the curator, reviewer or admin role; what each may do with a
    given extraction is decided by curation.rules inside the services."""

    message = "The extractions API is for curators and reviewers."

    def has_permission(self, request, view) -> bool:
        return rules.may_use_curation(request.user)
