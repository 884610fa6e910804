"""Letters (issue 17 item 8): each kind carries the items the law requires, is delivered through
the send gate by the channel the patient agreed to (e-mail only with phi_by_email, else the
portal, else printed), and is kept with the request. A requester without a chart gets a fixed
e-mail with nothing about their health in it."""

from __future__ import annotations

import pytest
import time_machine
from django.core import mail

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.messaging.models import Message
from confide.rights import decisions, services
from confide.rights.letters import send_letter
from confide.rights.models import LetterKind, LetterStatus, RightsRequest
from tests.rights.queue_helpers import START, letter_text, letters, staff


@pytest.fixture
def contacts(monkeypatch):
    original = decisions.letter_contacts
    monkeypatch.setattr(decisions, "letter_contacts",
                        lambda practice_id, at=None: {**original(practice_id, at), "officer_name": "Pat Officer", "officer_phone": "+1 415 555 0100"})  # fmt: skip


def _filed(portal, kind="see"):
    with time_machine.travel(START, tick=False):
        return services.check_open_request(actor=portal.adult.actor, kind=kind)


def test_rts1_the_acknowledgement_confirms_receipt_how_we_verify_and_when_we_answer(world, portal):
    from confide.rights.sweep import send_due_acknowledgements

    row = _filed(portal, "delete")  # CCPA: acknowledge within 10 business days
    with time_machine.travel("2027-01-05T10:00:00Z", tick=False):
        assert send_due_acknowledgements(world.a.practice.id) == 1
    (ack,) = letters(row)
    text = letter_text(world.a, ack)
    assert ack.kind == LetterKind.ACKNOWLEDGEMENT
    assert "We received your privacy request: delete my information, on 4 January 2027" in text
    assert "How we confirm who is asking: Signed in to the portal" in text
    assert "We will answer by 18 February 2027" in text and "10 business days" in text  # CCPA: 45 days


def test_rts1_the_denial_states_basis_review_rights_and_where_to_complain(world, portal, contacts):
    row = _filed(portal)
    decisions.do_close(actor=staff(world.a), request_id=row.pk, expected_version=row.version, outcome="denied", basis="endanger")
    (denial,) = letters(row)
    text = letter_text(world.a, denial)
    assert denial.kind == LetterKind.DENIAL and denial.context["basis_code"] == "endanger"
    assert "We cannot do what you asked." in text
    assert "Why: A licensed health professional judged that access is reasonably likely to endanger" in text
    assert "reviewed by a licensed health care professional chosen by the practice who did not take part in it" in text
    assert "privacy officer, Pat Officer, by phone at +1 415 555 0100" in text
    assert "U.S. Department of Health and Human Services, Office for Civil Rights" in text
    assert "https://www.hhs.gov/hipaa/filing-a-complaint/index.html" in text and "200 Independence Avenue" in text


def test_rts3_an_amendment_denial_offers_the_statement_of_disagreement(world, portal, contacts):
    row = _filed(portal, "correct")
    decisions.do_close(actor=staff(world.a), request_id=row.pk, expected_version=row.version, outcome="denied", basis="accurate")
    text = letter_text(world.a, letters(row)[0])
    assert "We found the information accurate and complete as it is." in text
    assert "written statement saying what you disagree with" in text and "include your request and this letter" in text
    assert "you may appeal this decision" in text


def test_rts1_a_partial_answer_is_a_denial_letter_for_the_part_refused(world, portal, contacts):
    row = _filed(portal, "delete")
    decisions.do_close(actor=staff(world.a), request_id=row.pk, expected_version=row.version, outcome="partly_done", basis="retention_duty")
    text = letter_text(world.a, letters(row)[-1])
    assert "We have done part of what you asked" in text and "keep medical records for a set time" in text


def test_rts1_the_fulfilment_says_it_is_done(world, portal):
    row = _filed(portal)
    with time_machine.travel("2027-01-12T10:00:00Z", tick=False):
        decisions.do_close(actor=staff(world.a), request_id=row.pk, expected_version=row.version, outcome="done")
    text = letter_text(world.a, letters(row)[0])
    assert "We have done what you asked. We closed your request on 12 January 2027." in text


def test_a_letter_goes_to_the_portal_and_is_kept(world, portal):
    row = _filed(portal)
    decisions.do_close(actor=staff(world.a), request_id=row.pk, expected_version=row.version, outcome="done")
    (kept,) = letters(row)
    assert (kept.status, kept.channel) == (LetterStatus.SENT, "portal")
    with tenant_context(practice_id=world.a.practice.id):
        (message,) = Message.objects.filter(patient_id=portal.adult.patient.pk, topic="rights_letter")
    assert message.channel == "portal" and message.kind == "operational"
    # the patient sees it on the privacy page's list, and reads it through the door
    assert [x.id for x in decisions.list_patient_letters(actor=portal.adult.actor)] == [kept.pk]
    assert "We have done what you asked" in decisions.get_patient_letter(actor=portal.adult.actor, letter_id=kept.pk)[1]
    with pytest.raises(Exception):
        decisions.get_patient_letter(actor=portal.parent.actor, letter_id=kept.pk)


def test_a_letter_goes_by_email_only_with_phi_by_email_consent(world, portal):
    from tests.consent.helpers import by_phone

    by_phone(world.a, portal.adult.patient.pk, "phi_by_email")
    row = _filed(portal)
    decisions.do_close(actor=staff(world.a), request_id=row.pk, expected_version=row.version, outcome="done")
    (kept,) = letters(row)
    assert (kept.status, kept.channel) == (LetterStatus.SENT, "email")


def test_a_patient_without_a_portal_account_or_email_consent_gets_a_printed_letter(world):
    from django.utils import timezone

    from tests.portal_world import create_patient

    patient = create_patient(world.a, given_name="Paper", family_name="Only", preferred_name="", email="")
    with tenant_context(practice_id=world.a.practice.id):
        row = RightsRequest.objects.create(practice=world.a.practice, patient=patient, kind="other", channel="letter", verification="staff",
                                           received_at=timezone.now(), due_on=timezone.localdate())  # fmt: skip
    decisions.do_close(actor=staff(world.a, Role.OWNER), request_id=row.pk, expected_version=row.version, outcome="done")
    (kept,) = letters(row)
    assert (kept.status, kept.channel) == (LetterStatus.TO_PRINT, "post")


def test_a_requester_without_a_chart_gets_a_fixed_email_with_no_phi(world, django_capture_on_commit_callbacks):
    from django.utils import timezone

    with tenant_context(practice_id=world.a.practice.id):
        row = RightsRequest.objects.create(practice=world.a.practice, kind="delete", channel="web_form", received_at=timezone.now(),
                                           due_on=timezone.localdate())  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        kept = send_letter(practice_id=world.a.practice.id, request_row=row, kind=LetterKind.ACKNOWLEDGEMENT,
                           template="rights/letters/acknowledgement.txt", context={}, to_email="visitor@example.test")  # fmt: skip
    assert (kept.status, kept.channel, kept.body) == (LetterStatus.SENT, "email", None)
    (sent,) = mail.outbox
    assert sent.to == ["visitor@example.test"] and sent.subject == "Your privacy request"
    assert "delete" not in sent.body.lower() and "says nothing more" in sent.body
