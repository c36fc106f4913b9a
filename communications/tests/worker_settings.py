"""Settings of the Celery worker the kill test starts: the project's, with the spool-checking backend."""
import os

from contacts_project.settings import *  # noqa: F403

COMMUNICATION_CHANNELS = {"email": {"BACKEND": "communications.tests.support.SpoolCheckingEmailBackend",
                                    "OPTIONS": {"spool": os.environ.get("SINK_SPOOL_DIR", "")}}}
