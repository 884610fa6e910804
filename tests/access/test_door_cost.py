"""Issue 13, the door's cost: a reading opening is the membership (with the policy number), the
patient (with its key generation) and its audit entry; the keyset, the declaration in force and
the unrecorded-change check cost nothing more once warm. What must not get cheaper with them: a
cached keyset is never used past its generation, its time to live, or without the door's
generation; a write in a reading block is still caught."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from confide.access.door import open_chart
from confide.access.errors import AccessRefused
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from confide.vault import keys
from confide.vault.allowance import allow
from confide.vault.fields import Sealed, is_erased
from confide.vault.models import SubjectKey

AUDIT_TABLES = ('"audit_', "confide.audit_chain", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN")


def _door_reads(queries) -> list[str]:
    """The statements of an opening other than its audit entry's (being made one INSERT by the
    audit log's own work) and transaction control."""
    return [q["sql"] for q in queries if not any(mark in q["sql"][:200] for mark in AUDIT_TABLES)]


def _open_and_read(actor, patient_id, **kwargs) -> tuple[str, list[dict]]:
    with CaptureQueriesContext(connection) as captured:
        with open_chart(actor, patient_id, Purpose.TREATMENT, **kwargs) as chart:
            name = chart.patient.given_name
            _ = chart.patient.phone, chart.patient.allergies, chart.patient.medications, chart.patient.date_of_birth
    return name, captured.captured_queries


def test_a_reading_opening_is_two_reads_and_one_entry_once_warm(world, staff, make_patient, django_capture_on_commit_callbacks):
    patient = make_patient()
    clinician = staff(Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        with django_capture_on_commit_callbacks(execute=True):  # the block's commit fills the process cache
            _, cold = _open_and_read(clinician, patient.id)
        name, warm = _open_and_read(clinician, patient.id)
    assert name == "Marisol"
    reads = _door_reads(warm)
    assert len(reads) == 2, reads
    assert reads[0].startswith('SELECT "accounts_membership"."role"') and "policy_policyversion" in reads[0]
    assert reads[1].startswith('SELECT "records_patient"') and "vault_subjectkey" in reads[1]
    assert sum(q["sql"].startswith('INSERT INTO "audit_auditentry"') for q in warm) == 1
    # Cold: the keyset is read once (subject and practice key rows); never the policy's JSON.
    assert not any('"policy_policyversion"."resolved"' in q["sql"] for q in cold + warm)
    assert len(_door_reads(cold)) <= 4


def test_a_shred_committed_by_another_process_is_not_read_through_the_cache(
    world, staff, make_patient, django_capture_on_commit_callbacks
):
    """What another process's shred leaves in this database: every key row destroyed and its
    generation bumped; this process's cache and tombstone file untouched. A read that passes
    the door's generation to the vault reads erased; so does one that does not (no cache)."""
    patient = make_patient()
    clinician = staff(Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        with django_capture_on_commit_callbacks(execute=True):
            _open_and_read(clinician, patient.id)
        assert (patient.id, 1) in keys._process
        SubjectKey.objects.filter(subject_id=patient.id).update(
            wrapped_keyset=None, state=SubjectKey.State.DESTROYED, generation=F("generation") + 1
        )
        name, _ = _open_and_read(clinician, patient.id)
        assert is_erased(name)
        row = Patient.objects.get(pk=patient.id)
        with allow({"identifiers.name"}, subjects={patient.id}):
            assert is_erased(row.given_name)


def test_a_read_without_the_doors_generation_never_uses_the_process_cache(
    world, staff, make_patient, django_capture_on_commit_callbacks
):
    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id):
        with django_capture_on_commit_callbacks(execute=True):
            _open_and_read(staff(Role.CLINICIAN), patient.id)
        row = Patient.objects.get(pk=patient.id)
        with CaptureQueriesContext(connection) as captured, allow({"identifiers.name"}, subjects={patient.id}):
            assert row.given_name == "Marisol"
    assert any(q["sql"].startswith('SELECT "vault_subjectkey".') and '"vault_subjectkey"' in q["sql"] for q in captured.captured_queries)


def test_a_cached_keyset_expires_after_its_time_to_live(
    monkeypatch, settings, world, staff, make_patient, django_capture_on_commit_callbacks
):
    settings.CONFIDE_KEY_CACHE_SECONDS = 60
    now = [1000.0]
    monkeypatch.setattr(keys.time, "monotonic", lambda: now[0])
    patient = make_patient()
    clinician = staff(Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        with django_capture_on_commit_callbacks(execute=True):
            _open_and_read(clinician, patient.id)
        now[0] += 59
        _, within = _open_and_read(clinician, patient.id)
        now[0] += 2
        _, past = _open_and_read(clinician, patient.id)
    assert not any('SELECT "vault_subjectkey".' in q["sql"] for q in within)
    assert any('SELECT "vault_subjectkey".' in q["sql"] for q in past)
    assert (patient.id, 1) not in keys._process  # the expired entry is dropped, not kept


def test_no_process_cache_when_its_time_to_live_is_zero(settings, world, staff, make_patient, django_capture_on_commit_callbacks):
    settings.CONFIDE_KEY_CACHE_SECONDS = 0
    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id), django_capture_on_commit_callbacks(execute=True):
        _open_and_read(staff(Role.CLINICIAN), patient.id)
        _, again = _open_and_read(staff(Role.CLINICIAN), patient.id)
    assert not keys._process
    assert any('SELECT "vault_subjectkey".' in q["sql"] for q in again)


def test_a_key_made_in_a_transaction_that_rolls_back_is_never_cached(world, staff, make_patient, django_capture_on_commit_callbacks):
    """The process cache fills on commit only: a keyset read inside a transaction that is then
    rolled back (here: a key made for a patient who is never saved) stays out of it."""
    import uuid

    from django.db import transaction

    subject = uuid.uuid4()
    with tenant_context(practice_id=world.a.practice.id), django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic(), allow({"identifiers.name"}):
            keys.note_generation(subject, 1)
            keys.subject_aead(world.a.practice.id, subject)
            keys.subject_aead(world.a.practice.id, subject)  # read back in the same transaction
            raise RuntimeError("the action failed")
    assert not any(k[0] == subject for k in keys._process)


def test_a_reading_block_that_writes_the_patient_behind_the_instances_back_is_refused(world, staff, make_patient):
    """The reading block is checked only if it wrote to the patients' table; a queryset update
    (no instance, no save) is such a write and is caught and rolled back."""
    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id):
        other = Patient.objects.filter(pk=patient.id).values_list("phone_other", flat=True).first()
        with pytest.raises(AccessRefused) as caught:
            with open_chart(staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT) as chart:
                assert chart.patient.phone == "+14155550142"
                Patient.objects.filter(pk=patient.id).update(phone=Sealed(other))
        assert caught.value.code == "change_without_reason"
        assert Patient.objects.filter(pk=patient.id).values_list("phone", flat=True).first() != other


