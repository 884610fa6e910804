"""Keywords before anything else (../shared/reference/rules-and-deadlines.md §3.1, §3.3; MSG3):
the whole table, each keyword and variant → the number's opt-out state, the consent ledger, and
exactly one reply of the right kind; free-text revocation; an opt-out stops what was queued."""

from __future__ import annotations

import pytest
import time_machine

from confide.consent import services as consent
from confide.core.tenancy import tenant_context
from confide.messaging import keywords
from confide.messaging.addresses import phone_blind
from confide.messaging.models import Message, OutboxEntry, PhoneOptOut, Status, Thread, Topic
from tests.consent.helpers import by_phone
from tests.messaging.conftest import deliver_now, local_time, send
from tests.messaging.inbound_helpers import PATIENT_NUMBER, STRANGER, give_number, text_in, twilio  # noqa: F401

OPT_OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT", "REMOVE", "ARRET", "TD", "STOP ALL"]
OPT_IN = ["START", "YES", "UNSTOP"]
HELP = ["HELP", "INFO"]


def _variants(word: str) -> list[str]:
    return [word, word.lower(), f" {word.capitalize()}! ", f"{word.lower()}."]


TABLE = ([(v, "opt-out") for w in OPT_OUT for v in _variants(w)] + [(v, "opt-in") for w in OPT_IN for v in _variants(w)]
         + [(v, "help") for w in HELP for v in _variants(w)] + [("Arrêt", "opt-out"), ("opt  out", "opt-out"), ("stop all!!", "opt-out")])  # fmt: skip
NOT_KEYWORDS = ["stop it hurts", "please help me with my bill", "yes I can come at 3", "STOP!!! no", "info about parking?", "ends", "starting"]


@pytest.mark.parametrize(("text", "kind"), TABLE)
def test_the_keyword_matcher_table_MSG3(text, kind):
    assert keywords.keyword(text) == kind


@pytest.mark.parametrize("text", NOT_KEYWORDS)
def test_sentences_with_a_keyword_inside_are_not_keywords(text):
    assert keywords.keyword(text) is None


def _opted_out(mw, number=PATIENT_NUMBER):
    with tenant_context(practice_id=mw.practice_id):
        row = PhoneOptOut.objects.filter(phone_blind=phone_blind(mw.practice_id, number)).first()
    return None if row is None else (row.opted_out, row.source)


def _granted(mw, topic):
    return consent.state(consent.Subject.patient(mw.practice_id, mw.patient.id), topic).granted


def _replies(mw):
    with tenant_context(practice_id=mw.practice_id):
        return list(Message.objects.filter(topic=Topic.KEYWORD_REPLY))


def _reply_body(mw, message):
    from confide.access.door import MESSAGING_SEND_JOB, open_chart
    from confide.core.purposes import Purpose

    job = MESSAGING_SEND_JOB.for_practice(mw.practice_id)
    with open_chart(job, mw.patient.id, Purpose.OPERATIONS, categories={"communications.messages"}):
        return message.body


@pytest.mark.parametrize(("text", "kind"), [(w, "opt-out") for w in OPT_OUT] + [(" stop. ", "opt-out"), ("Stop!", "opt-out")]
                         + [(w.lower(), "opt-in") for w in OPT_IN] + [(w, "help") for w in HELP])  # fmt: skip
def test_keyword_table_through_the_webhook_MSG3(mw, twilio, text, kind):
    give_number(mw.practice_id)
    by_phone(mw.pw, mw.patient.id, "marketing_sms")
    if kind == "opt-in":  # a START follows a STOP
        assert text_in("STOP").status_code == 200
    before = len(_replies(mw))
    with time_machine.travel(local_time(23), tick=False):  # 23:00: the reply goes at once anyway
        response = text_in(text)
    assert response.status_code == 200
    replies = _replies(mw)[before:]
    assert len(replies) == 1, "exactly one reply"
    body = _reply_body(mw, replies[0])
    assert mw.pw.practice.name in body
    with tenant_context(practice_id=mw.practice_id):  # honoured first, then filed for staff to see; never flagged
        assert Message.objects.filter(topic=Topic.PATIENT_MESSAGE).count() == (2 if kind == "opt-in" else 1)
        assert not Thread.objects.get(patient_id=mw.patient.id).urgent
    if kind == "opt-out":
        assert _opted_out(mw) == (True, "keyword")
        assert not _granted(mw, "sms_texts") and not _granted(mw, "marketing_sms")
        assert "Reply START" in body and "unsubscribed" in body
        assert replies[0].status == Status.QUEUED, "the confirmation passes the gate although the number opted out"
    elif kind == "opt-in":
        assert _opted_out(mw) == (False, "keyword")
        assert _granted(mw, "sms_texts")
        assert "HELP" in body and "STOP" in body and "Msg & data rates may apply" in body
    else:
        assert _opted_out(mw) is None and _granted(mw, "sms_texts")
        assert "Reply STOP to unsubscribe" in body and "Msg & data rates may apply" in body and "For help," in body
        assert "call 911" in body  # a HELP may be a call for help


def test_stop_withdraws_only_what_was_granted_and_records_the_keyword_method_MSG3(mw, twilio):
    give_number(mw.practice_id)
    by_phone(mw.pw, mw.patient.id, "phi_by_sms")
    text_in("stop")
    subject = consent.Subject.patient(mw.practice_id, mw.patient.id)
    events = [e for e in consent.recent_events(subject) if e.action == "withdraw"]
    assert sorted(e.topic for e in events) == ["phi_by_sms", "sms_texts"]  # marketing_sms was never granted
    assert {e.method for e in events} == {"sms_keyword"} and {e.channel for e in events} == {"sms"}


