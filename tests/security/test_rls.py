"""Row-level security on PostgreSQL: the database itself keeps practices apart.

Everything here goes around the ORM's tenant managers on purpose (raw SQL through
`django.db.connection`, as the application role): it is the second layer that must hold when
the first is bypassed or has a bug. See confide/core/rls.py and confide/core/db/postgresql/base.py.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from confide.core.permissions import Role
from confide.core.rls import POLICY_NAME, tenant_models
from confide.core.tenancy import tenant_context
from tests.factories import MembershipFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row-level security exists only on PostgreSQL; the PostgreSQL pass of make test runs this",
    ),
    pytest.mark.postgres,
    pytest.mark.django_db,
]


def _scalar(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _membership_count(where: str = "", params=()) -> int:
    return _scalar(f"SELECT count(*) FROM accounts_membership {where}", params)


def _visible_practices() -> set[uuid.UUID]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT practice_id FROM accounts_membership")
        return {row[0] for row in cursor.fetchall()}


def _insert_membership(practice_id, user_id) -> None:
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_membership (id, created_at, updated_at, practice_id, user_id, role, is_active)"
            " VALUES (%s, %s, %s, %s, %s, %s, true)",
            (uuid.uuid4(), now, now, practice_id, user_id, Role.CLINICIAN.value),
        )


# --- (a) every tenant table is covered -----------------------------------------------------------
def test_there_are_tenant_models_to_protect():
    assert "accounts_membership" in {m._meta.db_table for m in tenant_models()}


@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m._meta.label)
def test_every_tenant_table_has_forced_row_security_and_the_policy(model):
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = to_regclass(%s)",
            (connection.ops.quote_name(table),),
        )
        row = cursor.fetchone()
        assert row is not None, f"{table}: no such table"
        assert row == (True, True), f"{table}: relrowsecurity/relforcerowsecurity = {row}"
        cursor.execute(
            "SELECT count(*) FROM pg_policies WHERE schemaname = current_schema() AND tablename = %s AND policyname = %s",
            (table, POLICY_NAME),
        )
        assert cursor.fetchone()[0] == 1, f"{table}: policy {POLICY_NAME} missing"


# --- (b) the app's role cannot step around the policies ------------------------------------------
def test_the_application_role_is_not_superuser_and_cannot_bypass_rls():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        name, is_super, bypasses = cursor.fetchone()
    assert not is_super, f"tests connect as superuser {name}: row-level security would not apply"
    assert not bypasses, f"tests connect as {name}, which has BYPASSRLS"


# --- (c) reads are scoped to the context ---------------------------------------------------------
def test_raw_sql_without_a_context_sees_no_tenant_rows(world):
    assert _membership_count() == 0


def test_raw_sql_in_a_practice_context_sees_only_that_practice(world):
    a, b = world.a, world.b
    with tenant_context(practice_id=a.practice.id):
        assert _membership_count() == len(a.memberships)
        assert _visible_practices() == {a.practice.id}
        # B's rows are invisible even when asked for by id or by practice.
        b_owner = b.memberships[Role.OWNER]
        assert _membership_count("WHERE id = %s", (b_owner.id,)) == 0
        assert _membership_count("WHERE practice_id = %s", (b.practice.id,)) == 0
        # Nor can they be changed or deleted from here.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE accounts_membership SET is_active = false WHERE id = %s", (b_owner.id,))
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM accounts_membership WHERE practice_id = %s", (b.practice.id,))
            assert cursor.rowcount == 0
    with tenant_context(practice_id=b.practice.id):
        assert _membership_count() == len(b.memberships)
        assert _visible_practices() == {b.practice.id}


# --- (d) writes are checked too ------------------------------------------------------------------
def test_inserting_a_row_for_another_practice_is_refused(world):
    a, b = world.a, world.b
    with tenant_context(practice_id=a.practice.id):
        # Control: the same statement for the practice in context goes through.
        with transaction.atomic():
            _insert_membership(a.practice.id, b.owner.pk)
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic():  # a savepoint: the test's transaction survives the error
                _insert_membership(b.practice.id, a.owner.pk)
        assert _membership_count() == len(a.memberships) + 1
    with tenant_context(practice_id=b.practice.id):
        assert _membership_count("WHERE user_id = %s", (a.owner.pk,)) == 0


def test_moving_a_row_to_another_practice_is_refused(world):
    a, b = world.a, world.b
    with tenant_context(practice_id=a.practice.id, user_id=a.owner.pk):
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "UPDATE accounts_membership SET practice_id = %s WHERE id = %s",
                        (b.practice.id, a.memberships[Role.OWNER].id),
                    )


# --- (e) Membership's user clause ----------------------------------------------------------------
def test_a_user_context_sees_only_that_users_memberships(world):
    a, b = world.a, world.b
    user = a.owner
    with tenant_context(practice_id=b.practice.id):
        MembershipFactory(user=user, practice=b.practice, role=Role.BILLING)
    with tenant_context(practice_id=None, user_id=user.pk):
        with connection.cursor() as cursor:
            cursor.execute("SELECT user_id, practice_id FROM accounts_membership")
            rows = cursor.fetchall()
    assert sorted(rows, key=str) == sorted([(user.pk, a.practice.id), (user.pk, b.practice.id)], key=str)


def test_the_user_clause_admits_reads_only(world):
    a, b = world.a, world.b
    user = a.owner
    with tenant_context(practice_id=None, user_id=user.pk):
        # Visible, but neither changeable nor deletable, and no new membership can be made.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE accounts_membership SET role = %s WHERE user_id = %s", (Role.OWNER.value, user.pk))
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM accounts_membership WHERE user_id = %s", (user.pk,))
            assert cursor.rowcount == 0
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic():
                _insert_membership(b.practice.id, user.pk)
        assert _membership_count() == 1


# --- (f) the context does not leak ---------------------------------------------------------------
def test_leaving_a_context_hides_the_rows_again(world):
    with tenant_context(practice_id=world.a.practice.id):
        assert _membership_count() == len(world.a.memberships)
    assert _membership_count() == 0
    with tenant_context(practice_id=None, user_id=world.b.owner.pk):
        assert _membership_count() == 1
    assert _membership_count() == 0


def test_nested_contexts_restore_the_outer_one(world):
    a, b = world.a, world.b
    with tenant_context(practice_id=a.practice.id):
        with tenant_context(practice_id=b.practice.id):
            assert _visible_practices() == {b.practice.id}
            assert _membership_count() == len(b.memberships)
        assert _visible_practices() == {a.practice.id}
        assert _membership_count() == len(a.memberships)
    assert _membership_count() == 0


def test_context_survives_savepoint_rollback(world):
    a, b = world.a, world.b
    with tenant_context(practice_id=a.practice.id):
        assert _membership_count() == len(a.memberships)
        try:
            with transaction.atomic():
                with tenant_context(practice_id=b.practice.id):
                    assert _membership_count() == len(b.memberships)
                    raise RuntimeError("roll back the savepoint")
        except RuntimeError:
            pass
        assert _visible_practices() == {a.practice.id}
    assert _membership_count() == 0


def test_a_database_error_under_an_inner_context_surfaces_and_the_outer_context_holds(world):
    # The inner context ends before the savepoint is rolled back: the backend must not try to
    # re-set the context inside the failed transaction (that error would hide the real one).
    a, b = world.a, world.b
    with tenant_context(practice_id=a.practice.id):
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic():
                with tenant_context(practice_id=b.practice.id):
                    _insert_membership(a.practice.id, b.owner.pk)
        assert _visible_practices() == {a.practice.id}
