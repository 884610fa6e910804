"""Test-database setup: pytest-django's default on SQLite; migrate-as-owner on PostgreSQL.

On PostgreSQL (the second pass of `make test`, `CONFIDE_TEST_DATABASE=postgres`) no test
database is created: the database named by DATABASE_URL is a fresh, empty one that CI created
for this run (`.ci/run`), and the application role it connects as may not create databases or
tables anyway. Instead the schema is migrated once per session through the `owner` alias
(DATABASE_MIGRATE_URL, the owning role), which also installs row-level security
(`confide.core.rls`). The tests then run on `default`, the unprivileged application role, each
inside a transaction that is rolled back, so the policies apply to every query they make.

One thing is added for the tests alone: a SELECT policy on the audit log, `test_reader`, that
admits every row when the connection carries `confide.test_reads_audit = on` (tests/settings.py
sets it on the test connections) *and* no practice, user or audit chain is in context. Test code
asserts on the entries it produced from outside any context; the application never reads the
log without one, so its reads are judged by the production policies only (audit 0006).
tests/audit/test_rls.py turns the setting off to test those policies alone.

Transactional tests (`transaction=True`, live_server) are not supported on PostgreSQL: their
flush needs TRUNCATE, which the application role deliberately lacks. The browser tests that
use them run in the SQLite pass only (`-m "not e2e"`).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest


@pytest.fixture(scope="session")
def django_db_setup(  # noqa: PLR0917 — the signature of pytest-django's own fixture
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker,
    django_db_use_migrations: bool,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Generator[None]:
    from django.db import connections

    if connections["default"].vendor == "postgresql":
        yield from _postgres_setup(request, django_db_blocker)
    else:
        yield from _default_setup(request, django_db_blocker, django_db_use_migrations, django_db_keepdb, django_db_createdb)


TEST_READER_POLICY = """
    CREATE POLICY test_reader ON audit_auditentry FOR SELECT USING (
        current_setting('confide.test_reads_audit', true) = 'on'
        AND NULLIF(current_setting('confide.practice_id', true), '') IS NULL
        AND NULLIF(current_setting('confide.user_id', true), '') IS NULL
        AND NULLIF(current_setting('confide.audit_chain', true), '') IS NULL
    )
"""


def _postgres_setup(request: pytest.FixtureRequest, django_db_blocker) -> Generator[None]:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    if "owner" not in settings.DATABASES:
        pytest.exit(
            "PostgreSQL pass: DATABASE_MIGRATE_URL is not set. It must name the role that owns the "
            "database in DATABASE_URL (tests migrate as the owner and run as the application role); "
            "see .ci/run and docs/operations.md.",
            returncode=3,
        )
    with django_db_blocker.unblock():
        call_command("migrate", database="owner", interactive=False, verbosity=max(request.config.option.verbose, 0))
        with connections["owner"].cursor() as cursor:
            cursor.execute("DROP POLICY IF EXISTS test_reader ON audit_auditentry")
            cursor.execute(TEST_READER_POLICY)
        connections["owner"].close()
    yield
    # Nothing to tear down: the database belongs to the CI run, which drops it afterwards.


def _default_setup(
    request: pytest.FixtureRequest,
    django_db_blocker,
    django_db_use_migrations: bool,
    django_db_keepdb: bool,
    django_db_createdb: bool,
) -> Generator[None]:
    """pytest-django's `django_db_setup` (pytest_django/fixtures.py, 4.x), unchanged in effect."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations, _get_databases_for_setup

    setup_databases_args = {}
    if not django_db_use_migrations:
        _disable_migrations()
    if django_db_keepdb and not django_db_createdb:
        setup_databases_args["keepdb"] = True
    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)

    with django_db_blocker.unblock():
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases=aliases,
            serialized_aliases=serialized_aliases,
            **setup_databases_args,
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            try:
                teardown_databases(db_cfg, verbosity=request.config.option.verbose)
            except Exception as exc:  # noqa: BLE001
                request.node.warn(pytest.PytestWarning(f"Error when trying to teardown test databases: {exc!r}"))
