"""A thin CRUD viewset: parse with the serializer, write through a service, render."""
from __future__ import annotations

from rest_framework import status, viewsets
from rest_framework.response import Response

from contacts_project.serializers import service_data


class ServiceViewSet(viewsets.GenericViewSet):
    """Subclasses set `create_service`, `update_service` and `delete_service` (callables taking keywords)
    and `lookup_kwarg`, the keyword under which the services take the object's id."""

    lookup_kwarg = "pk"
    create_service = update_service = delete_service = None

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = type(self).create_service(data=service_data(serializer), actor=request.user)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def check_write(self, instance) -> None:
        """Before a body is read: raise 403 when the caller sees `instance` but may not change it."""

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        self.check_write(instance)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        obj = type(self).update_service(**{self.lookup_kwarg: instance.pk}, data=service_data(serializer),
                                        actor=request.user)
        return Response(self.get_serializer(obj).data)

    def partial_update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        type(self).delete_service(**{self.lookup_kwarg: instance.pk}, actor=request.user, **self.delete_options())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def delete_options(self) -> dict:
        return {}


# --------------------------------------------------------------------------- scoped views
CONTACT = "contact"  # rows that are contacts or hang on one: read through the user's contact scope
VISIBILITIES = (CONTACT,)


def scoped(method):
    """Mark a `get_queryset`/`get_object` override of a scoped view as scoping itself (it must start from
    `self.scope(...)`), so the class is accepted; reviewers see the choice."""
    method.scopes_itself = True
    return method


def scope_for(queryset, user, *, field: str = "contact", editable: bool = False):
    """The one scoping step for any queryset: contacts through `visible_to`/`editable_by`, rows hanging on a
    contact through `scoped_by_contact` (contacts.models). Anything else cannot be scoped: an error."""
    if hasattr(queryset, "visible_to"):
        return queryset.editable_by(user) if editable else queryset.visible_to(user)
    if hasattr(queryset, "scoped_by_contact"):
        return queryset.scoped_by_contact(user, field=field, editable=editable)
    raise TypeError(f"{queryset.model.__name__} rows cannot be scoped by contact: give the model the "
                    "ContactScopedQuerySet manager (contacts.models).")


class ScopedViewMixin:
    """The base of API views over contacts or rows hanging on a contact (as PostHog's TeamAndOrgViewSetMixin).

    - `get_queryset()` is always `queryset` passed through the user's contact scope (`scope_for`), so a list,
      a detail and a lookup never see an unseen contact's row: 404.
    - `contact_field` names the foreign key to the contact (`contact` by default).
    - `self.scoped_contact()` resolves a `{contact_id}` URL argument against `contact_queryset` (the view sets it
      to `Contact.objects.all()`): 404 when unseen, 403 with `write=True` when seen but not editable.
    - At class creation, a subclass that sets a `queryset` whose model cannot be scoped, or overrides
      `get_queryset`/`get_object` without `@scoped`, is refused (TypeError): an unscoped view cannot exist.
    """

    visibility = CONTACT
    contact_field = "contact"
    contact_queryset = None  # Contact.objects.all() in views that resolve a {contact_id} (this app is below contacts)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.visibility not in VISIBILITIES:
            raise TypeError(f"{cls.__name__}: visibility must be one of {VISIBILITIES}.")
        queryset = cls.__dict__.get("queryset")
        if queryset is not None and not (hasattr(queryset, "visible_to") or hasattr(queryset, "scoped_by_contact")):
            raise TypeError(f"{cls.__name__} sets an unscoped queryset ({queryset.model.__name__}): its model needs "
                            "a contact-scoped manager.")
        for name in ("get_queryset", "get_object"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "scopes_itself", False):
                raise TypeError(f"{cls.__name__}.{name} overrides the scoped lookup: start from self.scope(...) "
                                "and mark it @scoped.")

    def scope(self, queryset, *, editable: bool = False):
        return scope_for(queryset, self.request.user, field=self.contact_field, editable=editable)

    def get_queryset(self):
        return self.scope(super().get_queryset())

    def scoped_contact(self, *, write: bool = False, kwarg: str = "contact_id"):
        """The `{contact_id}` of the URL as a contact the user may see (404), and may change with `write` (403)."""
        from django.core.exceptions import PermissionDenied

        from contacts_project.errors import NotFound
        from contacts_project.ids import parse_uuid

        if self.contact_queryset is None:
            raise TypeError(f"{type(self).__name__} resolves a contact: set contact_queryset = Contact.objects.all().")
        contacts = self.contact_queryset.all()
        key = parse_uuid(self.kwargs.get(kwarg))
        found = contacts.visible_to(self.request.user).filter(pk=key).first() if key else None
        if found is None:
            raise NotFound("Contact not found.")
        if write and not contacts.editable_by(self.request.user).filter(pk=key).exists():
            raise PermissionDenied("You may read this contact but not change it.")
        return found
