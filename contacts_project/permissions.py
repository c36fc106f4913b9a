"""Authenticated users, with Django model permissions for writes (staff roles come from groups). Deny by
default: a write the view does not name a permission for is refused."""
from rest_framework.permissions import SAFE_METHODS, BasePermission

# the permission a view names (`write_permission`, `action_permissions`) for a write any signed-in user may
# attempt: the service behind it checks the rest (their own rows, their role, the contact's editability)
SIGNED_IN = "signed_in"


class IsAuthenticatedWithModelPermissions(BasePermission):
    """Reads need a login; writes also need the model's add/change/delete permission when the view names a model.

    Superusers pass. Views without a queryset (reports, actions) only need a login for reads and the
    `write_permission` attribute they declare for writes (`SIGNED_IN` when any signed-in user may try);
    a write without either is refused (403), so forgetting to name a permission fails closed.
    """

    perms_map = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS or user.is_superuser:
            return True
        perm = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        perm = perm or getattr(view, "write_permission", None)
        if perm == SIGNED_IN:
            return True
        if perm is None:
            model = getattr(getattr(view, "queryset", None), "model", None)
            if model is None:
                return False
            action = self.perms_map.get(request.method, "change")
            perm = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
        return user.has_perm(perm)
