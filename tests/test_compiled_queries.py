"""Querysets on one primary key compiled once: each call binds its own key, converters still apply."""
import uuid

import pytest

from contacts.models import Contact
from contacts.selectors import contact_base, contact_get_details
from contacts_project import compiled


@pytest.mark.django_db
def test_each_call_binds_its_own_key_and_the_sql_is_compiled_once(monkeypatch):
    first = Contact.objects.create(first_name="Ada", custom_fields={"tier": "gold"}, tags=["vip"])
    second = Contact.objects.create(first_name="Grace")
    builds = []

    def build(pk):
        builds.append(pk)
        return contact_base().filter(pk=pk)

    got = [compiled.one_by_pk("test-contact", build, key) for key in (first.pk, second.pk, uuid.uuid4())]
    assert [c.first_name if c else None for c in got] == ["Ada", "Grace", None]
    assert got[0].custom_fields == {"tier": "gold"} and got[0].tags == ["vip"]  # JSON decoded, array kept
    assert got[0].category_ids == [] and got[0].group_ids == []  # the annotations come through
    assert len(builds) == 1


@pytest.mark.django_db
def test_the_detail_reads_the_right_contact_after_another():
    a = Contact.objects.create(first_name="One", last_name="A")
    b = Contact.objects.create(first_name="Two", last_name="B")
    assert contact_get_details(contact_id=a.pk)["first_name"] == "One"
    assert contact_get_details(contact_id=b.pk)["first_name"] == "Two"
    assert "lists" in contact_get_details(contact_id=b.pk)  # a registered id array (planning) is read too
