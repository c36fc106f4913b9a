"""ApiToken moved to accounts: it leaves this app's migration state; its table and rows stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('collaboration', '0002_lean_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(name='ApiToken'),
        ]),
    ]
