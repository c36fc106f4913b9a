# real peers shared with the communications tests: an SMTP server on a free localhost port
# users of each role, teams and their API clients: the accounts fixtures
from accounts.tests.fixtures import client_for, make_user, teams  # noqa: F401
from communications.tests.conftest import smtp_sink  # noqa: F401
