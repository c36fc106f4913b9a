"""Organizations and contact types as contacts and templates use them (protected deletes, cascade)."""
import pytest

from contacts.models import Contact
from contacts.tests.factories import ContactFactory, ContactTypeFactory, OrganizationFactory, TemplateFactory
from contacts_project.errors import Conflict, InvalidInput, NotFound
from organization import services
from organization.models import ContactType, Organization
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db
ORGS = "/api/v1/organizations/"
TYPES = "/api/v1/contact-types/"



def test_deleting_an_organization_with_contacts_needs_cascade(api):
    org = OrganizationFactory()
    contact = ContactFactory(organization=org)
    body = assert_problem(api.delete(f"{ORGS}{org.pk}/"), 409)
    assert body["contacts"] == 1 and "cascade" in body["detail"]
    assert Organization.objects.filter(pk=org.pk).exists()
    assert api.delete(f"{ORGS}{org.pk}/?cascade=true").status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_contact_type_in_use_cannot_be_deleted(api):
    ContactTypeFactory(key="customer")
    ContactFactory(type_id="customer")
    body = assert_problem(api.delete(f"{TYPES}customer/"), 409)
    assert body["contacts"] == 1
    ContactTypeFactory(key="partner")
    TemplateFactory(contact_type_id="partner")
    assert assert_problem(api.delete(f"{TYPES}partner/"), 409)["templates"] == 1
    assert ContactType.objects.count() == 2


def test_organization_services_directly(admin_user):
    with pytest.raises(NotFound):
        services.organization_update(organization_id="nope", data={})
    with pytest.raises(InvalidInput):
        services.organization_create(data={"name": "  "})
    org = services.organization_create(data={"name": "Org", "domain": None}, actor=admin_user)
    assert org.domain == ""
    assert services.organization_update(organization_id=org.pk, data={}).name == "Org"
    ContactFactory(organization=org)
    with pytest.raises(Conflict):
        services.organization_delete(organization_id=org.pk)
    with pytest.raises(NotFound):
        services.contact_type_update(key="missing", data={"label": "x"})
    ctype = services.contact_type_create(data={"key": "k"})
    assert ctype.label == "k"
