from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    name = "communications"
    verbose_name = "Communication"

    def ready(self):
        from anymail.signals import tracking

        from contacts_project.registry import register

        from .monitoring import check_dispatcher, dispatcher_lag_gauges
        from .views import record_anymail_event

        register("live_gauges", "dispatcher_lag", dispatcher_lag_gauges)
        register("readiness_checks", "dispatcher", check_dispatcher)

        tracking.connect(record_anymail_event, dispatch_uid="communications.record_anymail_event")

        from contacts_project.registry import register

        from .inbound import checks  # noqa: F401 - registers the deploy check
        from .inbound.privacy import erase_inbound, export_inbound

        register("privacy_exporters", "inbound_messages", export_inbound)
        register("privacy_erasers", "inbound_messages", erase_inbound)
