import factory
from django.utils import timezone

from communications.models import Communication, MessageTemplate
from contacts.tests.factories import ContactFactory


class CommunicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Communication

    contact = factory.SubFactory(ContactFactory)
    type = "email"
    subject = factory.Sequence(lambda n: f"Hello {n}")
    content = "Hi there"
    status = "scheduled"
    scheduled_at = factory.LazyFunction(timezone.now)


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    channel = "email"
    subject = "Hello {{ contact.first_name }}"
    text_body = "Dear {{ contact.full_name }}"
