"""The concurrency suite runs scenarios in child processes (harness.py). On PostgreSQL the
child uses the migrated test database, so every test here depends on `django_db_setup`."""

import pytest


@pytest.fixture
def concurrency_db(django_db_setup, django_db_blocker):
    """The test database migrated (PostgreSQL) and reachable from the parent for cleanup."""
    with django_db_blocker.unblock():
        yield
