"""The benchmark's floor: a minimal Django REST Framework app on the platform's contact table.

It has its own settings module (`bench.bare.settings`) and no migrations: it reads and writes the
platform's `contacts_contact` table through an unmanaged model, and authenticates with DRF's token
authentication on the platform's own `authtoken_token` and `auth_user` tables (read only). Django's
default middleware, a plain ModelViewSet, DRF's cursor pagination, and search as one LIKE on the
trigram-indexed `search_text` column the platform already has. `bench/run.py` serves it beside the
platform under the same gunicorn settings and prints each platform figure as a ratio of this one.
"""
