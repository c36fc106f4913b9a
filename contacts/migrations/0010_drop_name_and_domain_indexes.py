"""The duplicate rules find similar names through the search_text trigram index (word similarity) and
match email domains on the candidates it returns, so the second trigram index (on the full name) and the
email-domain index go: each cost every contact insert and update, and imports most."""
from django.db import migrations

NAME_EXPR = "lower(immutable_unaccent(first_name::text || ' ' || last_name::text))"


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0009_import_checkpoints"),
    ]

    operations = [
        migrations.RunSQL(
            "DROP INDEX IF EXISTS contact_fullname_trgm; DROP INDEX IF EXISTS contact_email_domain;",
            reverse_sql=(
                f"CREATE INDEX IF NOT EXISTS contact_fullname_trgm ON contacts_contact USING gin (({NAME_EXPR}) gin_trgm_ops);"
                "CREATE INDEX IF NOT EXISTS contact_email_domain ON contacts_contact "
                "(split_part(lower(email::text), '@', 2)) WHERE email::text <> '';"),
        ),
    ]
