from django.core.management.base import BaseCommand

from accounts.roles import setup_roles


class Command(BaseCommand):
    help = "Create the admin, manager, member and viewer groups and (re)set their permissions. Idempotent."

    def handle(self, *args, **options):
        for role, count in setup_roles().items():
            self.stdout.write(f"{role}: {count} permissions")
