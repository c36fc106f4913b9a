"""Category tree, contact types, organization and people hierarchies, tags, organization merge."""
import pytest
from django.apps import apps

from contacts.models import Contact, ContactCategory, ContactGroup, OrganizationContactCount
from contacts.tests.factories import (
    CategoryFactory,
    ContactFactory,
    ContactTypeFactory,
    GroupFactory,
    OrganizationFactory,
)
from organization.models import Category, Organization
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def file_under(contact, *categories):
    ContactCategory.objects.bulk_create([ContactCategory(contact=contact, category=c) for c in categories])


@pytest.fixture
def tree():
    """partners > resellers > gold; industry (a second root)."""
    partners = CategoryFactory(name="Partners")
    resellers = CategoryFactory(name="Resellers", parent=partners)
    gold = CategoryFactory(name="Gold", parent=resellers)
    industry = CategoryFactory(name="Industry")
    return partners, resellers, gold, industry


# --------------------------------------------------------------------------- categories
def test_category_filter_includes_descendants_and_category_exact_does_not(api, tree, django_assert_max_num_queries):
    partners, resellers, gold, industry = tree
    in_gold, in_partners, in_industry, nowhere = ContactFactory(), ContactFactory(), ContactFactory(), ContactFactory()
    file_under(in_gold, gold)
    file_under(in_partners, partners)
    file_under(in_industry, industry)
    with django_assert_max_num_queries(4):  # auth, the subtree walk, the page
        response = api.get(f"/api/v1/contacts/?category={partners.pk}")
    assert ids(response) == {str(in_gold.pk), str(in_partners.pk)}
    assert ids(api.get(f"/api/v1/contacts/?category={resellers.pk}")) == {str(in_gold.pk)}
    assert ids(api.get(f"/api/v1/contacts/?category_exact={partners.pk}")) == {str(in_partners.pk)}
    assert ids(api.get(f"/api/v1/contacts/?category_exact={resellers.pk}")) == set()
    assert str(nowhere.pk) not in ids(api.get("/api/v1/contacts/?category=" + str(industry.pk)))


def test_moving_a_subtree_moves_its_contacts_in_the_filter(api, tree):
    partners, resellers, gold, industry = tree
    contact = ContactFactory()
    file_under(contact, gold)
    r = api.patch(f"/api/v1/categories/{resellers.pk}/", {"parent": str(industry.pk)})
    assert r.status_code == 200, r.content
    assert ids(api.get(f"/api/v1/contacts/?category={industry.pk}")) == {str(contact.pk)}
    assert ids(api.get(f"/api/v1/contacts/?category={partners.pk}")) == set()


def test_moving_a_category_under_its_own_descendant_is_a_400_naming_parent(api, tree):
    partners, resellers, gold, _ = tree
    assert_problem(api.patch(f"/api/v1/categories/{partners.pk}/", {"parent": str(gold.pk)}), 400, "parent", "cycle")
    assert_problem(api.patch(f"/api/v1/categories/{gold.pk}/", {"parent": str(gold.pk)}), 400, "parent", "cycle")
    partners.refresh_from_db()
    assert partners.parent_id is None


def test_rename_and_delete_an_unused_category(api, tree):
    partners, resellers, gold, industry = tree
    r = api.patch(f"/api/v1/categories/{industry.pk}/", {"name": "Industries"})
    assert r.status_code == 200 and r.json()["name"] == "Industries"
    assert api.delete(f"/api/v1/categories/{industry.pk}/").status_code == 204
    assert not Category.objects.filter(pk=industry.pk).exists()


def test_deleting_a_used_category_is_409_with_the_counts(api, tree):
    partners, resellers, gold, industry = tree
    file_under(ContactFactory(), industry)
    body = assert_problem(api.delete(f"/api/v1/categories/{industry.pk}/"), 409)
    assert body["contacts"] == 1
    body = assert_problem(api.delete(f"/api/v1/categories/{resellers.pk}/"), 409)
    assert body["children"] == 1
    assert Category.objects.filter(pk__in=[industry.pk, resellers.pk]).count() == 2


