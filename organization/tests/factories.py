"""Factories for organization models (organization tests may not import the contacts app: see .importlinter)."""
import factory

from organization.models import ContactType, Organization


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    domain = factory.Sequence(lambda n: f"org{n}.example.com")


class ContactTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactType
        django_get_or_create = ("key",)

    key = "customer"
    label = "Customer"
