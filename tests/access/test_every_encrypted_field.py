"""Walk every model: each encrypted field, loaded fresh from the database, raises
PHIAccessDenied when read outside an open door. A new model with encrypted fields fails this
test until a way to make one through its services is added to MAKERS."""

from __future__ import annotations

import pytest
from django.apps import apps

from confide.access.door import open_chart
from confide.access.models import BreakGlassReason
from confide.access.purposes import Purpose
from confide.consent.models import ConsentEvidence
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from confide.vault.errors import PHIAccessDenied
from confide.vault.fields import Sealed, encrypted_fields


def _patient(world, staff, make_patient):
    return make_patient()


def _break_glass_reason(world, staff, make_patient):
    patient = make_patient()
    with open_chart(staff(Role.CLINICIAN), patient.id, Purpose.OPERATIONS, categories={"health.background"},
                    break_glass_reason="Emergency: the history is needed now"):  # fmt: skip
        pass
    with tenant_context(practice_id=world.a.practice.id):
        return BreakGlassReason.objects.get(patient_id=patient.id)


def _consent_evidence(world, staff, make_patient):
    from django.test import RequestFactory

    from confide.consent.actors import PatientActor
    from confide.consent.models import ConsentEvidence
    from confide.consent.services import Subject, do_grant

    patient = make_patient()
    request = RequestFactory().post("/portal/choices/", REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="Mozilla/5.0 Firefox/140.0")
    event = do_grant(
        actor=PatientActor(world.a.practice.id, patient.id), subject=Subject.patient(world.a.practice.id, patient.id),
        topic="marketing_email", channel="portal", method="form_button", shown_text="News by e-mail? [Yes]", request=request,
    )  # fmt: skip
    with tenant_context(practice_id=world.a.practice.id):
        return ConsentEvidence.objects.get(event=event)


MAKERS = {Patient: _patient, BreakGlassReason: _break_glass_reason, ConsentEvidence: _consent_evidence}


def _models_with_encrypted_fields():
    return sorted((m for m in apps.get_models() if encrypted_fields(m)), key=lambda m: m._meta.label)


def test_every_model_with_encrypted_fields_has_a_maker():
    assert set(_models_with_encrypted_fields()) == set(MAKERS), "add a maker for the new model to MAKERS"


@pytest.mark.parametrize("model", _models_with_encrypted_fields(), ids=lambda m: m._meta.label)
def test_reading_any_encrypted_field_outside_an_open_door_raises(world, staff, make_patient, model):
    made = MAKERS[model](world, staff, make_patient)
    with tenant_context(practice_id=world.a.practice.id):
        fresh = model._default_manager.get(pk=made.pk)
    fields = encrypted_fields(model)
    assert fields
    for field in fields:
        assert isinstance(fresh.__dict__[field.attname], Sealed), f"{field.name}: the maker must fill every encrypted field"
        with pytest.raises(PHIAccessDenied):
            getattr(fresh, field.name)
        with pytest.raises(PHIAccessDenied):
            getattr(made, field.name)  # the instance the service returned holds plaintext: still refused
    # Nor inside a door opened for another patient with every category it could grant.
    other = make_patient(given_name="Other")
    with open_chart(staff(Role.CLINICIAN), other.id, Purpose.TREATMENT):
        for field in fields:
            with pytest.raises(PHIAccessDenied):
                getattr(fresh, field.name)
