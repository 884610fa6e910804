"""Walk every model: each encrypted field, loaded fresh from the database, raises
PHIAccessDenied when read outside an open door. A new model with encrypted fields fails this
test until a way to make one through its services is added to MAKERS."""

from __future__ import annotations

import pytest
from django.apps import apps

from confide.access.door import open_chart
from confide.access.models import BreakGlassReason
from confide.core.purposes import Purpose
from confide.consent.models import ConsentEvidence
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import Addendum, Document, IntakeSubmission, Patient, Photo, ProgressNote, PsychotherapyAddendum, PsychotherapyNote, RepresentativeDocument
from confide.rights.models import RightsRequest
from confide.vault.errors import PHIAccessDenied
from confide.vault.fields import Sealed, encrypted_fields


def _patient(world, staff, make_patient):
    from confide.records.services import do_update_patient
    from tests.access.conftest import BILLING_EXTRA, REGISTRATION_EXTRA

    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id):
        do_update_patient(actor=staff(Role.FRONT_DESK), patient_id=patient.id, reason="patient_request", **REGISTRATION_EXTRA)
        return do_update_patient(actor=staff(Role.BILLING), patient_id=patient.id, reason="patient_request", **BILLING_EXTRA)


def _break_glass_reason(world, staff, make_patient):
    patient = make_patient()
    with open_chart(staff(Role.CLINICIAN), patient.id, Purpose.OPERATIONS, categories={"health.background"},
                    break_glass_reason="Emergency: the history is needed now"):  # fmt: skip
        pass
    with tenant_context(practice_id=world.a.practice.id):
        return BreakGlassReason.objects.get(patient_id=patient.id)


def _in_a(world, make):
    with tenant_context(practice_id=world.a.practice.id):
        return make()


def _signed_note(world, staff, make_patient):
    from confide.records import notes

    clinician = staff(Role.CLINICIAN)
    note = _in_a(world, lambda: notes.do_create_note(actor=clinician, patient_id=make_patient().id, content={"subjective": "Worse at night"}))
    return _in_a(world, lambda: notes.do_sign_note(actor=clinician, note_id=note.pk))


def _addendum(world, staff, make_patient):
    from confide.records import notes

    note = _signed_note(world, staff, make_patient)
    return _in_a(world, lambda: notes.do_add_addendum(actor=staff(Role.CLINICIAN), note_id=note.pk, text="Also: wheeze on exertion"))


def _psychotherapy_note(world, staff, make_patient):
    from confide.records import notes

    return _in_a(world, lambda: notes.do_create_psychotherapy_note(actor=staff(Role.CLINICIAN), patient_id=make_patient().id, text="Session 3"))


def _psychotherapy_addendum(world, staff, make_patient):
    from confide.records import notes

    clinician = staff(Role.CLINICIAN)
    note = _psychotherapy_note(world, staff, make_patient)
    _in_a(world, lambda: notes.do_sign_psychotherapy_note(actor=clinician, patient_id=note.patient_id, note_id=note.pk))
    return _in_a(world, lambda: notes.do_add_psychotherapy_addendum(actor=clinician, patient_id=note.patient_id, note_id=note.pk, text="Later"))


def _file(kind):
    def make(world, staff, make_patient):
        from confide.records.files import do_add_file
        from tests.records.uploads import png_upload

        return _in_a(world, lambda: do_add_file(actor=staff(Role.CLINICIAN), patient_id=make_patient().id, kind=kind,
                                                upload=png_upload(), title=f"A {kind}"))  # fmt: skip

    return make


def _representative_document(world, staff, make_patient):
    from confide.accounts.models import LinkKind
    from confide.records.representatives import do_attach_representative_document
    from tests.portal_world import link, make_portal_user
    from tests.records.uploads import pdf_upload

    child = make_patient()
    parent = link(make_portal_user("parent@every-field.test"), child, kind=LinkKind.REPRESENTATIVE, relationship="mother",
                  verified_by=world.a.owner)  # fmt: skip
    return _in_a(world, lambda: do_attach_representative_document(actor=staff(Role.FRONT_DESK), patient_id=child.id, link_id=parent.pk,
                                                                  upload=pdf_upload(), title="Guardianship order"))  # fmt: skip


def _own_link(patient, email: str):
    """The patient's own portal link: the existing one when another maker made it (one own link
    per record: portal_link_one_self_per_record), else a new account's."""
    from confide.accounts.models import PortalLink
    from tests.portal_world import link, make_portal_user

    with tenant_context(practice_id=patient.practice_id):
        existing = PortalLink.objects.filter(patient_id=patient.pk, kind="self").first()
    return existing or link(make_portal_user(email), patient)


