"""Recording a disclosure by hand and producing a compelled package (DSC1, DSC2): every field
validated, nothing written on bad input; the compelled package recorded in the same transaction;
the patient's notice kept unless the law forbids it."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.disclosures import staff as disc
from confide.disclosures.models import Disclosure
from confide.rights.models import Letter, LetterKind, LetterStatus

GOOD = dict(
    basis="public_health", recipient="County Health Department", recipient_address="1 Main St\nOakland",
    description="Immunization record", purpose="Mandatory report of a notifiable disease", categories=["health.immunizations"],
)  # fmt: skip


def _count(world, model=Disclosure):
    with tenant_context(practice_id=world.a.practice.id):
        return model.objects.count()


def test_dsc1_the_privacy_officer_records_a_paper_release(world, staff, patient):
    made = disc.do_record_disclosure(actor=staff(Role.PRIVACY_OFFICER), patient_id=patient.pk, **GOOD)
    with tenant_context(practice_id=world.a.practice.id):
        row = Disclosure.objects.get(pk=made.pk)
        assert row.source == "manual" and row.basis == "public_health" and not row.compelled
        assert row.recorded_by_id == world.a.users[Role.PRIVACY_OFFICER].pk
        assert AuditEntry.objects.filter(event=AuditEvent.DISCLOSURE_RECORDED, subject_id=patient.pk).count() == 1
    data = disc.get_patient_disclosures(actor=staff(Role.PRIVACY_OFFICER), patient_id=patient.pk)
    assert [e.recipient for e in data.accounting.entries] == ["County Health Department"]
    assert data.patient_name == "Marisol Quintero"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"basis": "gossip"}, "basis"),
        ({"recipient": ""}, "Recipient is required"),
        ({"recipient": "x" * 301}, "at most"),
        ({"recipient": "two\nlines"}, "Recipient"),
        ({"description": ""}, "What was disclosed is required"),
        ({"purpose": ""}, "Purpose is required"),
        ({"categories": ["health.psychotherapy_notes_nope"]}, "from the list"),
        ({"disclosed_on": datetime.date(2099, 1, 1)}, "future"),
        ({"notice_forbidden": True, "notice_forbidden_until": datetime.date(2000, 1, 1), "basis": "subpoena"}, "in the future"),
    ],
)
def test_dsc1_bad_input_is_refused_and_nothing_is_written(world, staff, patient, change, message):
    with pytest.raises(InvalidInput, match=message):
        disc.do_record_disclosure(actor=staff(Role.PRIVACY_OFFICER), patient_id=patient.pk, **(GOOD | change))
    assert _count(world) == 0
    with tenant_context(practice_id=world.a.practice.id):
        assert not AuditEntry.objects.filter(event=AuditEvent.DISCLOSURE_RECORDED).exists()


def test_roles_without_the_permission_cannot_record(world, staff, patient):
    for role in (Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING):
        with pytest.raises(Forbidden):
            disc.do_record_disclosure(actor=staff(role), patient_id=patient.pk, **GOOD)
    assert _count(world) == 0


def test_another_practices_patient_is_not_found(world, staff, patient):
    with pytest.raises(NotFound):
        disc.do_record_disclosure(actor=staff(Role.PRIVACY_OFFICER, world.b), patient_id=patient.pk, **GOOD)
    with pytest.raises(NotFound):
        disc.get_patient_disclosures(actor=staff(Role.OWNER, world.b), patient_id=patient.pk)
    assert _count(world) == 0


COMPELLED = dict(
    basis="court_order", reference="Case 27-CV-0042", recipient="Superior Court of Alameda County",
    recipient_address="1225 Fallon St, Oakland", categories=["health.medications", "health.allergies"],
)  # fmt: skip


def test_dsc2_a_compelled_package_is_recorded_with_it_and_the_patient_is_told(world, staff, patient):
    package = disc.check_produce_compelled(actor=staff(Role.OWNER), patient_id=patient.pk, practice_name="Practice A", **COMPELLED)
    assert package.pdf.startswith(b"%PDF")
    with tenant_context(practice_id=world.a.practice.id):
        row = Disclosure.objects.get()
        assert row.compelled and row.source == "compelled" and row.patient_notified_at is not None
        assert set(row.categories) == {"health.medications", "health.allergies", "identifiers.name", "identifiers.dob"}
        opening = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED, purpose="legal", actor_id=str(world.a.owner.pk)).get()
        assert "health.psychotherapy_notes" not in opening.categories
        letter = Letter.objects.get(kind=LetterKind.DISCLOSURE_NOTICE)
        assert letter.patient_id == patient.pk and letter.request_id is None
        assert letter.status == LetterStatus.TO_PRINT  # no consent to health information by e-mail
    from confide.access.door import RIGHTS_LETTER_JOB, open_chart
    from confide.core.purposes import Purpose

    with open_chart(RIGHTS_LETTER_JOB.for_practice(world.a.practice.id), patient.pk, Purpose.PATIENT_REQUEST, categories={"communications.messages"}):
        body = str(Letter.objects.get(pk=letter.pk).body)
    for needed in ("Superior Court of Alameda County", "Court order", "Medications", "Allergies"):
        assert needed.lower() in body.lower(), needed


def test_dsc2_a_gagged_compelled_disclosure_sends_no_notice(world, staff, patient):
    until = timezone.localdate() + datetime.timedelta(days=30)
    disc.check_produce_compelled(
        actor=staff(Role.OWNER), patient_id=patient.pk, notice_forbidden=True, notice_forbidden_until=until, **COMPELLED
    )
    with tenant_context(practice_id=world.a.practice.id):
        row = Disclosure.objects.get()
        assert row.notice_forbidden and row.notice_forbidden_until == until and row.patient_notified_at is None
        assert not Letter.objects.exists()


def test_only_the_owner_produces_a_compelled_package(world, staff, patient):
    for role in (Role.PRIVACY_OFFICER, Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING):
        with pytest.raises(Forbidden):
            disc.check_produce_compelled(actor=staff(role), patient_id=patient.pk, **COMPELLED)
    assert _count(world) == 0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"basis": "public_health"}, "legal basis"),
        ({"reference": ""}, "reference is required"),
        ({"categories": []}, "asks for"),
        ({"categories": ["health.psychotherapy_notes"]}, "from the list"),
        ({"recipient": ""}, "Recipient is required"),
    ],
)
def test_bad_compelled_input_writes_nothing_not_even_the_opening(world, staff, patient, change, message):
    with tenant_context(practice_id=world.a.practice.id):
        before = AuditEntry.objects.count()
    with pytest.raises(InvalidInput, match=message):
        disc.check_produce_compelled(actor=staff(Role.OWNER), patient_id=patient.pk, **(COMPELLED | change))
    assert _count(world) == 0
    with tenant_context(practice_id=world.a.practice.id):
        assert AuditEntry.objects.count() == before
        assert not Letter.objects.exists()


def test_dsc2_the_notice_goes_by_email_through_the_send_gate_when_the_patient_agreed(world, staff):
    from confide.consent.topics import Action
    from confide.messaging.models import Message
    from confide.portal import privacy
    from tests.portal_world import portal_world
    from tests.rights.test_service_open_request import _with_email_agreement

    pw = portal_world(world.a)
    actor = pw.adult.actor
    item = privacy.BY_TOPIC["phi_by_email"]
    privacy.do_choice(actor=actor, link_id=actor.link_id, topic="phi_by_email", action="grant", digest=privacy.shown_digest(item, Action.GRANT))
    _with_email_agreement(world)
    disc.check_produce_compelled(actor=staff(Role.OWNER), patient_id=pw.adult.patient.pk, **COMPELLED)
    with tenant_context(practice_id=world.a.practice.id):
        letter = Letter.objects.get(kind=LetterKind.DISCLOSURE_NOTICE)
        assert (letter.status, letter.channel) == (LetterStatus.SENT, "email")
        message = Message.objects.get(patient_id=pw.adult.patient.pk, channel="email")
        assert message.status != "refused"
