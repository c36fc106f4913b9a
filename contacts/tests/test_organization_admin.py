"""The admin shows category and organization trees indented, with tree-aware filters."""
import pytest

from contacts.models import ContactCategory
from contacts.tests.factories import CategoryFactory, ContactFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def test_category_and_organization_changelists_are_indented_trees(staff):
    root = CategoryFactory(name="Alpha")
    CategoryFactory(name="Beta child", parent=root)
    CategoryFactory(name="Aardvark")
    r = staff.get("/admin/organization/category/")
    assert r.status_code == 200
    html = r.content.decode()
    # tree order: Aardvark, Alpha, then Alpha's child (indented) — not alphabetical over all rows
    assert html.index("Aardvark") < html.index("Alpha") < html.index("└ Beta child")
    holding = OrganizationFactory(name="Holding")
    OrganizationFactory(name="Subsidiary", parent=holding)
    r = staff.get("/admin/organization/organization/")
    assert r.status_code == 200 and "└ Subsidiary" in r.content.decode()


def test_contact_admin_filters_by_category_subtree_tag_and_corporate_group(staff):
    root = CategoryFactory(name="Partners")
    leaf = CategoryFactory(name="Resellers", parent=root)
    filed = ContactFactory(last_name="Filed", tags=["vip"])
    ContactCategory.objects.create(contact=filed, category=leaf)
    other = ContactFactory(last_name="Other")
    r = staff.get(f"/admin/contacts/contact/?category_tree={root.pk}")
    assert r.status_code == 200
    assert "Filed" in r.content.decode() and "Other" not in r.content.decode()
    r = staff.get("/admin/contacts/contact/?tag=vip")
    assert "Filed" in r.content.decode() and "Other" not in r.content.decode()
    holding = OrganizationFactory(name="Holding")
    sub = OrganizationFactory(name="Sub", parent=holding)
    other.organization = sub
    other.save()
    r = staff.get(f"/admin/contacts/contact/?corporate_group={holding.pk}")
    assert "Other" in r.content.decode() and "Filed" not in r.content.decode()
    r = staff.get(f"/admin/organization/organization/?category_tree={root.pk}")
    assert r.status_code == 200
