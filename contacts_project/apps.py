from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProjectConfig(AppConfig):
    name = "contacts_project"
    verbose_name = "Platform"

    def ready(self) -> None:
        from .audit import install_fast_trigger_ignore

        post_migrate.connect(install_fast_trigger_ignore, sender=self, dispatch_uid="project.fast_trigger_ignore")