def test_a_text_queued_before_stop_is_refused_by_the_final_gate_MSG3(mw, twilio):
    give_number(mw.practice_id)
    with time_machine.travel(local_time(11), tick=False):
        queued = send(mw, body="Your appointment is tomorrow at 3.")
        assert text_in("STOP").status_code == 200
        assert deliver_now(queued) == "refused"
        (reply,) = _replies(mw)
        assert deliver_now(reply) == "sent"  # the one confirmation goes
    with tenant_context(practice_id=mw.practice_id):
        assert Message.objects.get(pk=queued.pk).refusal_code in ("opted-out", "consent-sms")
        assert OutboxEntry.objects.filter(message_id=queued.pk).count() == 0
        assert OutboxEntry.objects.filter(message_id=reply.pk).count() == 1


def test_a_replayed_stop_answers_once(mw, twilio):
    from tests.messaging.inbound_helpers import inbound_params, post_hook

    give_number(mw.practice_id)
    params = inbound_params("STOP")
    post_hook(params)
    post_hook(params)
    assert len(_replies(mw)) == 1


def test_stop_from_an_unknown_number_is_honoured_and_confirmed_once_by_the_adapter_MSG3(mw, twilio, django_capture_on_commit_callbacks):
    give_number(mw.practice_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert text_in("Stop", sender=STRANGER).status_code == 200
    assert _opted_out(mw, STRANGER) == (True, "keyword")
    with tenant_context(practice_id=mw.practice_id):
        rows = list(OutboxEntry.objects.filter(recipient_blind=phone_blind(mw.practice_id, STRANGER)))
    assert len(rows) == 1 and rows[0].patient_id is None and rows[0].message_id is None


@pytest.mark.parametrize("text", ["please stop texting me", "Don't text me anymore", "unsubscribe me please", "Please opt me out of these", "no more texts thanks"])
def test_free_text_revocation_is_honoured_at_once_and_flagged_for_staff(mw, twilio, text):
    give_number(mw.practice_id)
    assert keywords.keyword(text) is None and keywords.asks_to_stop(text)
    text_in(text)
    assert _opted_out(mw) == (True, "free_text")
    assert not _granted(mw, "sms_texts")
    with tenant_context(practice_id=mw.practice_id):
        thread = Thread.objects.get(patient_id=mw.patient.id)
        assert Message.objects.filter(topic=Topic.PATIENT_MESSAGE).count() == 1  # filed for staff to read
    assert thread.urgent and thread.urgent_reason == "opt-out-review"
    assert len(_replies(mw)) == 1


@pytest.mark.parametrize("text", ["Can I stop taking the pills?", "I will text you when I arrive", "The pain does not stop", "See you at the end of the week"])
def test_ordinary_texts_are_not_revocations(text):
    assert not keywords.asks_to_stop(text)


@pytest.mark.parametrize(("topic", "method", "channel", "other_patient"), [
    ("marketing_email", "sms_keyword", "sms", False),  # not a texts topic
    ("sms_texts", "form_button", "sms", False),  # not the keyword method
    ("sms_texts", "sms_keyword", "sms", True),  # another patient's choice
])  # fmt: skip
def test_a_text_records_only_its_senders_own_choices_about_texts(mw, topic, method, channel, other_patient):
    from confide.consent.actors import TextSenderActor
    from confide.core.errors import ConfideError
    from tests.portal_world import create_patient

    subject_id = create_patient(mw.pw).id if other_patient else mw.patient.id
    actor = TextSenderActor(practice_id=mw.practice_id, patient_id=mw.patient.id)
    with pytest.raises(ConfideError):
        consent.do_grant(actor=actor, subject=consent.Subject.patient(mw.practice_id, subject_id), topic=topic, channel=channel,
                         method=method, shown_text="Reply START")  # fmt: skip


def test_the_ledger_entry_of_a_stop_names_the_patient_and_the_text(mw, twilio):
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry

    give_number(mw.practice_id)
    text_in("STOP")
    entry = AuditEntry.objects.filter(event=AuditEvent.CONSENT_WITHDRAWN).latest("at")
    assert (entry.actor_kind, entry.actor_id, entry.actor_role) == ("patient", str(mw.patient.id), "text")
    assert entry.detail["method"] == "sms_keyword" and entry.detail["channel"] == "sms"


@pytest.mark.parametrize("keep", [True, False])
def test_staff_confirm_or_undo_a_free_text_opt_out(mw, twilio, keep):
    from confide.messaging.inbound import do_review_opt_out

    give_number(mw.practice_id)
    text_in("please stop texting me")
    with tenant_context(practice_id=mw.practice_id):
        thread = Thread.objects.get(patient_id=mw.patient.id)
    do_review_opt_out(actor=mw.front_desk, thread_id=thread.pk, keep=keep)
    with tenant_context(practice_id=mw.practice_id):
        thread.refresh_from_db()
    assert not thread.urgent and thread.urgent_reason == ""
    assert _opted_out(mw) == ((True, "free_text") if keep else (False, "staff"))
    assert not _granted(mw, "sms_texts")  # consent is recorded again only as what the patient says
