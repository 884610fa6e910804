"""The way out of an urgent flag on the thread page (issue 15 follow-up): an emergency or crisis
marked handled (a conditional update, one audit entry with ids only), a free-text "stop" kept or
undone through inbound.do_review_opt_out; a thread not flagged is said in words with nothing
changed; another practice's thread is a 404; a role without messaging:message:send is refused.
Also the staff navigation's Outbox link (console adapter only) and the urgent reasons' labels."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.messaging.addresses import phone_blind
from confide.messaging.models import PhoneOptOut, Thread
from confide.messaging.services import receive_message
from tests.conftest import CANARIES, sign_in
from tests.messaging.inbound_helpers import PATIENT_NUMBER, give_number, text_in, twilio  # noqa: F401

pytestmark = pytest.mark.django_db


def desk(mw, role=Role.FRONT_DESK) -> Client:
    return sign_in(Client(), mw.pw.user(role), mw.pw.practice)


def flagged(mw, reason: str) -> Thread:
    with tenant_context(practice_id=mw.practice_id):
        message = receive_message(practice_id=mw.practice_id, patient_id=mw.patient.id, channel="portal", body="A question")
        Thread.objects.filter(pk=message.thread_id).update(urgent=bool(reason), urgent_reason=reason)
        return Thread.objects.get(pk=message.thread_id)


def fresh(thread: Thread) -> Thread:
    with tenant_context(practice_id=thread.practice_id):
        return Thread.objects.get(pk=thread.pk)


def entries(mw, event):
    return list(AuditEntry.objects.filter(practice_id=mw.practice_id, event=event.value))


def handled_url(thread) -> str:
    return reverse("messaging:thread-handled", kwargs={"thread_id": thread.pk})


def review_url(thread) -> str:
    return reverse("messaging:thread-opt-out-review", kwargs={"thread_id": thread.pk})


def opted_out(mw) -> tuple[bool, str] | None:
    with tenant_context(practice_id=mw.practice_id):
        row = PhoneOptOut.objects.filter(phone_blind=phone_blind(mw.practice_id, PATIENT_NUMBER)).first()
    return (row.opted_out, row.source) if row else None


# --- emergency / crisis: mark as handled ---------------------------------------------------------
@pytest.mark.parametrize("reason", ["emergency", "crisis"])
def test_mark_as_handled_clears_the_flag_with_one_audit_entry_MSG5(mw, reason):
    thread = flagged(mw, reason)
    client = desk(mw)
    page = client.get(reverse("messaging:thread", kwargs={"thread_id": thread.pk})).content.decode()
    assert 'data-testid="urgent-panel"' in page and 'data-testid="mark-handled"' in page
    assert ("Crisis words" if reason == "crisis" else "Emergency words") in page
    response = client.post(handled_url(thread), {"seen": reason}, follow=True)
    assert response.status_code == 200
    assert "Marked as handled" in response.content.decode()
    assert 'data-testid="urgent-panel"' not in response.content.decode()
    after = fresh(thread)
    assert not after.urgent and after.urgent_reason == ""
    [entry] = entries(mw, AuditEvent.THREAD_URGENT_CLEARED)
    assert entry.detail == {"reason": reason} and entry.resource_ids == [str(thread.pk)]
    assert str(entry.subject_id) == str(mw.patient.id) and entry.actor_role == Role.FRONT_DESK.value
    assert not any(canary in str(entry.detail) for canary in CANARIES)


def test_a_real_emergency_text_is_flagged_then_handled_MSG5(mw, twilio):
    give_number(mw.practice_id)
    text_in("I have chest pain")
    with tenant_context(practice_id=mw.practice_id):
        thread = Thread.objects.get(patient_id=mw.patient.id)
    assert thread.urgent_reason == "emergency"
    assert desk(mw).post(handled_url(thread), {"seen": "emergency"}).status_code == 302
    assert not fresh(thread).urgent


def test_mark_as_handled_on_a_thread_not_flagged_says_so_and_changes_nothing_MSG5(mw):
    thread = flagged(mw, "")
    response = desk(mw).post(handled_url(thread), {"seen": "emergency"}, follow=True)
    assert response.status_code == 200
    assert "not flagged as urgent" in response.content.decode()
    assert not entries(mw, AuditEvent.THREAD_URGENT_CLEARED)


def test_mark_as_handled_leaves_a_request_to_stop_for_its_own_review_MSG3(mw):
    thread = flagged(mw, "opt-out-review")
    response = desk(mw).post(handled_url(thread), {"seen": "opt-out-review"}, follow=True)
    assert "not flagged as urgent" in response.content.decode()
    assert fresh(thread).urgent_reason == "opt-out-review"
    assert not entries(mw, AuditEvent.THREAD_URGENT_CLEARED)


def test_a_flag_that_changed_since_the_page_was_shown_is_not_cleared_MSG5(mw):
    thread = flagged(mw, "crisis")  # the page showed "emergency"; a crisis text came in since
    response = desk(mw).post(handled_url(thread), {"seen": "emergency"}, follow=True)
    assert "changed since the page was shown" in response.content.decode()
    assert fresh(thread).urgent_reason == "crisis"
    assert not entries(mw, AuditEvent.THREAD_URGENT_CLEARED)


# Two people pressing at once: tests/concurrency/test_inbox_urgent.py.


# --- a free-text "stop": keep it or undo it ------------------------------------------------------
def _stopped_by_text(mw) -> Thread:
    give_number(mw.practice_id)
    text_in("please stop texting me")
    with tenant_context(practice_id=mw.practice_id):
        thread = Thread.objects.get(patient_id=mw.patient.id)
    assert thread.urgent_reason == "opt-out-review" and opted_out(mw) == (True, "free_text")
    return thread


def test_the_review_panel_says_what_happened_and_where_consent_is_given_again_MSG3(mw, twilio):
    thread = _stopped_by_text(mw)
    page = desk(mw).get(reverse("messaging:thread", kwargs={"thread_id": thread.pk})).content.decode()
    assert "Confide honoured it at once" in page
    assert "Keep the opt-out" in page and "It was not an opt-out: texts may resume" in page
    assert 'data-testid="opt-out-consent-note"' in page and "under Privacy" in page
    assert 'data-testid="mark-handled"' not in page


@pytest.mark.parametrize(("decision", "after"), [("keep", (True, "free_text")), ("resume", (False, "staff"))])
def test_keep_or_undo_a_free_text_opt_out_MSG3(mw, twilio, decision, after):
    thread = _stopped_by_text(mw)
    response = desk(mw).post(review_url(thread), {"decision": decision}, follow=True)
    assert response.status_code == 200
    words = response.content.decode()
    assert ("The opt-out stands" if decision == "keep" else "consent to texts must be recorded again") in words
    assert not fresh(thread).urgent and fresh(thread).urgent_reason == ""
    assert opted_out(mw) == after
    reviewed = [e for e in entries(mw, AuditEvent.THREAD_FLAGGED) if e.detail.get("reason") == "opt-out-reviewed"]
    assert len(reviewed) == 1 and reviewed[0].detail["kept"] is (decision == "keep")
    assert reviewed[0].resource_ids == [str(thread.pk)]


def test_a_review_of_a_thread_with_no_stop_waiting_says_so_and_changes_nothing_MSG3(mw):
    thread = flagged(mw, "emergency")
    response = desk(mw).post(review_url(thread), {"decision": "resume"}, follow=True)
    assert "no request to stop texts waiting" in response.content.decode()
    assert fresh(thread).urgent_reason == "emergency"
    assert not [e for e in entries(mw, AuditEvent.THREAD_FLAGGED) if e.detail.get("reason") == "opt-out-reviewed"]


def test_a_review_without_a_known_decision_is_a_400_and_changes_nothing_MSG3(mw, twilio):
    thread = _stopped_by_text(mw)
    response = desk(mw).post(review_url(thread), {"decision": "maybe"})
    assert response.status_code == 400
    assert "keep the opt-out or let texts resume" in response.content.decode()
    assert fresh(thread).urgent_reason == "opt-out-review" and opted_out(mw) == (True, "free_text")


# --- who may ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("route", ["messaging:thread-handled", "messaging:thread-opt-out-review"])
def test_another_practices_thread_is_404_and_changes_nothing(world, mw, route):
    thread = flagged(mw, "opt-out-review" if route.endswith("review") else "emergency")
    other = sign_in(Client(), world.b.owner, world.b.practice)
    response = other.post(reverse(route, kwargs={"thread_id": thread.pk}), {"decision": "keep", "seen": thread.urgent_reason})
    assert response.status_code == 404
    assert fresh(thread).urgent


@pytest.mark.parametrize("route", ["messaging:thread-handled", "messaging:thread-opt-out-review"])
@pytest.mark.parametrize("role", [Role.BILLING, Role.PRIVACY_OFFICER])
def test_a_role_without_send_is_refused(mw, route, role):
    thread = flagged(mw, "opt-out-review" if route.endswith("review") else "emergency")
    response = desk(mw, role).post(reverse(route, kwargs={"thread_id": thread.pk}), {"decision": "keep", "seen": thread.urgent_reason})
    assert response.status_code == 403
    assert fresh(thread).urgent


# --- the inbox list's labels and the navigation ------------------------------------------------
def test_every_reason_inbound_flags_with_has_a_plain_label():
    import inspect

    from confide.messaging import inbound
    from confide.messaging.inbox import URGENT_REASONS
    from confide.messaging.unmatched import REASON_LABELS

    source = inspect.getsource(inbound)
    for code in ("emergency", "crisis", "opt-out-review"):
        assert f'"{code}"' in source
        for labels in (URGENT_REASONS, REASON_LABELS):  # the inbox list and the unmatched queue
            assert labels[code] and code not in labels[code]


def test_the_outbox_link_shows_for_the_front_desk_with_the_console_adapter(mw, settings):
    settings.CONFIDE_SMS_ADAPTER = "console"
    html = desk(mw).get(reverse("messaging:inbox")).content.decode()
    assert 'data-testid="nav-outbox"' in html and reverse("messaging:outbox") in html
    # a role without messaging:settings:edit does not get it
    assert 'data-testid="nav-outbox"' not in desk(mw, Role.CLINICIAN).get(reverse("messaging:inbox")).content.decode()


def test_the_outbox_link_is_gone_with_twilio(mw, settings):
    settings.CONFIDE_SMS_ADAPTER = "twilio"
    html = desk(mw).get(reverse("messaging:inbox")).content.decode()
    assert 'data-testid="nav-outbox"' not in html


def test_the_inbox_links_the_unmatched_senders_queue(mw):
    html = desk(mw).get(reverse("messaging:inbox")).content.decode()
    assert reverse("messaging:unmatched") in html and "Unmatched senders" in html
