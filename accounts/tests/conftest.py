from accounts.tests.fixtures import client_for, make_user, teams  # noqa: F401
