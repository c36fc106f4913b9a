from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contact management"

    def ready(self):
        from . import bulk  # noqa: F401 - registers the `contacts.bulk.run_action` task in web and worker
