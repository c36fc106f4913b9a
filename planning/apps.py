from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "planning"
    verbose_name = "Contact planning"

    def ready(self):
        from django.contrib.postgres.expressions import ArraySubquery
        from django.db.models import OuterRef

        from contacts_project.registry import register

        from .models import ListMembership

        register("contact_detail_arrays", "lists", lambda: ArraySubquery(
            ListMembership.objects.filter(contact_id=OuterRef("pk")).values("contact_list_id")))
