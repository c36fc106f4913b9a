"""What every data-quality endpoint shares: the problem response, permission checks for reads."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.views import APIView

PROBLEM = OpenApiResponse(description="Problem details (RFC 9457) naming each bad field.")
ANY = OpenApiTypes.OBJECT


def require(request, perm: str) -> None:
    """Staff access to personal data is permission-checked for reads too (the default only guards writes)."""
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"This needs the permission {perm!r}.")


class DataView(APIView):
    pagination_class = None