def test_delete_with_reassign_to_moves_contacts_and_children_and_is_audited(api, tree,
                                                                           django_capture_on_commit_callbacks):
    partners, resellers, gold, industry = tree
    moved, both = ContactFactory(), ContactFactory()
    file_under(moved, resellers)
    file_under(both, resellers, industry)
    api.get(f"/api/v1/contacts/{moved.pk}/")  # warm the cache
    with django_capture_on_commit_callbacks(execute=True):
        r = api.delete(f"/api/v1/categories/{resellers.pk}/?reassign_to={industry.pk}")
    assert r.status_code == 204, r.content
    assert set(ContactCategory.objects.filter(contact=moved).values_list("category_id", flat=True)) == {industry.pk}
    assert ContactCategory.objects.filter(contact=both).count() == 1
    gold.refresh_from_db()
    assert gold.parent_id == industry.pk
    assert api.get(f"/api/v1/contacts/{moved.pk}/").json()["categories"] == [str(industry.pk)]  # cache invalidated
    history = api.get(f"/api/v1/contacts/{moved.pk}/history/").json()["results"]
    assert history[0]["action"] == "category.delete"


def test_reassign_to_an_unknown_or_inner_category_is_a_400(api, tree):
    partners, resellers, gold, industry = tree
    assert_problem(api.delete(f"/api/v1/categories/{resellers.pk}/?reassign_to=nope"), 400, "reassign_to")
    assert_problem(api.delete(f"/api/v1/categories/{resellers.pk}/?reassign_to={gold.pk}"), 400, "reassign_to",
                   "cycle")
    assert Category.objects.filter(pk=resellers.pk).exists()


# --------------------------------------------------------------------------- types
def test_a_type_in_use_cannot_be_deleted_and_relabelling_rewrites_no_contact(api):
    vendor = ContactTypeFactory(key="vendor", label="Vendor")
    contact = ContactFactory(type=vendor)
    body = assert_problem(api.delete("/api/v1/contact-types/vendor/"), 409)
    assert body["contacts"] == 1 and "1 contacts" in body["detail"]
    before = Contact.objects.get(pk=contact.pk).updated_at
    events = apps.get_model("contacts", "ContactEvent").objects.filter(pgh_obj_id=contact.pk).count()
    r = api.patch("/api/v1/contact-types/vendor/", {"label": "Supplier"})
    assert r.status_code == 200 and r.json()["label"] == "Supplier"
    assert Contact.objects.get(pk=contact.pk).updated_at == before
    assert apps.get_model("contacts", "ContactEvent").objects.filter(pgh_obj_id=contact.pk).count() == events
    assert api.get(f"/api/v1/contacts/{contact.pk}/").json()["type"] == "vendor"
    ContactTypeFactory(key="unused", label="Unused")
    assert api.delete("/api/v1/contact-types/unused/").status_code == 204


# --------------------------------------------------------------------------- organization hierarchy
@pytest.fixture
def corporate_group():
    """holding > (europe > france), (us); a sibling root `other`."""
    holding = OrganizationFactory(name="Holding")
    europe = OrganizationFactory(name="Europe", parent=holding)
    france = OrganizationFactory(name="France", parent=europe)
    us = OrganizationFactory(name="US", parent=holding)
    other = OrganizationFactory(name="Other")
    return holding, europe, france, us, other


