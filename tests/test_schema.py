"""The OpenAPI schema generates without warnings, documents every contact field, and is served with Swagger UI."""
import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from contacts.api.serializers import ContactSerializer


@pytest.fixture(scope="module")
def schema_and_warnings():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    warnings = dict(GENERATOR_STATS._warn_cache)
    errors = dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    return schema, warnings, errors


def test_schema_generates_without_warnings_or_errors(schema_and_warnings):
    _, warnings, errors = schema_and_warnings
    assert not errors, "\n".join(errors)
    assert not warnings, "\n".join(warnings)


def test_every_contact_field_is_described(schema_and_warnings):
    schema, _, _ = schema_and_warnings
    components = schema["components"]["schemas"]
    for name in ("Contact", "ContactRequest", "PatchedContactUpdateRequest"):
        properties = components[name]["properties"]
        undocumented = [field for field, spec in properties.items()
                        if not (spec.get("description") or "$ref" in spec or spec.get("allOf"))]
        assert not undocumented, f"{name}: {undocumented}"
    assert set(components["Contact"]["properties"]) == set(ContactSerializer().fields)


def test_foundation_paths_are_in_the_schema(schema_and_warnings):
    paths = schema_and_warnings[0]["paths"]
    for path in ("/api/v1/contacts/", "/api/v1/contacts/{id}/", "/api/v1/contacts/{id}/status/",
                 "/api/v1/contacts/{id}/history/", "/api/v1/contacts/bulk/", "/api/v1/groups/",
                 "/api/v1/groups/{id}/contacts/", "/api/v1/organizations/",
                 "/api/v1/organizations/{organization_id}/groups/", "/api/v1/contact-types/", "/api/v1/templates/",
                 "/api/v1/reports/contacts/", "/api/v1/auth/token/"):
        assert path in paths, path
    list_params = {p["name"] for p in paths["/api/v1/contacts/"]["get"]["parameters"]}
    assert {"status", "type", "organization", "group", "category", "owner", "created_after", "created_before",
            "updated_after", "updated_before", "search", "ordering", "cursor", "page_size"} <= list_params


@pytest.mark.django_db
def test_schema_and_swagger_ui_are_served_offline(anon):
    assert anon.get("/api/v1/schema/").status_code == 200
    page = anon.get("/api/v1/docs/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger" in html.lower() and "cdn.jsdelivr" not in html and "unpkg.com" not in html
