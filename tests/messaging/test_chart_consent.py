"""The chart's "What the patient agreed to" (CON1, MSG2): the front desk records a patient's
agreement to texts or e-mail, or its withdrawal, as the patient gave it by phone or on a signed
paper form; the send gate honours it at once; bad or stale forms write nothing; the inbox's
thread page says when a patient has not agreed to texts."""

from __future__ import annotations

import hashlib
import json

import pytest
import time_machine
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.consent import services as consent
from confide.consent.models import ConsentEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.messaging.chart_consent import texts_agreed
from confide.messaging.models import Status
from tests.consent.helpers import by_phone
from tests.messaging.conftest import deliver_now, local_time, messaging_world, send
from tests.messaging.gate_support import outbox_bodies

ELEVEN = local_time(11)
GIVEN, FAMILY, EMAIL = "Marisol", "Quintanilla-Canary", "marisol.q@example.test"
WORDS = "You agree that we may text you about appointments and your care. Reply STOP to stop. [The patient said yes.]"
CONSENT_EVENTS = (AuditEvent.CONSENT_GRANTED, AuditEvent.CONSENT_WITHDRAWN, AuditEvent.CONSENT_DECLINED)


@pytest.fixture
def mw(world):
    """Marisol, who has not agreed to texts yet."""
    return messaging_world(world.a, consent=False, given_name=GIVEN, family_name=FAMILY, preferred_name="", email=EMAIL)


def _url(patient_id) -> str:
    return reverse("messaging:chart-consent", kwargs={"patient_id": patient_id})


def _page(patient_id) -> str:
    return reverse("messaging:chart-notifications", kwargs={"patient_id": patient_id})


def _seen(mw, topic: str) -> str:
    state = consent.current_states(consent.Subject.patient(mw.practice_id, mw.patient.id))[consent.Topic(topic)]
    return str(state.last_event_id or "")


def _form(mw, topic="sms_texts", action="grant", how="phone", words=WORDS, seen=None) -> dict:
    return {"topic": topic, "action": action, "how": how, "words": words, "seen": _seen(mw, topic) if seen is None else seen}


def _events(mw) -> int:
    with tenant_context(practice_id=mw.practice_id):
        return ConsentEvent.objects.filter(subject_id=str(mw.patient.id)).count()


def _consent_audit() -> int:
    return AuditEntry.objects.filter(event__in=CONSENT_EVENTS).count()


def test_a_grant_recorded_by_phone_makes_a_staff_text_deliverable_CON1_MSG2(mw, signed_in):
    with time_machine.travel(ELEVEN, tick=False):
        refused = send(mw, body="See you at 3 tomorrow.")
    assert (refused.status, refused.refusal_code) == (Status.REFUSED, "consent-sms")
    client = signed_in(Role.FRONT_DESK)
    response = client.post(_url(mw.patient.id), _form(mw))
    assert response.status_code == 302 and response["Location"].endswith("#consent")
    assert texts_agreed(mw.practice_id, mw.patient.id)
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, body="See you at 3 tomorrow.")
        assert message.status == Status.QUEUED
        assert deliver_now(message) == "sent"
    assert len(outbox_bodies(mw)) == 1


def test_a_withdrawal_recorded_on_paper_stops_the_next_text_CON1(mw, signed_in):
    by_phone(mw.pw, mw.patient.id, "sms_texts")
    client = signed_in(Role.CLINICIAN)
    response = client.post(_url(mw.patient.id), _form(mw, action="withdraw", how="paper", words="I no longer want texts. [signed]"))
    assert response.status_code == 302
    with time_machine.travel(ELEVEN, tick=False):
        message = send(mw, body="See you at 3 tomorrow.")
    assert (message.status, message.refusal_code) == (Status.REFUSED, "consent-sms")
    assert outbox_bodies(mw) == []