def test_tree_returns_ancestors_and_subtree_with_contact_counts(api, corporate_group, django_assert_max_num_queries):
    holding, europe, france, us, other = corporate_group
    ContactFactory.create_batch(2, organization=france)
    ContactFactory(organization=europe)
    ContactFactory(organization=us)
    ContactFactory(organization=holding)
    with django_assert_max_num_queries(2):  # auth + one recursive query
        r = api.get(f"/api/v1/organizations/{europe.pk}/tree/")
    assert r.status_code == 200, r.content
    data = r.json()
    assert [a["id"] for a in data["ancestors"]] == [str(holding.pk)]
    assert data["ancestors"][0]["contacts"] == 1
    node = data["tree"]
    assert (node["id"], node["contacts"], node["subtree_contacts"], node["subtree_size"]) == (str(europe.pk), 1, 3, 2)
    assert [(c["name"], c["contacts"]) for c in node["children"]] == [("France", 2)]
    whole = api.get(f"/api/v1/organizations/{holding.pk}/tree/").json()["tree"]
    assert whole["subtree_contacts"] == 5 and [c["name"] for c in whole["children"]] == ["Europe", "US"]
    shallow = api.get(f"/api/v1/organizations/{holding.pk}/tree/?depth=1").json()["tree"]
    assert shallow["children"][0]["children"] == []
    assert_problem(api.get(f"/api/v1/organizations/{europe.pk}/tree/?depth=x"), 400, "depth")
    assert api.get("/api/v1/organizations/00000000-0000-0000-0000-000000000000/tree/").status_code == 404


def test_contact_counts_follow_inserts_moves_and_deletes(corporate_group):
    holding, europe, france, us, other = corporate_group

    def count(org):
        row = OrganizationContactCount.objects.filter(organization=org).first()
        return row.contacts if row else 0

    contacts = ContactFactory.create_batch(3, organization=france)
    assert count(france) == 3
    Contact.objects.filter(pk__in=[c.pk for c in contacts[:2]]).update(organization=us)
    assert (count(france), count(us)) == (1, 2)
    Contact.objects.filter(pk=contacts[2].pk).update(organization=None)
    Contact.objects.filter(pk=contacts[0].pk).delete()
    assert (count(france), count(us)) == (0, 1)


def test_organization_cycles_are_a_400_naming_parent(api, corporate_group):
    holding, europe, france, us, other = corporate_group
    assert_problem(api.patch(f"/api/v1/organizations/{holding.pk}/", {"parent": str(france.pk)}), 400, "parent",
                   "cycle")


def test_include_descendants_lists_the_whole_corporate_group(api, corporate_group, django_assert_max_num_queries):
    holding, europe, france, us, other = corporate_group
    members = {str(ContactFactory(organization=o).pk) for o in (holding, europe, france, us)}
    ContactFactory(organization=other)
    with django_assert_max_num_queries(3):
        r = api.get(f"/api/v1/contacts/?organization={europe.pk}&include_descendants=true")
    assert len(ids(r)) == 2
    assert ids(api.get(f"/api/v1/contacts/?organization={holding.pk}&include_descendants=true")) == members
    assert len(ids(api.get(f"/api/v1/contacts/?organization={holding.pk}"))) == 1
    assert_problem(api.get("/api/v1/contacts/?include_descendants=true"), 400, "include_descendants")


def test_reports_lists_direct_and_indirect_reports(api, django_assert_max_num_queries):
    boss = ContactFactory(last_name="Boss")
    manager = ContactFactory(last_name="Manager", reports_to=boss)
    engineer = ContactFactory(last_name="Engineer", reports_to=manager)
    ContactFactory(last_name="Elsewhere")
    with django_assert_max_num_queries(4):
        r = api.get(f"/api/v1/contacts/{boss.pk}/reports/")
    assert r.status_code == 200, r.content
    data = r.json()
    assert [(row["id"], row["depth"]) for row in data["results"]] == [(str(manager.pk), 1), (str(engineer.pk), 2)]
    assert (data["direct"], data["indirect"]) == (1, 1)
    direct = api.get(f"/api/v1/contacts/{boss.pk}/reports/?max_depth=1").json()
    assert [row["id"] for row in direct["results"]] == [str(manager.pk)]
    assert api.get("/api/v1/contacts/00000000-0000-0000-0000-000000000000/reports/").status_code == 404
    # a cycle through reports_to is refused
    assert_problem(api.patch(f"/api/v1/contacts/{boss.pk}/", {"reports_to": str(engineer.pk)}), 400, "reports_to",
                   "cycle")


