# real peers shared with the communications tests: an SMTP server on a free localhost port
from communications.tests.conftest import smtp_sink  # noqa: F401
