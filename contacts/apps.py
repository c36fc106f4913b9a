from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contact management"

    def ready(self):
        from contacts_project.registry import register

        from . import bulk  # noqa: F401 - registers the `contacts.bulk.run_action` task in web and worker
        from .services import organization_contacts_delete

        register("organization_contact_deleters", "contacts", organization_contacts_delete)
