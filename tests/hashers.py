"""The password hasher the test suite uses in place of Argon2PasswordHasher (see conftest.py)."""
from django.contrib.auth.hashers import Argon2PasswordHasher


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2, as configured, at its lowest cost: the production parameters (100 MiB, 2 passes, 8 lanes) take
    a few tenths of a second per hash, and most tests create a user with a password."""

    time_cost = 1
    memory_cost = 8  # KiB, argon2's minimum for one lane
    parallelism = 1
