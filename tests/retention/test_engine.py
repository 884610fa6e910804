"""RET1, RET2, RTS4: the retention engine — archive closed accounts, destroy at the end of the
period (crypto-shredding + rows deleted), legal holds, the run's audit entries, the dry run."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.messaging.models import NotificationPreference
from confide.records.models import Patient, ProgressNote
from confide.records.services import CHART
from confide.retention import engine
from confide.retention.models import ArchivedRecord, LegalHold
from confide.rights.deletion import check_execute_deletion, execute_deletion
from confide.rights.models import RightsRequest
from confide.vault import tombstones
from confide.vault.allowance import allow
from confide.vault.fields import is_erased
from confide.vault.models import BlindIndexEntry, SubjectKey
from tests.retention.conftest import add_disclosure, add_note, add_preferences, delete_request


def _delete(officer, patient):
    req = delete_request(patient)
    run = check_execute_deletion(actor=officer, request_id=req.pk, expected_version=req.version)
    execute_deletion.call(str(run.practice_id), str(run.pk))
    with tenant_context(practice_id=patient.practice_id):
        return ArchivedRecord.objects.get(patient_id=patient.pk)


def _after(day: datetime.date):
    return time_machine.travel(datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC), tick=False)


def test_ret1_active_accounts_are_never_touched_by_a_run(world, make_patient):
    patient = make_patient()
    with _after(timezone.localdate() + datetime.timedelta(days=365 * 30)):
        reports = engine.run()
    assert all(r.counts() == {"archived": 0, "held": 0, "destroyed": 0, "failed": 0} for r in reports)
    with tenant_context(practice_id=world.a.practice.id):
        assert Patient.objects.get(pk=patient.pk).is_active


def test_ret2_rts4_at_the_end_of_retention_the_key_is_shredded_and_nothing_decrypts_anywhere(world, portal, officer):
    patient = portal.adult.patient
    add_note(world, patient)
    add_disclosure(patient)
    archived = _delete(officer, patient)
    with tenant_context(practice_id=patient.practice_id):
        backup = Patient.objects.get(pk=patient.pk)  # a copy of the row, as a backup holds it
        note_backup = ProgressNote.objects.get(patient_id=patient.pk)

    with _after(archived.retain_until):  # the last day kept: nothing happens yet
        assert engine.run()[0].destroyed == []
    with tenant_context(practice_id=patient.practice_id):
        assert Patient.objects.filter(pk=patient.pk).exists()

    with _after(archived.retain_until + datetime.timedelta(days=1)):
        report = engine.run(practice_id=world.a.practice.id)[0]
    assert report.destroyed == [patient.pk]

    assert tombstones.is_shredded(str(patient.pk))
    with tenant_context(practice_id=patient.practice_id):
        assert all(k.wrapped_keyset is None for k in SubjectKey.objects.filter(subject_id=patient.pk))
        assert not Patient.objects.filter(pk=patient.pk).exists()
        assert not ProgressNote.objects.filter(patient_id=patient.pk).exists()
        assert not RightsRequest.objects.filter(patient_id=patient.pk).exists()
        assert not BlindIndexEntry.objects.filter(subject_id=patient.pk).exists()
        archived.refresh_from_db()
        assert archived.destroyed_at is not None  # ids and dates only remain
    with tenant_context(practice_id=patient.practice_id), allow(CHART | {"health.notes"}):
        assert is_erased(backup.given_name) and is_erased(backup.email) and is_erased(backup.medications)
        assert is_erased(note_backup.content)
    destroyed = AuditEntry.objects.filter(event=AuditEvent.RECORD_DESTROYED).get()
    assert destroyed.subject_id == patient.pk and destroyed.detail["rows"]["records.patient"] == 1
    run_entry = AuditEntry.objects.filter(event=AuditEvent.RETENTION_RUN).order_by("id").last()
    assert run_entry.detail["destroyed"] == 1 and run_entry.detail["destroyed_ids"] == [str(patient.pk)]
    # The log itself is kept (ids only): the deletion's entries are still there.
    assert AuditEntry.objects.filter(event=AuditEvent.DELETION_STEP, subject_id=patient.pk).count() == 3


def test_ret2_a_legal_hold_suspends_destruction_until_released(world, portal, officer):
    patient = portal.adult.patient
    archived = _delete(officer, patient)
    hold = engine.do_set_hold(actor=officer, patient_id=patient.pk, reason="subpoena")
    later = archived.retain_until + datetime.timedelta(days=30)
    with _after(later):
        assert engine.next_run(world.a.practice.id).held == [patient.pk]
        report = engine.run(practice_id=world.a.practice.id)[0]
    assert report.held == [patient.pk] and report.destroyed == []
    assert not tombstones.is_shredded(str(patient.pk))
    engine.do_release_hold(actor=officer, hold_id=hold.pk)
    with _after(later):
        assert engine.run(practice_id=world.a.practice.id)[0].destroyed == [patient.pk]
    set_entry = AuditEntry.objects.get(event=AuditEvent.LEGAL_HOLD_SET)
    assert set_entry.detail == {"reason": "subpoena"} and set_entry.resource_ids == [str(hold.pk)]
    assert AuditEntry.objects.filter(event=AuditEvent.LEGAL_HOLD_RELEASED).count() == 1


def test_ret2_a_closed_account_is_archived_by_the_next_run_and_its_date_fixed(world, make_patient, officer, staff):
    patient = make_patient()
    add_preferences(patient)
    engine.do_close_account(actor=officer, patient_id=patient.pk)
    engine.do_close_account(actor=officer, patient_id=patient.pk)  # twice: one closure
    assert engine.run(dry_run=True, practice_id=world.a.practice.id)[0].archived == [patient.pk]
    with tenant_context(practice_id=world.a.practice.id):
        assert Patient.objects.get(pk=patient.pk).is_active  # the dry run changed nothing

    report = engine.run(practice_id=world.a.practice.id)[0]
    assert report.archived == [patient.pk]
    assert engine.run(practice_id=world.a.practice.id)[0].archived == []  # once
    with tenant_context(practice_id=world.a.practice.id):
        row = ArchivedRecord.objects.get(patient_id=patient.pk)
        assert not Patient.objects.get(pk=patient.pk).is_active
        assert row.retain_until == row.last_service_on.replace(year=row.last_service_on.year + 7)
    assert AuditEntry.objects.filter(event=AuditEvent.RECORD_CLOSED).count() == 1


def test_ret2_the_command_prints_references_and_counts_never_names(world, portal, officer, capsys):
    patient = portal.adult.patient
    archived = _delete(officer, patient)
    with _after(archived.retain_until + datetime.timedelta(days=1)):
        call_command("retention", "run", "--dry-run")
        out = capsys.readouterr().out
        assert "would archive 0, destroy 1, hold 0" in out and engine.reference(patient.pk) in out
        assert "Ada" not in out
        with tenant_context(practice_id=world.a.practice.id):
            assert Patient.objects.filter(pk=patient.pk).exists()
        call_command("retention", "run")
    assert "did archive 0, destroy 1" in capsys.readouterr().out


def test_the_schedule_is_audited_and_shows_what_the_next_run_does(world, portal, officer):
    archived = _delete(officer, portal.adult.patient)
    schedule = engine.get_schedule(actor=officer)
    assert [r.patient_id for r in schedule.rows] == [archived.patient_id]
    assert schedule.rows[0].retain_until == archived.retain_until and schedule.rows[0].next_run == ""
    assert AuditEntry.objects.filter(event=AuditEvent.RETENTION_VIEWED).count() == 1


def test_holds_bad_input_and_permissions(world, portal, officer, staff, make_patient):
    patient = portal.adult.patient
    with pytest.raises(InvalidInput, match="Choose why"):
        engine.do_set_hold(actor=officer, patient_id=patient.pk, reason="because")
    with pytest.raises(NotFound):
        engine.do_set_hold(actor=officer, patient_id="nonsense", reason="litigation")
    other_practice_patient = make_patient(where=world.b)
    with pytest.raises(NotFound):
        engine.do_set_hold(actor=officer, patient_id=other_practice_patient.pk, reason="litigation")
    with pytest.raises(Forbidden):
        engine.do_set_hold(actor=staff(Role.CLINICIAN), patient_id=patient.pk, reason="litigation")
    with pytest.raises(Forbidden):
        engine.get_schedule(actor=staff(Role.FRONT_DESK))
    hold = engine.do_set_hold(actor=officer, patient_id=patient.pk, reason="litigation")
    with pytest.raises(InvalidInput, match="already on legal hold"):
        engine.do_set_hold(actor=officer, patient_id=patient.pk, reason="complaint")
    engine.do_release_hold(actor=officer, hold_id=hold.pk)
    with pytest.raises(InvalidInput, match="already released"):
        engine.do_release_hold(actor=officer, hold_id=hold.pk)
    with pytest.raises(NotFound):
        engine.do_release_hold(actor=officer, hold_id="nonsense")
    with tenant_context(practice_id=world.a.practice.id):
        assert LegalHold.objects.count() == 1
        assert NotificationPreference.objects.count() == 0


def test_ret2_a_patient_with_consent_history_is_destroyed_and_the_append_only_ledger_kept_unreadable(world, portal, officer):
    from confide.consent.models import ConsentEvent
    from tests.consent.helpers import by_phone

    patient = portal.adult.patient
    by_phone(world.a, patient.pk, "phi_by_email")
    archived = _delete(officer, patient)
    with _after(archived.retain_until + datetime.timedelta(days=1)):
        assert engine.run(practice_id=world.a.practice.id)[0].destroyed == [patient.pk]
    with tenant_context(practice_id=world.a.practice.id):
        assert ConsentEvent.objects.filter(patient_id=patient.pk).count() == 1  # the ledger is append-only
        row = Patient.objects.get(pk=patient.pk)
        assert not row.is_active and row.__dict__["given_name"] is None and row.__dict__["email"] is None
        assert not RightsRequest.objects.filter(patient_id=patient.pk).exists()
    assert tombstones.is_shredded(str(patient.pk))
    with tenant_context(practice_id=world.a.practice.id), allow(CHART):
        assert Patient.objects.get(pk=patient.pk).given_name in (None, "") or is_erased(Patient.objects.get(pk=patient.pk).given_name)
