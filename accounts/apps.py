from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # every migrate (a fresh database and the test database too) resets the role groups' permissions
        post_migrate.connect(_setup_roles, dispatch_uid="accounts.setup_roles")


def _setup_roles(sender, app_config=None, **kwargs):
    # post_migrate is sent once per app, each creating its own permissions: the roles are set after the last
    # app's signal, when every permission exists
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if with_models and app_config is not with_models[-1]:
        return
    from .roles import setup_roles

    setup_roles()