def test_the_ledger_event_names_who_recorded_it_how_and_the_words_fingerprint_CON1(mw, signed_in):
    client = signed_in(Role.FRONT_DESK)
    client.post(_url(mw.patient.id), _form(mw, topic="phi_by_email", how="paper"))
    with tenant_context(practice_id=mw.practice_id):
        event = ConsentEvent.objects.get(subject_id=str(mw.patient.id))
    assert (event.topic, event.action, event.method, event.channel) == ("phi_by_email", "grant", "staff_paper", "paper")
    assert event.recorded_by_id == mw.pw.user(Role.FRONT_DESK).pk
    assert event.text_sha256 == hashlib.sha256(WORDS.encode()).hexdigest()


def test_the_audit_entry_holds_codes_and_no_phi_CON1(mw, signed_in):
    client = signed_in(Role.FRONT_DESK)
    client.post(_url(mw.patient.id), _form(mw))
    entry = AuditEntry.objects.get(event=AuditEvent.CONSENT_GRANTED, practice_id=mw.practice_id)
    assert entry.detail["topic"] == "sms_texts" and entry.detail["method"] == "staff_phone" and entry.detail["channel"] == "phone"
    assert str(entry.subject_id) == str(mw.patient.id) and entry.actor_id == str(mw.pw.user(Role.FRONT_DESK).pk)
    stored = json.dumps({f.name: str(getattr(entry, f.name)) for f in entry._meta.fields})
    for phi in (GIVEN, FAMILY, EMAIL, "555 0142", "5550142", "You agree", "The patient said yes"):
        assert phi not in stored, phi


def test_the_page_lists_the_five_topics_with_their_state_in_words_CON1(mw, signed_in):
    by_phone(mw.pw, mw.patient.id, "marketing_email")
    by_phone(mw.pw, mw.patient.id, "marketing_email", action="withdraw")
    client = signed_in(Role.FRONT_DESK)
    client.post(_url(mw.patient.id), _form(mw))
    page = client.get(_page(mw.patient.id))
    body = page.content.decode()
    assert page.status_code == 200 and "What the patient agreed to" in body
    for label in ("Text messages about their care", "Health details by text message", "Health details by e-mail",
                  "News and offers by text message", "News and offers by e-mail"):  # fmt: skip
        assert label in body
    desk = mw.pw.user(Role.FRONT_DESK).display_name
    assert f"by phone, recorded by {desk}" in body and "Agreed on " in body
    assert "Withdrawn on " in body and "Not agreed" in body
    # The default script names the practice and the number on file; withdrawal is offered where agreed.
    assert mw.pw.practice.name in body and "Msg &amp; data rates may apply" in body and "Record withdrawal" in body
    assert "style=" not in body and "<script>" not in body
    assert 'class="form-label" for="words-sms_texts"' in body  # labelled fields (390 px: stacked columns)


@pytest.mark.parametrize(
    ("case", "change", "status", "says"),
    [
        ("unknown topic", {"topic": "fax_blast"}, 400, "is not one of the choices"),
        ("a topic of another page", {"topic": "analytics_cookies"}, 400, "is not one of the choices"),
        ("empty words", {"words": "   "}, 400, "exact words"),
        ("no way", {"how": "telepathy"}, 400, "by phone, or on a signed paper form"),
        ("unknown action", {"action": "decline"}, 400, "agreed, or that they withdrew"),
        ("withdrawing what was never granted", {"action": "withdraw"}, 400, "never granted"),
        ("too many words", {"words": "x" * 6000}, 400, "5000 characters"),
        ("a NUL in the words", {"words": "May we\x00 text you?"}, 400, "cannot be kept"),
    ],
)
def test_bad_input_says_what_is_wrong_and_writes_nothing_CON1(mw, signed_in, case, change, status, says):
    client = signed_in(Role.FRONT_DESK)
    before, audited = _events(mw), _consent_audit()
    response = client.post(_url(mw.patient.id), _form(mw) | change)
    assert response.status_code == status, case
    assert says in response.content.decode().replace("&#x27;", "'"), case
    assert _events(mw) == before and _consent_audit() == audited


