"""AUD2, ACC4: on PostgreSQL the audit log is under row-level security like every tenant table.

Without a tenant setting the application role used to read every practice's entries. Now
(audit migration 0006, FORCE ROW LEVEL SECURITY):

* a practice's entries are read only in that practice's context;
* platform-chain entries (a failed sign-in has no practice) only by or about a member of the
  practice in context (the viewer's and the security-events page's scope), or as a signed-in
  user's own security events (their account page) — never an anonymous visitor's;
* nothing is inserted unless `confide.audit_chain` names the entry's chain, which only the
  audit module's writers set (confide/audit/scope.py);
* the owning role reads every chain (the verifier's policy), and `confide audit verify` refuses
  to run as a role that cannot.

The rest of the suite reads the log from test code outside any context; tests/postgres_setup.py
adds a test-only policy for exactly that (no practice, no user in context, a setting only the
test connections carry). The tests here switch it off (`as_in_production`), so what they see is
what the production policies allow.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from confide.accounts.services import record_security_event
from confide.audit.chain import PLATFORM_CHAIN, record
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.audit.conftest import ON_POSTGRES
from tests.audit.viewer_helpers import chart_opened

pytestmark = [
    pytest.mark.skipif(not ON_POSTGRES, reason="row-level security exists only on PostgreSQL"),
    pytest.mark.postgres,
]


@pytest.fixture
def as_in_production(db):
    """Switch the test-only reader policy off for the rest of this test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('confide.test_reads_audit', 'off', true)")


def _chains(sql: str = "SELECT chain, event FROM audit_auditentry", params=()) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return set(cursor.fetchall())


def test_aud2_the_log_has_forced_row_security(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'audit_auditentry'::regclass")
        assert cursor.fetchone() == (True, True)


def test_acc4_without_a_context_the_application_role_reads_no_entry(world, as_in_production):
    chart_opened(world.a, world.a.practice.id)
    record_security_event(AuditEvent.SIGNIN_FAILED, identifier="nobody@example.test")
    assert _chains() == set()
    assert AuditEntry.objects.count() == 0


def test_acc4_in_a_practices_context_only_its_chain_and_its_members_platform_entries(world, as_in_production):
    a, b = world.a, world.b
    chart_opened(a, a.practice.id)
    chart_opened(b, b.practice.id)
    record_security_event(AuditEvent.SIGNIN_FAILED, user=a.user(Role.BILLING))  # about a member of A
    record_security_event(AuditEvent.SIGNIN_SUCCEEDED, user=b.user(Role.BILLING))  # a member of B only
    record_security_event(AuditEvent.SIGNIN_FAILED, identifier="nobody@example.test")  # nobody's
    with tenant_context(practice_id=a.practice.id):
        seen = _chains()
        assert _chains("SELECT chain, event FROM audit_auditentry WHERE chain = %s", [str(b.practice.id)]) == set()
    assert seen == {
        (str(a.practice.id), AuditEvent.CHAIN_STARTED), (str(a.practice.id), AuditEvent.CHART_OPENED), (PLATFORM_CHAIN, AuditEvent.SIGNIN_FAILED),
    }  # fmt: skip
    with tenant_context(practice_id=b.practice.id):
        assert (PLATFORM_CHAIN, AuditEvent.SIGNIN_SUCCEEDED) in _chains() and (str(a.practice.id), AuditEvent.CHART_OPENED) not in _chains()


def test_a_signed_in_user_reads_their_own_security_events_on_any_chain_and_nothing_else(world, as_in_production):
    user = world.a.user(Role.CLINICIAN)
    record_security_event(AuditEvent.SIGNIN_SUCCEEDED, user=user)
    record_security_event(AuditEvent.ROLE_CHANGED, user=user, practice_id=world.b.practice.id)  # about them, on B's chain
    chart_opened(world.b, world.b.practice.id)
    with tenant_context(practice_id=None, user_id=user.pk):
        assert _chains() == {(PLATFORM_CHAIN, AuditEvent.SIGNIN_SUCCEEDED), (str(world.b.practice.id), AuditEvent.ROLE_CHANGED)}


def test_aud2_nothing_is_inserted_into_the_log_but_by_its_writers(world, as_in_production):
    entry = record(AuditEvent.CHART_OPENED, practice_id=world.a.practice.id)  # the writer: allowed
    with tenant_context(practice_id=world.a.practice.id):
        # A well-formed unsealed entry (audit 0007's trigger would refuse any other first): row security refuses it.
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO audit_auditentry (chain, at, event, actor_kind, actor_id, actor_role, purpose, resource_ids, "
                "categories, fields_changed, outcome, reason, flagged, detail, request_id, user_agent, content_hash) "
                "VALUES (%s, now(), 'records:chart:opened', 'system', '', '', '', '[]', '[]', '[]', 'ok', '', false, '{}', '', '', %s)",
                [entry.chain, "a" * 64],
            )


def test_verify_refuses_to_run_as_a_role_that_cannot_read_every_chain(world, as_in_production):
    with pytest.raises(CommandError, match="cannot read every audit chain"):
        call_command("audit", "verify", "--database", "default", stdout=io.StringIO())


def test_the_owning_role_reads_every_chain_the_application_role_cannot(tmp_path, django_db_setup, django_db_blocker):
    """The verifier's policy: committed entries (a child process as the application role), read
    by the owner without any context, and by the application role not at all."""
    from tests.audit.conftest import append_in_subprocess, new_chain, owner_connection, owner_remove_chains, subprocess_env

    chain = new_chain()
    try:
        assert append_in_subprocess(subprocess_env(tmp_path), [chain], threads=1, per_thread=3, migrate=False)["appended"] == 3
        with owner_connection() as conn:
            conn.execute("SELECT set_config('confide.test_reads_audit', 'off', false)")
            (owner_sees,) = conn.execute("SELECT count(*) FROM audit_auditentry WHERE chain = %s", [chain]).fetchone()
        with django_db_blocker.unblock(), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('confide.test_reads_audit', 'off', true)")
                cursor.execute("SELECT count(*) FROM audit_auditentry WHERE chain = %s", [chain])
                (app_sees,) = cursor.fetchone()
        assert (owner_sees, app_sees) == (3, 0)
    finally:
        owner_remove_chains([chain])
