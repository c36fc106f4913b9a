"""Teams, memberships and API tokens join accounts (from organization and collaboration) in the migration
state only: their tables keep their names and rows; the content types follow, so permissions granted on them
and admin history stay attached."""

import contacts_project.ids
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = (("organization", "team"), ("organization", "teammembership"), ("collaboration", "apitoken"))


def move_content_types(apps, schema_editor, *, backwards=False):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for old_app, model in MOVED:
        source, target = ("accounts", old_app) if backwards else (old_app, "accounts")
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('collaboration', '0002_lean_indexes'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('organization', '0003_lean_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='Team',
                fields=[
                    ('id', models.UUIDField(default=contacts_project.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                    ('name', models.CharField(max_length=100, unique=True)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                ],
                options={'db_table': 'organization_team'},
            ),
            migrations.CreateModel(
                name='TeamMembership',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('role', models.CharField(choices=[('admin', 'Admin'), ('manager', 'Manager'), ('member', 'Member'), ('viewer', 'Viewer')], default='member', max_length=20)),
                    ('team', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='accounts.team')),
                    ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='team_memberships', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'organization_teammembership',
                    'constraints': [models.UniqueConstraint(fields=('team', 'user'), name='team_membership_unique')],
                },
            ),
            migrations.AddField(
                model_name='team',
                name='members',
                field=models.ManyToManyField(related_name='teams', through='accounts.TeamMembership', to=settings.AUTH_USER_MODEL),
            ),
            migrations.CreateModel(
                name='ApiToken',
                fields=[
                    ('id', models.BigAutoField(primary_key=True, serialize=False)),
                    ('name', models.CharField(max_length=100)),
                    ('prefix', models.CharField(help_text='First characters of the key, to recognise it.', max_length=16)),
                    ('digest', models.CharField(max_length=64, unique=True)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('last_used_at', models.DateTimeField(blank=True, null=True)),
                    ('expires_at', models.DateTimeField(blank=True, null=True)),
                    ('user', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='api_tokens', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'collaboration_apitoken',
                    'constraints': [models.UniqueConstraint(fields=('user', 'name'), name='api_token_unique_name_per_user')],
                },
            ),
        ]),
        migrations.RunPython(move_content_types, lambda apps, schema_editor: move_content_types(
            apps, schema_editor, backwards=True)),
    ]