def test_a_stale_form_is_refused_when_the_patient_texted_stop_meanwhile_CON1(mw, signed_in):
    by_phone(mw.pw, mw.patient.id, "sms_texts")
    client = signed_in(Role.FRONT_DESK)
    form = _form(mw, action="withdraw")  # drawn while agreed
    by_phone(mw.pw, mw.patient.id, "sms_texts", action="withdraw")  # the patient's STOP, before the desk posts
    by_phone(mw.pw, mw.patient.id, "sms_texts")  # and agreed again: a withdrawal would be valid, but not what the desk saw
    before, audited = _events(mw), _consent_audit()
    response = client.post(_url(mw.patient.id), form)
    assert response.status_code == 409 and "changed after this page was opened" in response.content.decode()
    assert _events(mw) == before and _consent_audit() == audited
    assert texts_agreed(mw.practice_id, mw.patient.id)


def test_granting_what_is_already_agreed_writes_nothing(mw, signed_in):
    by_phone(mw.pw, mw.patient.id, "sms_texts")
    client = signed_in(Role.FRONT_DESK)
    before = _events(mw)
    response = client.post(_url(mw.patient.id), _form(mw))
    assert response.status_code == 400 and "already agreed" in response.content.decode()
    assert _events(mw) == before


def test_billing_is_refused_and_nothing_written_CON1(mw, signed_in):
    client = signed_in(Role.BILLING)
    assert client.post(_url(mw.patient.id), _form(mw)).status_code == 403
    assert client.get(_page(mw.patient.id)).status_code == 403
    assert _events(mw) == 0 and _consent_audit() == 0


def test_the_privacy_officer_sees_the_section_and_may_record_CON1(mw, signed_in):
    client = signed_in(Role.PRIVACY_OFFICER)
    assert "Record that they agreed" in client.get(_page(mw.patient.id)).content.decode()
    assert client.post(_url(mw.patient.id), _form(mw)).status_code == 302
    assert texts_agreed(mw.practice_id, mw.patient.id)


def test_another_practices_patient_is_a_404_and_nothing_written_CON1(mw, signed_in, world):
    client = signed_in(Role.FRONT_DESK, world.b)
    response = client.post(_url(mw.patient.id), _form(mw))
    assert response.status_code == 404
    assert _events(mw) == 0 and _consent_audit() == 0


def test_the_thread_page_says_when_the_patient_has_not_agreed_to_texts(mw, signed_in):
    from confide.messaging.services import receive_message

    message = receive_message(practice_id=mw.practice_id, patient_id=mw.patient.id, channel="portal", body="Can I move my visit?")
    client = signed_in(Role.FRONT_DESK)
    url = reverse("messaging:thread", kwargs={"thread_id": message.thread_id})
    body = client.get(url).content.decode()
    assert f"{GIVEN} {FAMILY} has not agreed to texts" in body
    assert f'{_page(mw.patient.id)}#consent' in body
    by_phone(mw.pw, mw.patient.id, "sms_texts")
    assert "has not agreed to texts" not in client.get(url).content.decode()


def test_only_staff_with_the_permission_record_here_and_a_bad_id_is_no_patient(mw):
    from confide.core.actors import PatientActor
    from confide.core.errors import Forbidden, NotFound
    from confide.messaging.chart_consent import do_record

    fields = {"topic": "sms_texts", "action": "grant", "how": "phone", "words": WORDS, "seen": ""}
    with pytest.raises(Forbidden):
        do_record(PatientActor(practice_id=mw.practice_id, patient_id=mw.patient.id, user_id=None), mw.patient.id, **fields)
    with pytest.raises(NotFound):
        do_record(mw.front_desk, "not-a-uuid", **fields)
    assert _events(mw) == 0
