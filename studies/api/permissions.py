"""Who may change data through the API.

One class decides it for every endpoint, so the curation workflow can widen write
access (curators editing drafts) by changing this file alone.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class CuratedDataPermission(BasePermission):
    """Anyone may read (views only ever show public rows); writing needs a staff
    account until the curation workflow says what curators may change."""

    message = "Changing data needs a staff account."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return may_write(request.user)

    def has_object_permission(self, request, view, obj) -> bool:
        return self.has_permission(request, view)


def may_write(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)