def _rights_request(world, staff, make_patient):
    from confide.rights.services import check_open_request
    from tests.portal_world import actor_for, link, make_portal_user

    patient = make_patient()
    own = _own_link(patient, "patient@every-field.test")
    return _in_a(world, lambda: check_open_request(actor=actor_for(own), kind="copy", detail="Please send my record."))


def _consultation(world, staff, make_patient):
    from django.core.cache import cache

    from tests.records.consultations import submit

    cache.clear()
    return submit(world.a.practice, date_of_birth="2011-04-02", guardian_name="Rana Haddad", guardian_relationship="mother",
                  guardian_authorization="on")  # fmt: skip  (a minor: so the guardian field is filled too)


def _booking_request(world, staff, make_patient):
    """Part "booking": a website booking request by a guardian (so every sealed field is filled)."""
    from tests.directory.booking_world import booking_world, born, request_booking

    return request_booking(booking_world(world.a), date_of_birth=born(12), guardian_name="Rana Canarywood", guardian_relationship="mother",
                           guardian_email="rana@example.test", guardian_authorization="on")  # fmt: skip


def _consent_evidence(world, staff, make_patient):
    from django.test import RequestFactory

    from confide.consent.actors import PatientActor
    from confide.consent.models import ConsentEvidence
    from confide.access.consent import do_patient_choice
    from confide.consent.services import Subject

    patient = make_patient()
    request = RequestFactory().post("/portal/choices/", REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="Mozilla/5.0 Firefox/140.0")
    event = do_patient_choice(
        action="grant", actor=PatientActor(world.a.practice.id, patient.id), subject=Subject.patient(world.a.practice.id, patient.id),
        topic="marketing_email", channel="portal", method="form_button", shown_text="News by e-mail? [Yes]", request=request,
    )  # fmt: skip
    with tenant_context(practice_id=world.a.practice.id):
        return ConsentEvidence.objects.get(event=event)


def _unmatched_text(world, staff, make_patient):
    """A text from an unknown number, through the signed webhook (messaging inbound)."""
    from django.test import override_settings

    from confide.messaging.models import UnmatchedInbound
    from tests.messaging.inbound_helpers import BASE, TOKEN, give_number, text_in

    give_number(world.a.practice.id)
    with override_settings(CONFIDE_TWILIO_AUTH_TOKEN=TOKEN, CONFIDE_TWILIO_WEBHOOK_BASE=BASE):
        assert text_in("Is this the clinic?", sender="+12125550187").status_code == 200
    with tenant_context(practice_id=world.a.practice.id):
        return UnmatchedInbound.objects.get()


def _referral(world, staff, make_patient):
    """Directory part (DIR3): a colleague's referral, sealed under the practice key."""
    from confide.directory.services import do_refer

    return do_refer(actor=staff(Role.CLINICIAN), name="Morgan Referee", email="morgan.referee@example.test")


def _portal_message(world, staff, make_patient):
    from confide.messaging.services import send_message

    patient = make_patient()
    return _in_a(world, lambda: send_message(staff(Role.FRONT_DESK), patient_id=patient.id, channel="portal", topic="staff_reply",
                                             body="Your forms are ready."))  # fmt: skip


def _outbox_entry(world, staff, make_patient):
    import time_machine

    from confide.messaging.models import OutboxEntry
    from tests.messaging.conftest import deliver_now, local_time, messaging_world, send

    mw = messaging_world(world.a)
    with time_machine.travel(local_time(11), tick=False):
        deliver_now(send(mw, body="See you at 3."))
    with tenant_context(practice_id=world.a.practice.id):
        return OutboxEntry.objects.get()


def _disclosure(world, staff, make_patient):
    """The accounting of disclosures (issue 17): one records release, every sealed field filled."""
    from confide.disclosures.services import record_disclosure

    patient = make_patient()
    return record_disclosure(
        practice_id=world.a.practice.id, patient_id=patient.id, basis="other_provider", source="manual",
        recipient="Springfield Physical Therapy", recipient_address="1 Main St, Springfield",
        description="Visit notes of 2026", purpose="Continuing care at the patient's request",
    )


def _rights_letter(world, staff, make_patient):
    """A letter kept with a rights request (issue 17), its body sealed under the patient's key."""
    from confide.rights.letters import keep_letter

    request_row = _rights_request(world, staff, make_patient)
    return keep_letter(practice_id=world.a.practice.id, request_row=request_row, kind="acknowledgement",
                       template="rights/letters/acknowledgement.txt", context={})  # fmt: skip


