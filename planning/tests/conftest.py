# the real peers the communications tests start: an SMTP server and a clean Redis broker
from communications.tests.conftest import smtp_sink  # noqa: F401
from communications.tests.test_worker import broker, each_broker  # noqa: F401
