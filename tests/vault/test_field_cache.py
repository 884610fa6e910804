"""An encrypted attribute is decrypted once per model instance, and the allowance still governs
every read of it: a remembered plaintext is refused outside the allowance, erased after a
shred, and forgotten when the attribute is assigned or the row refreshed (confide/vault/fields.py)."""

import copy
import pickle

import pytest

from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from confide.records.services import CHART, do_shred_patient
from confide.vault import keys, tombstones
from confide.vault.allowance import allow
from confide.vault.errors import PHIAccessDenied, VaultError
from confide.vault.fields import ERASED, is_erased
from tests.conftest import CANARIES
from tests.vault.decrypts import decrypts, opened  # noqa: F401 (decrypts is a fixture)


def test_an_attribute_is_decrypted_once_per_instance(make_patient, decrypts):
    patient = Patient.objects.get(id=make_patient(email=CANARIES["email"]).id)
    with allow(CHART):
        assert [patient.email for _ in range(3)] == [CANARIES["email"]] * 3
    with allow(CHART):  # a later allowance (a later request holding the same instance) too
        assert patient.email == CANARIES["email"]
    assert opened(decrypts, "records_patient", "email") == 1


def test_a_remembered_value_is_refused_outside_the_allowance(make_patient):
    patient = Patient.objects.get(id=make_patient(email=CANARIES["email"]).id)
    other = make_patient(email="other@example.test")
    with allow(CHART):
        assert patient.email == CANARIES["email"]
    with pytest.raises(PHIAccessDenied):
        patient.email
    with allow({"identifiers.name"}), pytest.raises(PHIAccessDenied):
        patient.email  # another category
    with allow(CHART, subjects={other.id}), pytest.raises(PHIAccessDenied):
        patient.email  # an allowance bound to another patient
    with allow({"contact.email"}, subjects={patient.id}):
        assert patient.email == CANARIES["email"]


def test_a_remembered_value_reads_as_erased_once_the_subject_is_shredded(make_patient, world):
    patient = Patient.objects.get(id=make_patient(email=CANARIES["email"]).id)
    with allow(CHART):
        assert patient.email == CANARIES["email"]
        keys.shred_subject(world.a.practice.id, patient.id)  # in the same allowance: its key cache drops the key
        assert patient.email is ERASED and patient.given_name is ERASED


def test_a_remembered_value_reads_as_erased_in_a_later_allowance_after_a_shred(make_patient, world):
    patient = Patient.objects.get(id=make_patient(email=CANARIES["email"]).id)
    with allow(CHART):
        assert patient.email == CANARIES["email"]
    do_shred_patient(practice_id=world.a.practice.id, patient_id=patient.id)
    with allow(CHART):
        assert is_erased(patient.email)


def test_a_remembered_value_is_dropped_when_the_subject_key_is_forgotten(make_patient):
    """Rotation forgets a subject's cached keys when its versions change: the next read asks again."""
    patient = Patient.objects.get(id=make_patient(email=CANARIES["email"]).id)
    with allow(CHART):
        assert patient.email == CANARIES["email"]
        keys.forget_cached_subject(patient.id)
        tombstones.record(str(patient.id))  # a shred recorded by another process, seen on the key's next lookup
        assert is_erased(patient.email)


def test_assigning_an_attribute_replaces_the_remembered_value(make_patient):
    patient = Patient.objects.get(id=make_patient(email=CANARIES["email"]).id)
    with allow(CHART):
        assert patient.email == CANARIES["email"]
        patient.email = "new@example.test"
        assert patient.email == "new@example.test"
        patient.save()
        assert patient.email == "new@example.test"
        assert Patient.objects.get(id=patient.id).email == "new@example.test"


def test_refresh_from_db_replaces_the_remembered_value(make_patient):
    mine = Patient.objects.get(id=make_patient(email=CANARIES["email"]).id)
    theirs = Patient.objects.get(id=mine.id)
    with allow(CHART):
        assert mine.email == CANARIES["email"]
        theirs.email = "changed@example.test"
        theirs.save()
        assert mine.email == CANARIES["email"]  # this copy of the row is older: as before
        mine.refresh_from_db()
        assert mine.email == "changed@example.test"
        mine.refresh_from_db(fields=["email"])
        assert mine.email == "changed@example.test"


def test_a_ciphertext_put_in_place_directly_is_opened_afresh(make_patient):
    """Rotation and subject moves write Sealed values straight into the instance: what is
    remembered belongs to the ciphertext it was opened from, never to the attribute name."""
    first = Patient.objects.get(id=make_patient(email="one@example.test").id)
    second = Patient.objects.get(id=first.id)
    with allow(CHART):
        assert first.email == "one@example.test"
        second.email = "two@example.test"
        second.save()
        first.__dict__["email"] = Patient.objects.get(id=first.id).__dict__["email"]
        assert first.email == "two@example.test"


def test_a_json_value_is_never_shared_between_reads(make_patient, decrypts):
    patient = Patient.objects.get(id=make_patient(medications=[{"id": "m1", "name": "sertraline"}]).id)
    with allow(CHART):
        medications = patient.medications
        assert [m["name"] for m in medications] == ["sertraline"]
        medications.append({"id": "m2", "name": "edited in place, never saved"})
        assert [m["name"] for m in patient.medications] == ["sertraline"]
        assert patient.medications is not patient.medications
    assert opened(decrypts, "records_patient", "medications") == 1


def test_a_remembered_value_is_not_used_in_another_practice_context(make_patient, world):
    patient = Patient.objects.get(id=make_patient(email=CANARIES["email"]).id)
    with allow(CHART):
        assert patient.email == CANARIES["email"]
        with tenant_context(practice_id=world.b.practice.id), pytest.raises(VaultError, match="own practice"):
            patient.email
        assert patient.email == CANARIES["email"]  # back in its own practice's context


def test_a_pickled_or_copied_instance_carries_no_plaintext(make_patient, decrypts):
    patient = Patient.objects.get(id=make_patient(email=CANARIES["email"]).id)
    with allow(CHART):
        assert patient.email == CANARIES["email"]
        assert CANARIES["email"].encode() not in pickle.dumps(patient)
        clone = pickle.loads(pickle.dumps(patient))
        assert clone.email == CANARIES["email"]  # opened again from its ciphertext
        assert copy.deepcopy(patient).email == CANARIES["email"]
    assert opened(decrypts, "records_patient", "email") == 3
