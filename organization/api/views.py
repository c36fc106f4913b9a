from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view

from contacts_project.views import ServiceViewSet

from .. import selectors, services
from .serializers import CategorySerializer, ContactTypeSerializer, OrganizationSerializer

CASCADE_PARAM = OpenApiParameter("cascade", bool, description="Also delete the organization's contacts.")


@extend_schema_view(destroy=extend_schema(parameters=[CASCADE_PARAM], responses={204: None}))
class OrganizationViewSet(ServiceViewSet):
    """Organizations; deleting one that has contacts is 409 unless `?cascade=true`."""

    serializer_class = OrganizationSerializer
    queryset = selectors.organization_list()
    ordering_fields_map = {"created_at": "created_at", "name": "name"}
    default_ordering = "name"
    lookup_kwarg = "organization_id"
    create_service = services.organization_create
    update_service = services.organization_update
    delete_service = services.organization_delete
    filterset_fields = {"domain": ["exact"], "parent": ["exact", "isnull"], "category": ["exact"]}

    def delete_options(self) -> dict:
        return {"cascade": self.request.query_params.get("cascade", "").lower() in ("1", "true", "yes")}


class ContactTypeViewSet(ServiceViewSet):
    """The contact-type vocabulary; a type in use cannot be deleted (409 with the count)."""

    serializer_class = ContactTypeSerializer
    queryset = selectors.contact_type_list()
    ordering_fields_map = {"key": "key", "created_at": "created_at"}
    default_ordering = "key"
    lookup_kwarg = "key"
    lookup_value_regex = "[-a-zA-Z0-9_]+"
    create_service = services.contact_type_create
    update_service = services.contact_type_update
    delete_service = services.contact_type_delete


class CategoryViewSet(ServiceViewSet):
    serializer_class = CategorySerializer
    queryset = selectors.category_list()
    ordering_fields_map = {"created_at": "created_at", "name": "name"}
    default_ordering = "name"
    lookup_kwarg = "category_id"
    create_service = services.category_create
    update_service = services.category_update
    delete_service = services.category_delete
    filterset_fields = {"parent": ["exact", "isnull"]}

    @extend_schema(parameters=[OpenApiParameter("reassign_to", str, description=(
        "Move the category's contacts, subcategories and organizations to this category, then delete it. "
        "Without it, deleting a category in use is 409."))], responses={204: None})
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def delete_options(self) -> dict:
        return {"reassign_to": self.request.query_params.get("reassign_to") or None}
