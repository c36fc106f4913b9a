from functools import partial

from django.apps import AppConfig


class DataQualityConfig(AppConfig):
    name = "dataquality"
    verbose_name = "Data quality and privacy"

    def ready(self):
        from contacts_project.registry import register

        from .duplicates import contact_create_with_policy

        # POST /contacts/?on_duplicate=skip|update|reject (contacts' own create is the "create" policy)
        for policy in ("skip", "update", "reject"):
            register("contact_create_policies", policy, partial(contact_create_with_policy, policy=policy))
