"""CON2: the ledger cannot be edited in place, by the ORM or around it. Consent evidence may only
be re-sealed (key rotation); nothing else about it changes and it is never deleted."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import RequestFactory

from confide.access.consent import do_patient_choice
from confide.consent.actors import PatientActor
from confide.consent.services import Subject
from confide.core.tenancy import tenant_context
from confide.vault.allowance import allow
from tests.audit.conftest import ON_POSTGRES, db_id, refused_sql
from tests.consent.conftest import events, evidence
from tests.consent.helpers import by_phone


def _patient_choice(world, patient):
    request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="Mozilla/5.0 Firefox/140.0")
    return do_patient_choice(
        action="grant", actor=PatientActor(world.a.practice.id, patient.id), subject=Subject.patient(world.a.practice.id, patient.id),
        topic="ai_features", channel="portal", method="form_button", shown_text="AI assistance? [Yes]", request=request,
    )  # fmt: skip


def test_con2_the_model_refuses_to_change_or_delete_an_event(world, make_patient):
    event = by_phone(world.a, make_patient().id, "marketing_email")
    event.action = "withdraw"
    with pytest.raises(RuntimeError, match="consent events are append-only"):
        event.save()
    with pytest.raises(RuntimeError, match="consent events are append-only"):
        event.delete()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE consent_consentevent SET action = 'withdraw' WHERE id = %s",
        "UPDATE consent_consentevent SET at = at WHERE id = %s",
        "DELETE FROM consent_consentevent WHERE id = %s",
    ],
)
def test_con2_the_database_refuses_to_change_or_delete_an_event(world, make_patient, sql):
    event = by_phone(world.a, make_patient().id, "marketing_email")
    with tenant_context(practice_id=world.a.practice.id):
        assert "consent events are append-only" in refused_sql(sql, [db_id(event)])
    assert [e.action for e in events(world.a.practice)] == ["grant"]


def test_con2_deleting_every_event_is_refused(world, make_patient):
    by_phone(world.a, make_patient().id, "marketing_email")
    with tenant_context(practice_id=world.a.practice.id):
        assert "append-only" in refused_sql("DELETE FROM consent_consentevent")
    assert len(events(world.a.practice)) == 1


@pytest.mark.parametrize("change", ["move to another event", "move to another patient", "backdate", "delete"])
def test_trk1_consent_evidence_is_never_deleted_nor_moved_nor_backdated(world, make_patient, change):
    patient, other = make_patient(), make_patient(given_name="Tobias")
    _patient_choice(world, patient)
    phone_event = by_phone(world.a, patient.id, "marketing_email")  # an event without evidence
    [row] = evidence(world.a.practice)
    sql, params = {
        "move to another event": ("UPDATE consent_consentevidence SET event_id = %s WHERE id = %s", [db_id(phone_event), db_id(row)]),
        "move to another patient": ("UPDATE consent_consentevidence SET patient_id = %s WHERE id = %s", [db_id(other), db_id(row)]),
        "backdate": ("UPDATE consent_consentevidence SET created_at = %s WHERE id = %s", [datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC), db_id(row)]),
        "delete": ("DELETE FROM consent_consentevidence WHERE id = %s", [db_id(row)]),
    }[change]
    with tenant_context(practice_id=world.a.practice.id):
        message = refused_sql(sql, params)
    assert "consent evidence is append-only" in message
    [still] = evidence(world.a.practice)
    assert (still.event_id, still.patient_id, still.created_at) == (row.event_id, row.patient_id, row.created_at)
    with pytest.raises(RuntimeError, match="consent evidence is append-only"):
        row.delete()
    with pytest.raises(RuntimeError, match="consent evidence is append-only"):
        row.save()


def test_trk1_rotating_the_patients_key_re_seals_the_evidence(world, make_patient):
    from confide.vault.rotation import rotate_subject

    patient = make_patient()
    _patient_choice(world, patient)
    [before] = evidence(world.a.practice)
    with tenant_context(practice_id=world.a.practice.id):
        rotate_subject(world.a.practice.id, patient.id)
    [after] = evidence(world.a.practice)
    assert after.__dict__["ip_address"] != before.__dict__["ip_address"]
    assert after.__dict__["ip_address"].split(":")[2] != before.__dict__["ip_address"].split(":")[2]  # a new key version
    with tenant_context(practice_id=world.a.practice.id), allow({"technical.network"}, subjects={patient.id}):
        assert after.ip_address == "198.51.100.4"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite: the triggers by name")
def test_sqlite_has_the_consent_triggers(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'consent_%' ORDER BY name")
        assert [row[0] for row in cursor.fetchall()] == ["consent_evidence_fixed", "consent_evidence_no_delete", "consent_no_delete", "consent_no_update"]


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL pass only")
@pytest.mark.parametrize("sql", ["TRUNCATE consent_consentevent CASCADE", "DELETE FROM consent_consentevent", "UPDATE consent_consentevent SET action = action",
                                 "TRUNCATE consent_consentevidence", "DELETE FROM consent_consentevidence"])  # fmt: skip
def test_postgres_the_owner_is_refused_too(django_db_setup, sql):
    import psycopg

    from tests.audit.conftest import owner_connection

    with owner_connection() as conn, pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="append-only"):
        with conn.transaction(force_rollback=True):
            conn.execute(sql)
