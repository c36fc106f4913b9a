"""Team and TeamMembership moved to accounts: they leave this app's migration state; tables and rows stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('contacts', '0012_team_moves_to_accounts'),
        ('organization', '0003_lean_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.RemoveField(model_name='team', name='members'),
            migrations.DeleteModel(name='TeamMembership'),
            migrations.DeleteModel(name='Team'),
        ]),
    ]
