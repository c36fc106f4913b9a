"""SavedView (and its pghistory event model) moved to contacts: they leave this app's migration state; the
tables and rows stay. The history triggers carry the app in their names, so these are dropped here and
contacts 0012 creates them again for contacts.SavedView."""

import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('organization', '0004_teams_move_to_accounts'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='savedview',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='savedview',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='savedview',
            name='delete_delete',
        ),
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(name='SavedViewEvent'),
            migrations.DeleteModel(name='SavedView'),
        ]),
    ]
