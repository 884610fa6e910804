"""RTS4/RET3: crypto-shredding makes a patient's data unreadable everywhere, and only theirs."""

import pytest

from confide.records.models import Patient
from confide.records.services import CHART, do_shred_patient, search_patients
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.vault import tombstones
from confide.vault.allowance import allow
from confide.vault.fields import ERASED, is_erased
from confide.vault.models import SubjectKey


def test_rts4_shredded_patient_reads_as_erased_and_others_are_untouched(make_patient, in_practice_a, world):
    gone = make_patient(email="gone@example.test", given_name="Gone")
    kept = make_patient(email="kept@example.test", given_name="Kept")
    do_shred_patient(practice_id=world.a.practice.id, patient_id=gone.id)
    with allow(CHART):
        erased = Patient.objects.get(id=gone.id)
        assert is_erased(erased.email) and erased.given_name == ERASED and str(erased.email) == "[erased]"
        assert Patient.objects.get(id=kept.id).email == "kept@example.test"
    assert SubjectKey.objects.get(subject_id=gone.id).wrapped_keyset is None
    assert search_patients(in_practice_a, "gone@example.test") == []
    assert tombstones.is_shredded(str(gone.id))
    event = AuditEntry.objects.get(event=AuditEvent.SUBJECT_SHREDDED)
    assert (event.chain, event.subject_id, event.actor_kind, event.actor_id) == (str(world.a.practice.id), gone.id, "system", "keys-command")
    assert event.detail == {"key_versions_destroyed": 1}


def test_a_restored_pre_shred_key_still_cannot_open_the_data(make_patient, in_practice_a, world):
    patient = make_patient(email="gone@example.test")
    backup = bytes(SubjectKey.objects.get(subject_id=patient.id).wrapped_keyset)  # "the backup"
    do_shred_patient(practice_id=world.a.practice.id, patient_id=patient.id)
    # Restore the key row as a database backup taken before the shred would.
    SubjectKey.objects.filter(subject_id=patient.id).update(wrapped_keyset=backup, state="active", destroyed_at=None)
    with allow(CHART):
        assert is_erased(Patient.objects.get(id=patient.id).email)


def test_writing_to_a_shredded_patient_is_refused(make_patient, in_practice_a, world):
    from confide.vault.keys import SubjectErased

    patient = make_patient()
    do_shred_patient(practice_id=world.a.practice.id, patient_id=patient.id)
    with allow(CHART), pytest.raises(SubjectErased):
        fresh = Patient.objects.get(id=patient.id)
        fresh.email = "new@example.test"
        fresh.save()


def test_a_value_left_on_a_version_retired_by_rotation_is_an_error_not_an_erasure(make_patient, in_practice_a, world):
    from confide.vault import keys
    from confide.vault.errors import DecryptionFailed

    patient = make_patient(email="left@example.test")
    keys.new_subject_key(world.a.practice.id, patient.id, 2)
    SubjectKey.objects.filter(subject_id=patient.id, version=1).update(wrapped_keyset=None, state="destroyed")
    with allow(CHART), pytest.raises(DecryptionFailed, match="retired by rotation"):
        Patient.objects.get(id=patient.id).email
