"""SEC1: PHI fields are encrypted under the subject's key, bound to table, column and row."""

import datetime

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from confide.records.models import Patient
from confide.records.services import CHART
from confide.vault.allowance import allow
from confide.vault.errors import DecryptionFailed, PHIAccessDenied, RefusedOperation
from confide.vault.fields import Sealed
from tests.conftest import CANARIES


def _raw(patient_id, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM records_patient WHERE id = %s", [patient_id.hex if connection.vendor == "sqlite" else patient_id])
        return cursor.fetchone()[0]


def test_sec1_fields_are_stored_as_ciphertext_and_read_back_inside_an_allowance(make_patient):
    patient = make_patient(given_name=CANARIES["name"], email=CANARIES["email"], date_of_birth=datetime.date(1961, 7, 23),
                           medications=[{"id": "m1", "name": "sertraline", "dose": "50 mg"}])
    stored = _raw(patient.id, "email")
    assert stored.startswith("cv1:s:1:")
    assert CANARIES["email"] not in stored
    fresh = Patient.objects.get(id=patient.id)
    with allow(CHART):
        assert fresh.email == CANARIES["email"]
        assert fresh.date_of_birth == datetime.date(1961, 7, 23)
        assert [(m["id"], m["name"], m["dose"]) for m in fresh.medications] == [("m1", "sertraline", "50 mg")]


def test_reading_outside_an_allowance_is_denied(make_patient):
    patient = make_patient(email=CANARIES["email"])
    fresh = Patient.objects.get(id=patient.id)
    with pytest.raises(PHIAccessDenied):
        fresh.email
    with allow({"identifiers.name"}), pytest.raises(PHIAccessDenied):
        fresh.email  # the wrong category is no better than none


def test_a_category_grants_its_descendants(make_patient):
    patient = Patient.objects.get(id=make_patient(medications=[{"name": "x"}]).id)
    with allow({"health"}):
        assert [m["name"] for m in patient.medications] == ["x"]


def test_ciphertext_copied_to_another_row_does_not_open(make_patient):
    first = make_patient(email="one@example.test")
    second = make_patient(email="two@example.test")
    Patient.objects.filter(id=second.id).update(email=Sealed(_raw(first.id, "email")))
    with allow(CHART), pytest.raises(DecryptionFailed):
        Patient.objects.get(id=second.id).email


def test_ciphertext_copied_to_another_column_does_not_open(make_patient):
    patient = make_patient(email="one@example.test", phone="+1 555 010 0000")
    Patient.objects.filter(id=patient.id).update(phone=Sealed(_raw(patient.id, "email")))
    with allow(CHART), pytest.raises(DecryptionFailed):
        Patient.objects.get(id=patient.id).phone


def test_a_tampered_ciphertext_does_not_open(make_patient):
    patient = make_patient(email="one@example.test")
    stored = _raw(patient.id, "email")
    tampered = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
    Patient.objects.filter(id=patient.id).update(email=Sealed(tampered))
    with allow(CHART), pytest.raises(DecryptionFailed):
        Patient.objects.get(id=patient.id).email


def test_filtering_and_ordering_on_ciphertext_are_refused(make_patient):
    make_patient()
    with pytest.raises(FieldError, match="encrypted"):
        Patient.objects.filter(email="a@example.test")
    with pytest.raises(FieldError, match="encrypted"):
        Patient.objects.filter(email__icontains="a")
    with pytest.raises(FieldError, match="encrypted"):
        Patient.objects.order_by("-family_name")
    assert Patient.objects.filter(email__isnull=True).count() == 1


def test_writing_outside_an_allowance_is_denied(in_practice_a, world):
    patient = Patient(practice_id=world.a.practice.id, given_name="Ada")
    with pytest.raises(PHIAccessDenied):
        patient.save()


def test_writing_plaintext_past_the_field_in_an_update_is_refused(make_patient):
    patient = make_patient()
    with pytest.raises(RefusedOperation):
        Patient.objects.filter(id=patient.id).update(email="plain@example.test")
