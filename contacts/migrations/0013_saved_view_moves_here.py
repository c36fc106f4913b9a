"""SavedView (and its pghistory event model) moved here from organization: state only, the tables keep their
names and rows. Its history triggers are recreated under this app's name (organization 0005 dropped the old
ones), still writing to the same event table."""

import contacts_project.ids
import django.db.models.deletion
import django.db.models.functions.text
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models

MOVED = ("savedview", "savedviewevent")


def move_content_types(apps, schema_editor, *, backwards=False):
    """Permissions granted on the saved views and their admin history stay attached."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    source, target = ("contacts", "organization") if backwards else ("organization", "contacts")
    for model in MOVED:
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0012_team_moves_to_accounts'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('organization', '0005_saved_view_moves_to_contacts'),
        ('pghistory', '0007_auto_20250421_0444'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='SavedView',
                fields=[
                    ('id', models.UUIDField(default=contacts_project.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                    ('name', models.CharField(max_length=100)),
                    ('shared', models.BooleanField(default=False, help_text='Visible to every user, not only the owner.')),
                    ('params', models.JSONField(blank=True, default=dict, help_text='Contact list filters as query parameters, e.g. {"status": "active"}.')),
                    ('q', models.TextField(blank=True, default='', help_text='A `q` expression (see docs/organization.md).')),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                    ('owner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='saved_views', to=settings.AUTH_USER_MODEL)),
                ],
                options={'db_table': 'organization_savedview'},
            ),
            migrations.CreateModel(
                name='SavedViewEvent',
                fields=[
                    ('pgh_id', models.AutoField(primary_key=True, serialize=False)),
                    ('pgh_created_at', models.DateTimeField(auto_now_add=True)),
                    ('pgh_label', models.TextField(help_text='The event label.')),
                    ('id', models.UUIDField(default=contacts_project.ids.uuid7, editable=False, serialize=False)),
                    ('name', models.CharField(max_length=100)),
                    ('shared', models.BooleanField(default=False, help_text='Visible to every user, not only the owner.')),
                    ('params', models.JSONField(blank=True, default=dict, help_text='Contact list filters as query parameters, e.g. {"status": "active"}.')),
                    ('q', models.TextField(blank=True, default='', help_text='A `q` expression (see docs/organization.md).')),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                    ('owner', models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to=settings.AUTH_USER_MODEL)),
                    ('pgh_context', models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='pghistory.context')),
                    ('pgh_obj', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='events', to='contacts.savedview')),
                ],
                options={
                    'abstract': False,
                    'db_table': 'organization_savedviewevent',
                },
            ),
            migrations.AddIndex(
                model_name='savedview',
                index=models.Index(fields=['shared', 'name'], name='saved_view_shared_name'),
            ),
            migrations.AddConstraint(
                model_name='savedview',
                constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('name'), models.F('owner'), name='saved_view_unique_name_per_owner', nulls_distinct=False),
            ),
        ]),
        pgtrigger.migrations.AddTrigger(
            model_name='savedview',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "organization_savedviewevent" ("created_at", "id", "name", "owner_id", "params", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "q", "shared", "updated_at") VALUES (NEW."created_at", NEW."id", NEW."name", NEW."owner_id", NEW."params", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."q", NEW."shared", NEW."updated_at"); RETURN NULL;', hash='6f769c22e0b1557e02569d0bdad36b1cf173b2f4', operation='INSERT', pgid='pgtrigger_insert_insert_05370', table='organization_savedview', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='savedview',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "organization_savedviewevent" ("created_at", "id", "name", "owner_id", "params", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "q", "shared", "updated_at") VALUES (NEW."created_at", NEW."id", NEW."name", NEW."owner_id", NEW."params", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."q", NEW."shared", NEW."updated_at"); RETURN NULL;', hash='4e8c2268ef84c3932770a80fde0ed1337f0b83e8', operation='UPDATE', pgid='pgtrigger_update_update_36210', table='organization_savedview', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='savedview',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "organization_savedviewevent" ("created_at", "id", "name", "owner_id", "params", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "q", "shared", "updated_at") VALUES (OLD."created_at", OLD."id", OLD."name", OLD."owner_id", OLD."params", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."q", OLD."shared", OLD."updated_at"); RETURN NULL;', hash='1c97b09c8c4323f68aa01695e47058a8c3efdd36', operation='DELETE', pgid='pgtrigger_delete_delete_bfcba', table='organization_savedview', when='AFTER')),
        ),
        migrations.RunPython(move_content_types, lambda apps, schema_editor: move_content_types(
            apps, schema_editor, backwards=True)),
    ]
