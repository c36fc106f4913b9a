"""The data-quality tables, taken over from the contacts app: created in this app's state only (they exist,
with their names, since contacts' migrations made them). Their content types follow them, and the
permissions that guard these features move to Contact so they keep their names (`contacts.import_contacts`…)
and every grant of them."""

import contacts_project.ids
import django.contrib.postgres.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MODELS = ("nickname", "duplicatecandidate", "mergerecord", "importjob", "importrowerror", "importedcontact",
          "erasedidentity", "legalhold", "dataaccesslog")
CONTACT_PERMISSIONS = ("export_personal_data", "erase_personal_data", "export_contacts", "import_contacts",
                       "merge_contacts", "place_legal_hold")


def move_content_types(apps, schema_editor):
    """An upgraded installation has content types (and the permissions on them) under contacts."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    old_log = ContentType.objects.filter(app_label="contacts", model="dataaccesslog").first()
    if old_log is not None:
        contact, _ = ContentType.objects.get_or_create(app_label="contacts", model="contact")
        taken = set(Permission.objects.filter(content_type=contact).values_list("codename", flat=True))
        Permission.objects.filter(content_type=old_log, codename__in=set(CONTACT_PERMISSIONS) - taken) \
            .update(content_type=contact)
    for model in MODELS:
        if not ContentType.objects.filter(app_label="dataquality", model=model).exists():
            ContentType.objects.filter(app_label="contacts", model=model).update(app_label="dataquality")


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model in MODELS:
        if not ContentType.objects.filter(app_label="contacts", model=model).exists():
            ContentType.objects.filter(app_label="dataquality", model=model).update(app_label="contacts")
    log = ContentType.objects.filter(app_label="contacts", model="dataaccesslog").first()
    if log is not None:
        Permission.objects.filter(content_type__app_label="contacts", content_type__model="contact",
                                  codename__in=CONTACT_PERMISSIONS).update(content_type=log)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contacts', '0011_data_quality_moves_to_dataquality'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('auth', '0012_alter_user_first_name_max_length'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ErasedIdentity',
                    fields=[
                        ('digest', models.CharField(max_length=64, primary_key=True, serialize=False)),
                        ('kind', models.CharField(max_length=8)),
                        ('erased_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'contacts_erasedidentity',
                    },
                ),
                migrations.CreateModel(
                    name='Nickname',
                    fields=[
                        ('name', models.CharField(help_text='Lower-case given name or nickname.', max_length=50, primary_key=True, serialize=False)),
                        ('canonical', models.CharField(db_index=True, max_length=50)),
                    ],
                    options={
                        'db_table': 'contacts_nickname',
                    },
                ),
                migrations.CreateModel(
                    name='DataAccessLog',
                    fields=[
                        ('id', models.BigAutoField(primary_key=True, serialize=False)),
                        ('action', models.CharField(max_length=30)),
                        ('contact_key', models.UUIDField(blank=True, db_index=True, null=True)),
                        ('detail', models.JSONField(blank=True, default=dict)),
                        ('at', models.DateTimeField(auto_now_add=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'contacts_dataaccesslog',
                    },
                ),
                migrations.CreateModel(
                    name='ImportJob',
                    fields=[
                        ('id', models.UUIDField(default=contacts_project.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                        ('status', models.CharField(choices=[('preview', 'Previewed (dry run, nothing written)'), ('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('undoing', 'Undoing'), ('undone', 'Undone')], default='queued', max_length=10)),
                        ('format', models.CharField(help_text='csv or vcard.', max_length=8)),
                        ('filename', models.CharField(blank=True, default='', max_length=255)),
                        ('path', models.CharField(help_text='Stored upload, relative to MEDIA_ROOT.', max_length=500)),
                        ('size', models.BigIntegerField(default=0)),
                        ('content_hash', models.CharField(db_index=True, max_length=64)),
                        ('encoding', models.CharField(blank=True, default='', max_length=20)),
                        ('delimiter', models.CharField(blank=True, default='', max_length=4)),
                        ('mapping', models.JSONField(default=dict, help_text='CSV column → contact field.')),
                        ('on_duplicate', models.CharField(default='skip', max_length=8)),
                        ('rows_done', models.IntegerField(default=0)),
                        ('chunk_rows', models.IntegerField(default=0, help_text='Rows per chunk, fixed when the job first runs.')),
                        ('chunks_done', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), blank=True, default=list, help_text='Numbers of the committed chunks (the checkpoint of a resumed job).', size=None)),
                        ('created', models.IntegerField(default=0)),
                        ('updated', models.IntegerField(default=0)),
                        ('skipped', models.IntegerField(default=0)),
                        ('failed', models.IntegerField(default=0)),
                        ('detail', models.TextField(blank=True, default='')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('undone_at', models.DateTimeField(blank=True, null=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'contacts_importjob',
                    },
                ),
                migrations.CreateModel(
                    name='ImportedContact',
                    fields=[
                        ('id', models.BigAutoField(primary_key=True, serialize=False)),
                        ('contact_id', models.UUIDField()),
                        ('created', models.BooleanField()),
                        ('before', models.JSONField(blank=True, null=True)),
                        ('job', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='dataquality.importjob')),
                    ],
                    options={
                        'db_table': 'contacts_importedcontact',
                    },
                ),
                migrations.CreateModel(
                    name='ImportRowError',
                    fields=[
                        ('id', models.BigAutoField(primary_key=True, serialize=False)),
                        ('row', models.IntegerField(help_text='1-based data row (the header is row 0).')),
                        ('field', models.CharField(blank=True, default='', max_length=100)),
                        ('code', models.CharField(max_length=40)),
                        ('message', models.TextField()),
                        ('job', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='errors', to='dataquality.importjob')),
                    ],
                    options={
                        'db_table': 'contacts_importrowerror',
                    },
                ),
                migrations.CreateModel(
                    name='LegalHold',
                    fields=[
                        ('contact', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='legal_hold', serialize=False, to='contacts.contact')),
                        ('reason', models.CharField(max_length=500)),
                        ('placed_at', models.DateTimeField(auto_now_add=True)),
                        ('placed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'contacts_legalhold',
                    },
                ),
                migrations.CreateModel(
                    name='MergeRecord',
                    fields=[
                        ('id', models.UUIDField(default=contacts_project.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                        ('survivor_key', models.UUIDField(help_text="The survivor's id (kept if the survivor is deleted later).")),
                        ('merged_key', models.UUIDField(db_index=True, help_text='The id the merged contact had (and gets back on undo).')),
                        ('fields', models.JSONField(default=dict, help_text="field → 'survivor' | 'other', as asked.")),
                        ('survivor_before', models.JSONField(default=dict)),
                        ('merged_snapshot', models.JSONField(default=dict)),
                        ('moved', models.JSONField(default=dict, help_text='table → list of moved row ids, and rows set aside.')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('undone_at', models.DateTimeField(blank=True, null=True)),
                        ('erased', models.BooleanField(default=False, help_text='Snapshot scrubbed by an erasure; no longer undoable.')),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('survivor', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='contacts.contact')),
                        ('undone_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'contacts_mergerecord',
                    },
                ),
                migrations.CreateModel(
                    name='DuplicateCandidate',
                    fields=[
                        ('id', models.UUIDField(default=contacts_project.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                        ('score', models.FloatField()),
                        ('reasons', models.JSONField(default=list)),
                        ('status', models.CharField(choices=[('open', 'Open'), ('dismissed', 'Dismissed (not the same person)')], default='open', max_length=12)),
                        ('dismissed_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('contact_a', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='contacts.contact')),
                        ('contact_b', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='contacts.contact')),
                        ('dismissed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'contacts_duplicatecandidate',
                        'indexes': [models.Index(fields=['status', 'score', 'id'], name='duplicate_status_score'), models.Index(fields=['contact_b'], name='duplicate_contact_b')],
                        'constraints': [models.UniqueConstraint(fields=('contact_a', 'contact_b'), name='duplicate_pair_unique'), models.CheckConstraint(condition=models.Q(('contact_a__lt', models.F('contact_b'))), name='duplicate_pair_ordered')],
                    },
                ),
                migrations.AddIndex(
                    model_name='importjob',
                    index=models.Index(fields=['created_at', 'id'], name='import_created_id'),
                ),
                migrations.AddIndex(
                    model_name='importedcontact',
                    index=models.Index(fields=['job', 'id'], name='imported_job'),
                ),
                migrations.AddIndex(
                    model_name='importedcontact',
                    index=models.Index(fields=['contact_id'], name='imported_contact'),
                ),
                migrations.AddIndex(
                    model_name='importrowerror',
                    index=models.Index(fields=['job', 'row'], name='import_error_job_row'),
                ),
                migrations.AddIndex(
                    model_name='mergerecord',
                    index=models.Index(fields=['survivor_key', 'created_at'], name='merge_survivor'),
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
