"""POL1: a published policy version is never changed or removed, around the model too (the model's own
refusal is tests/policy/test_services.py::test_pol1_versions_are_immutable):
the notice a patient saw and the declaration enforced while it was in force stay on record."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from confide.core.tenancy import tenant_context
from tests.audit.conftest import ON_POSTGRES, db_id, refused_sql

CHANGE = '[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n'


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE policy_policyversion SET summary = 'rewritten' WHERE id = %s",
        "UPDATE policy_policyversion SET override_toml = '' WHERE id = %s",
        "DELETE FROM policy_policyversion WHERE id = %s",
    ],
)
def test_pol1_the_database_refuses_to_change_or_delete_a_version(world, publish, sql):
    from confide.policy.models import PolicyVersion

    version = publish(CHANGE, summary="Analytics kept longer.")
    with tenant_context(practice_id=world.a.practice.id):
        assert "policy versions are immutable" in refused_sql(sql, [db_id(version)])
        kept = PolicyVersion.objects.get(pk=version.pk)
        assert (kept.summary, kept.override_toml, kept.digest) == ("Analytics kept longer.", version.override_toml, version.digest)


def test_pol1_a_bulk_update_through_the_orm_is_refused_too(world, publish):
    from confide.policy.models import PolicyVersion

    publish(CHANGE)
    with tenant_context(practice_id=world.a.practice.id):
        with pytest.raises(DatabaseError, match="policy versions are immutable"), transaction.atomic():
            PolicyVersion.objects.update(material=True)
        assert not PolicyVersion.objects.filter(material=True).exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite: the triggers by name")
def test_sqlite_has_the_policy_version_triggers(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'policy_policyversion' ORDER BY name")
        assert [row[0] for row in cursor.fetchall()] == ["policy_version_no_delete", "policy_version_no_update"]


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL pass only")
@pytest.mark.parametrize("sql", ["TRUNCATE policy_policyversion CASCADE", "DELETE FROM policy_policyversion", "UPDATE policy_policyversion SET material = material"])
def test_postgres_the_owner_is_refused_too(django_db_setup, sql):
    import psycopg

    from tests.audit.conftest import owner_connection

    with owner_connection() as conn, pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="policy versions are immutable"):
        with conn.transaction(force_rollback=True):
            conn.execute(sql)
