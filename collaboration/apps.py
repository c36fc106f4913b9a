from django.apps import AppConfig
from django.db.models.signals import post_delete


class CollaborationConfig(AppConfig):
    name = "collaboration"
    verbose_name = "Collaboration"

    def ready(self):
        from contacts_project import events

        from . import services
        from .models import Attachment

        events.subscribe(services.on_event)
        # Files are not rows: when an attachment row goes (directly or by cascade from its contact,
        # organization or note), its stored file is deleted after the transaction commits.
        post_delete.connect(_delete_file, sender=Attachment, dispatch_uid="collaboration.attachment_file")


def _delete_file(sender, instance, **kwargs):
    from .services import delete_stored_file_on_commit

    delete_stored_file_on_commit(instance.file.storage, instance.file.name)

