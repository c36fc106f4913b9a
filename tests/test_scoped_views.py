"""The scoped view base refuses, when the class is created, a view that could read unscoped rows; the default
permission refuses a write the view names no permission for."""
import pytest
from rest_framework import viewsets
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from communications.models import Communication
from contacts.models import Contact
from contacts_project.permissions import SIGNED_IN, IsAuthenticatedWithModelPermissions
from contacts_project.views import ScopedViewMixin, scoped
from organization.models import Category


def test_an_unscoped_queryset_is_refused_at_class_creation():
    with pytest.raises(TypeError, match="unscoped queryset"):
        type("Leaky", (ScopedViewMixin, viewsets.GenericViewSet), {"queryset": Category.objects.all()})


def test_overriding_the_lookup_without_scoping_is_refused():
    with pytest.raises(TypeError, match="overrides the scoped lookup"):
        type("Sneaky", (ScopedViewMixin, viewsets.GenericViewSet), {
            "queryset": Communication.objects.all(), "get_queryset": lambda self: Communication.objects.all()})
    with pytest.raises(TypeError, match="overrides the scoped lookup"):
        type("Sneaky", (ScopedViewMixin, viewsets.GenericViewSet), {
            "queryset": Contact.objects.all(), "get_object": lambda self: None})


def test_scoped_querysets_and_marked_overrides_are_accepted():
    type("Fine", (ScopedViewMixin, viewsets.GenericViewSet), {"queryset": Communication.objects.all()})
    type("Fine", (ScopedViewMixin, viewsets.GenericViewSet), {
        "queryset": Contact.objects.all(), "get_queryset": scoped(lambda self: self.scope(Contact.objects.all()))})


@pytest.mark.django_db
def test_a_write_without_a_named_permission_is_refused(django_user_model):
    user = django_user_model.objects.create_user("plain", "p@example.com", "pw-123456789")
    request = APIRequestFactory().post("/x/")
    force_authenticate(request, user=user)
    permission = IsAuthenticatedWithModelPermissions()

    class Unnamed(APIView):
        pass

    class Named(APIView):
        write_permission = SIGNED_IN

    request.user = user
    assert permission.has_permission(request, Unnamed()) is False
    assert permission.has_permission(request, Named()) is True
