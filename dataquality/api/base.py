"""What every data-quality endpoint shares: the problem response, permission checks for reads."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.types import OpenApiTypes
from rest_framework.views import APIView

from contacts_project.schema import PROBLEM  # noqa: F401 - what every data-quality view answers on errors

ANY = OpenApiTypes.OBJECT


def require(request, perm: str) -> None:
    """Staff access to personal data is permission-checked for reads too (the default only guards writes)."""
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"This needs the permission {perm!r}.")


class DataView(APIView):
    pagination_class = None