# --------------------------------------------------------------------------- tags
def test_tag_counts_and_merge(api, django_assert_max_num_queries, django_capture_on_commit_callbacks):
    a = ContactFactory(tags=["vip", "newsletter"])
    b = ContactFactory(tags=["VIP-old", "trial"])
    ContactFactory(tags=["newsletter"])
    Contact.objects.filter(pk=b.pk).update(tags=["vip-old", "trial", "vip"])
    with django_assert_max_num_queries(2):
        r = api.get("/api/v1/tags/")
    assert r.json()["results"][:2] == [{"tag": "newsletter", "count": 2}, {"tag": "vip", "count": 2}]
    assert api.get("/api/v1/tags/?prefix=vi").json()["results"] == [{"tag": "vip", "count": 2},
                                                                    {"tag": "vip-old", "count": 1}]
    api.get(f"/api/v1/contacts/{b.pk}/")  # warm the cache
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/v1/tags/merge/", {"sources": ["vip-old", "trial"], "target": "vip"})
    assert r.status_code == 200 and r.json()["contacts"] == 1
    assert api.get(f"/api/v1/contacts/{b.pk}/").json()["tags"] == ["vip"]
    assert Contact.objects.get(pk=a.pk).tags == ["vip", "newsletter"]
    assert {row["tag"] for row in api.get("/api/v1/tags/").json()["results"]} == {"vip", "newsletter"}
    assert_problem(api.post("/api/v1/tags/merge/", {"sources": [], "target": "x"}), 400, "sources")
    assert_problem(api.get("/api/v1/tags/?nope=1"), 400, "nope")
    assert ids(api.get("/api/v1/contacts/?tag=vip")) == {str(a.pk), str(b.pk)}


# --------------------------------------------------------------------------- organization merge
def test_merge_moves_contacts_groups_and_children_then_deletes_the_other(api, corporate_group,
                                                                         django_capture_on_commit_callbacks):
    holding, europe, france, us, other = corporate_group
    moved = ContactFactory(organization=europe)
    group = GroupFactory(organization=europe)
    api.get(f"/api/v1/contacts/{moved.pk}/")
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(f"/api/v1/organizations/{us.pk}/merge/", {"other": str(europe.pk)})
    assert r.status_code == 200, r.content
    assert r.json() == {"organization": str(us.pk), "merged": str(europe.pk), "contacts": 1, "groups": 1,
                        "children": 1}
    assert not Organization.objects.filter(pk=europe.pk).exists()
    assert Organization.objects.get(pk=france.pk).parent_id == us.pk
    assert ContactGroup.objects.get(pk=group.pk).organization_id == us.pk
    assert api.get(f"/api/v1/contacts/{moved.pk}/").json()["organization"] == str(us.pk)
    history = api.get(f"/api/v1/contacts/{moved.pk}/history/").json()["results"]
    assert history[0]["action"] == "organization.merge"
    assert OrganizationContactCount.objects.get(organization=us).contacts == 1


def test_merging_a_parent_into_its_descendant_keeps_the_tree_acyclic(api, corporate_group):
    holding, europe, france, us, other = corporate_group
    r = api.post(f"/api/v1/organizations/{france.pk}/merge/", {"other": str(holding.pk)})
    assert r.status_code == 200, r.content
    france.refresh_from_db()
    assert france.parent_id is None
    assert set(Organization.objects.filter(parent=france).values_list("name", flat=True)) == {"Europe", "US"}
    tree = api.get(f"/api/v1/organizations/{france.pk}/tree/").json()["tree"]
    assert tree["subtree_size"] == 3


def test_merge_bad_input(api, corporate_group):
    holding, *_ = corporate_group
    assert_problem(api.post(f"/api/v1/organizations/{holding.pk}/merge/", {"other": str(holding.pk)}), 400, "other")
    assert_problem(api.post(f"/api/v1/organizations/{holding.pk}/merge/",
                            {"other": "00000000-0000-0000-0000-000000000000"}), 400, "other")
    assert_problem(api.post(f"/api/v1/organizations/{holding.pk}/merge/", {"other": "x", "extra": 1}), 400, "extra")
    assert api.post("/api/v1/organizations/00000000-0000-0000-0000-000000000000/merge/",
                    {"other": str(holding.pk)}).status_code == 404
