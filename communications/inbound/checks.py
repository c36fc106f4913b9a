"""`manage.py check --deploy`: the default BOUNCE_DOMAIN is a local name, fine for trying inbound mail on one
machine, but mail sent to the internet would carry an envelope sender (and Reply-To) nobody can reach."""
from django.conf import settings
from django.core import checks

LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".invalid", ".test", ".example")


@checks.register(checks.Tags.compatibility, deploy=True)
def bounce_domain_is_public(app_configs=None, **kwargs):
    domain = settings.BOUNCE_DOMAIN.lower().rstrip(".")
    if "." not in domain or domain.endswith(LOCAL_SUFFIXES) or domain in ("localhost",):
        return [checks.Warning(
            f"BOUNCE_DOMAIN is a local name ({settings.BOUNCE_DOMAIN!r}): bounces, replies and mailto: "
            "unsubscribes of mail sent to the internet cannot come back, and some receivers refuse an envelope "
            "sender whose domain does not resolve.",
            hint="Set BOUNCE_DOMAIN to a domain whose MX reaches the inbound receiver (docs/communications.md).",
            id="communications.W001")]
    return []