def test_a_reading_block_that_writes_elsewhere_does_not_reread_the_patient(world, staff, make_patient):
    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id):
        with CaptureQueriesContext(connection) as captured:
            with open_chart(staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT, categories={"contact.phone"}) as chart:
                assert chart.patient.phone == "+14155550142"
    patient_reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('SELECT "records_patient"')]
    assert len(patient_reads) == 1  # the checks' read only: no re-read in the block, none after it


def test_a_purpose_that_needs_consent_reads_the_ledger_length_with_the_patient(world, staff, make_patient):
    """Marketing: the grants come from the process cache while the patient's ledger length, read
    with the patient, is unchanged; a withdrawal lengthens it and is in force at once."""
    from tests.consent.helpers import by_phone

    patient = make_patient()
    owner = staff(Role.OWNER)
    wanted = {"identifiers.name", "contact.email"}
    with tenant_context(practice_id=world.a.practice.id):
        by_phone(world.a, patient.id, "marketing_email")
        with open_chart(owner, patient.id, Purpose.MARKETING, categories=wanted) as chart:
            assert chart.patient.email == "marisol@example.test"
        with CaptureQueriesContext(connection) as captured:
            with open_chart(owner, patient.id, Purpose.MARKETING, categories=wanted):
                pass
        reads = _door_reads(captured.captured_queries)
        assert len(reads) == 2 and "consent_consentevent" in reads[1], reads
        by_phone(world.a, patient.id, "marketing_email", "withdraw")
        with pytest.raises(AccessRefused) as caught, open_chart(owner, patient.id, Purpose.MARKETING, categories=wanted):
            pass
        assert caught.value.code == "consent_required"
