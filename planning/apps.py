from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "planning"
    verbose_name = "Contact planning"

    def ready(self):
        from contacts.selectors import register_detail_extension

        from .selectors import contact_list_ids

        register_detail_extension(lambda contact_id: {"lists": contact_list_ids(contact_id=contact_id)})
