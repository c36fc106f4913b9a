import factory

from contacts.models import Contact, ContactGroup, ContactTemplate
from organization.models import Category, ContactType, Organization


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


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    phone = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactGroup

    name = factory.Sequence(lambda n: f"Group {n}")


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
