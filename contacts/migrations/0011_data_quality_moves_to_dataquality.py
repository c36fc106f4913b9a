"""The data-quality tables move to the dataquality app: removed from contacts' state only. The tables stay
(with their names), dataquality's first migration takes them over; their permissions stay `contacts.*`,
now declared on Contact."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0010_drop_name_and_domain_indexes'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='contact',
            options={'permissions': [('export_personal_data', 'Can export everything held about a contact (GDPR access)'), ('erase_personal_data', "Can erase a contact's personal data (GDPR erasure)"), ('export_contacts', 'Can export contacts in bulk (CSV, vCard, JSON)'), ('import_contacts', 'Can import contacts from files'), ('merge_contacts', 'Can merge duplicate contacts and undo merges'), ('place_legal_hold', 'Can place and lift legal holds')]},
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name='dataaccesslog',
                    name='actor',
                ),
                migrations.RemoveField(
                    model_name='duplicatecandidate',
                    name='contact_a',
                ),
                migrations.RemoveField(
                    model_name='duplicatecandidate',
                    name='contact_b',
                ),
                migrations.RemoveField(
                    model_name='duplicatecandidate',
                    name='dismissed_by',
                ),
                migrations.DeleteModel(
                    name='ErasedIdentity',
                ),
                migrations.RemoveField(
                    model_name='importedcontact',
                    name='job',
                ),
                migrations.RemoveField(
                    model_name='importjob',
                    name='actor',
                ),
                migrations.RemoveField(
                    model_name='importrowerror',
                    name='job',
                ),
                migrations.RemoveField(
                    model_name='legalhold',
                    name='contact',
                ),
                migrations.RemoveField(
                    model_name='legalhold',
                    name='placed_by',
                ),
                migrations.RemoveField(
                    model_name='mergerecord',
                    name='actor',
                ),
                migrations.RemoveField(
                    model_name='mergerecord',
                    name='survivor',
                ),
                migrations.RemoveField(
                    model_name='mergerecord',
                    name='undone_by',
                ),
                migrations.DeleteModel(
                    name='Nickname',
                ),
                migrations.DeleteModel(
                    name='DataAccessLog',
                ),
                migrations.DeleteModel(
                    name='DuplicateCandidate',
                ),
                migrations.DeleteModel(
                    name='ImportedContact',
                ),
                migrations.DeleteModel(
                    name='ImportJob',
                ),
                migrations.DeleteModel(
                    name='ImportRowError',
                ),
                migrations.DeleteModel(
                    name='LegalHold',
                ),
                migrations.DeleteModel(
                    name='MergeRecord',
                ),
            ],
        ),
    ]
