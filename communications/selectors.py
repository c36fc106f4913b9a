"""Communication reads."""
from django.db.models import QuerySet

from contacts.models import Contact
from contacts_project.errors import NotFound
from organization.selectors import parse_uuid

from .models import Communication


def communication_list() -> QuerySet[Communication]:
    return Communication.objects.all()


def get_contact_communications(*, contact_id) -> QuerySet[Communication]:
    """The RFC's get_contact_communications: a contact's history (ordered newest first by the paginator)."""
    key = parse_uuid(contact_id)
    if key is None or not Contact.objects.filter(pk=key).exists():
        raise NotFound("Contact not found.")
    return Communication.objects.filter(contact_id=key)
