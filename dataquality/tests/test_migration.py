"""An installation from before this app upgrades in place: the tables were contacts', only the state moves;
content types follow the models and every grant of the `contacts.*` data-quality permissions is kept."""
import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("contacts", "0010_drop_name_and_domain_indexes"), ("dataquality", None)]


def migrate(targets=None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


@pytest.mark.django_db(transaction=True)
def test_upgrade_moves_content_types_and_keeps_permission_grants(django_user_model):
    migrate(BEFORE)
    assert ContentType.objects.filter(app_label="contacts", model="importjob").exists()
    log = ContentType.objects.get(app_label="contacts", model="dataaccesslog")
    user = django_user_model.objects.create_user("importer")
    user.user_permissions.add(Permission.objects.get(content_type=log, codename="import_contacts"))
    assert user.has_perm("contacts.import_contacts")

    migrate()

    user = django_user_model.objects.get(pk=user.pk)  # a fresh permission cache
    assert user.has_perm("contacts.import_contacts")
    granted = user.user_permissions.get()
    assert (granted.content_type.app_label, granted.content_type.model) == ("contacts", "contact")
    assert Permission.objects.filter(codename="import_contacts").count() == 1
    assert not ContentType.objects.filter(app_label="contacts", model__in=["importjob", "dataaccesslog"]).exists()
    assert ContentType.objects.filter(app_label="dataquality", model="importjob").exists()