def _identity_check(world, staff, make_patient):
    """Part "intake": a public-form request's identity check, every sealed field typed (no patient
    needs to match: the check seals under its own key)."""
    from django.utils import timezone

    from confide.core.models import Practice
    from confide.rights import intake
    from confide.rights.models import IdentityCheck

    practice = Practice.objects.get(pk=world.a.practice.id)
    data = {"kind": "copy", "role": "patient", "given_name": "Zebulon", "family_name": "Canarywood", "date_of_birth": "1961-07-23",
            "email": "zebulon.canary@phi-canary.test", "phone": "+1 415 555 0142", "detail": "canary-diagnosis-xyzzy"}  # fmt: skip
    with tenant_context(practice_id=practice.id):
        intake._file(practice=practice, typed=intake.check_public_form(practice.id, data), channel=intake.Channel.WEB_FORM,
                     received_at=timezone.now())  # fmt: skip
        return IdentityCheck.objects.get()


# amend part: an amendment (denied, with an explanation), the patient's statement of
# disagreement and the practice's rebuttal.
def _amendment_chain(world, staff, make_patient):
    from confide.rights import amendments
    from confide.rights.models import Rebuttal
    from confide.rights.services import check_open_request
    from tests.portal_world import actor_for, link, make_portal_user
    from tests.rights.amend_helpers import officer_with_phone

    made = getattr(world, "_amendment_chain", None)
    if made is not None:
        return made
    officer_with_phone(world.a)
    patient = make_patient()
    own = actor_for(_own_link(patient, "amend@every-field.test"))
    req = _in_a(world, lambda: check_open_request(actor=own, kind="correct", detail="Please fix my history."))
    amendment = _in_a(world, lambda: amendments.start_amendment(actor=staff(Role.CLINICIAN), request_id=req.pk,
                                                               target="field:health_background", expected_version=1))  # fmt: skip
    amendment = _in_a(world, lambda: amendments.deny_amendment(actor=staff(Role.CLINICIAN), request_id=req.pk, expected_version=2,
                                                   basis="accurate_complete", explanation="It records what you told us."))  # fmt: skip
    disagreement = amendments.file_disagreement(actor=own, amendment_id=amendment.pk, text="I disagree.")
    rebuttal = _in_a(world, lambda: amendments.write_rebuttal(actor=staff(Role.CLINICIAN), request_id=req.pk, text="We stand by it."))
    world._amendment_chain = {"amendment": amendment, "disagreement": disagreement, "rebuttal": rebuttal}
    assert isinstance(rebuttal, Rebuttal)
    return world._amendment_chain


MAKERS = {
    apps.get_model("rights", "IdentityCheck"): _identity_check,  # issue 17, part "intake"
    # amend part
    apps.get_model("rights", "Amendment"): lambda world, staff, make_patient: _amendment_chain(world, staff, make_patient)["amendment"],
    apps.get_model("rights", "Disagreement"): lambda world, staff, make_patient: _amendment_chain(world, staff, make_patient)["disagreement"],
    apps.get_model("rights", "Rebuttal"): lambda world, staff, make_patient: _amendment_chain(world, staff, make_patient)["rebuttal"],
    # issue 17: the accounting of disclosures, letters about rights requests
    apps.get_model("disclosures", "Disclosure"): _disclosure,
    apps.get_model("rights", "Letter"): _rights_letter,
    # messaging (issue 15): a portal message, a console text, an unmatched inbound text
    apps.get_model("messaging", "Message"): _portal_message,
    apps.get_model("messaging", "OutboxEntry"): _outbox_entry,
    apps.get_model("messaging", "UnmatchedInbound"): _unmatched_text,
    apps.get_model("directory", "Referral"): _referral,
    IntakeSubmission: _consultation,
    apps.get_model("directory", "BookingRequest"): _booking_request,  # part "booking"
    Patient: _patient,
    BreakGlassReason: _break_glass_reason,
    ProgressNote: _signed_note,
    Addendum: _addendum,
    PsychotherapyNote: _psychotherapy_note,
    PsychotherapyAddendum: _psychotherapy_addendum,
    Document: _file("document"),
    Photo: _file("photo"),
    RepresentativeDocument: _representative_document,
    RightsRequest: _rights_request,
    ConsentEvidence: _consent_evidence,
}


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
