"""The staff inbox in the browser's terms (issue 15 items 1 and 12): the list with names and
unread counts, a conversation read through the door (each opening and each read on record), the
reply through the gate in plain words, assignment as a conditional update, filters, templates."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.messaging.models import Channel, Message, MessageTemplate, Status, Thread, Topic
from confide.messaging.services import receive_message
from tests.conftest import CANARIES, sign_in
from tests.messaging.conftest import deliver_now, local_time, messaging_world

pytestmark = pytest.mark.django_db


def inbound(mw, body="Can I move my appointment?", channel="sms", patient=None):
    patient = patient or mw.patient
    with tenant_context(practice_id=mw.practice_id):
        return receive_message(practice_id=mw.practice_id, patient_id=patient.id, channel=channel, body=body)


def another(mw, **fields):
    """A second patient of the same practice (the processors are declared once)."""
    from dataclasses import replace

    from tests.portal_world import create_patient

    return replace(mw, patient=create_patient(mw.pw, **fields))


def desk(mw, role=Role.FRONT_DESK) -> Client:
    return sign_in(Client(), mw.pw.user(role), mw.pw.practice)


def thread_of(message):
    with tenant_context(practice_id=message.practice_id):
        return Thread.objects.get(pk=message.thread_id)


def entries(mw, event):
    return list(AuditEntry.objects.filter(practice_id=mw.practice_id, event=event.value))


# --- the list --------------------------------------------------------------------------------
def test_inbox_lists_the_patient_by_name_with_the_unread_count_newest_first_MSG1(mw):
    older = another(mw, given_name="Olga", family_name="Older", preferred_name="", phone="+1 415 555 0100")
    inbound(older, "first")
    inbound(mw, "second")
    inbound(mw, "third")
    html = desk(mw).get(reverse("messaging:inbox")).content.decode()
    assert "Olga Older" in html
    rows = html.split('data-testid="thread-link"')[1:]
    assert "Olga Older" in rows[1] and "2 unread" in rows[0]
    assert str(mw.patient.id) not in html and str(older.patient.id) not in html
    assert 'data-testid="nav-inbox"' in html and 'visually-hidden"> unread' in html
    # One listing entry for the page's names, never a chart opening per row.
    assert entries(mw, AuditEvent.PATIENTS_LISTED)
    assert not [e for e in entries(mw, AuditEvent.CHART_OPENED) if e.actor_role == Role.FRONT_DESK.value]


def test_inbox_filters_and_a_bad_filter_is_a_message_MSG1(mw):
    message = inbound(mw)
    client = desk(mw)
    assert "thread-link" in client.get(reverse("messaging:inbox") + "?show=unread").content.decode()
    assert "thread-link" not in client.get(reverse("messaging:inbox") + "?show=mine").content.decode()
    assert "thread-link" not in client.get(reverse("messaging:inbox") + "?show=urgent").content.decode()
    assert "thread-link" not in client.get(reverse("messaging:inbox") + "?show=failed").content.decode()
    with tenant_context(practice_id=mw.practice_id):
        Thread.objects.filter(pk=message.thread_id).update(urgent=True, urgent_reason="crisis")
    assert "Urgent: Crisis words" in client.get(reverse("messaging:inbox") + "?show=urgent").content.decode()
    bad = client.get(reverse("messaging:inbox") + "?show=everything")
    assert bad.status_code == 400 and "Show all conversations" in bad.content.decode()


def test_failed_deliveries_filter_finds_the_thread_MSG1(mw):
    message = inbound(mw)
    with time_machine.travel(local_time(11), tick=False):
        reply = desk(mw).post(reverse("messaging:reply", kwargs={"thread_id": message.thread_id}), {"channel": "sms", "body": "See you"})
        assert reply.status_code == 302
    with tenant_context(practice_id=mw.practice_id):
        Message.objects.filter(topic=Topic.STAFF_REPLY).update(status=Status.FAILED)
    html = desk(mw).get(reverse("messaging:inbox") + "?show=failed").content.decode()
    assert "Delivery failed" in html


# --- one conversation ----------------------------------------------------------------------
def test_opening_the_thread_decrypts_through_the_door_and_marks_read_once_audited_MSG5(mw):
    message = inbound(mw, f"My result {CANARIES['note']} worries me")
    client = desk(mw)
    url = reverse("messaging:thread", kwargs={"thread_id": message.thread_id})
    html = client.get(url).content.decode()
    assert CANARIES["note"] in html
    assert thread_of(message).unread_by_staff == 0
    read = entries(mw, AuditEvent.MESSAGE_READ)
    assert len(read) == 1 and read[0].resource_ids == [str(message.pk)] and CANARIES["note"] not in str(read[0].detail)
    opened = [e for e in entries(mw, AuditEvent.CHART_OPENED) if e.subject_id == mw.patient.id]
    assert opened and "communications.messages" in opened[-1].categories
    client.get(url)
    assert len(entries(mw, AuditEvent.MESSAGE_READ)) == 1  # already read: no second entry
    with tenant_context(practice_id=mw.practice_id):
        assert Message.objects.get(pk=message.pk).read_at is not None


def test_the_reply_channel_defaults_to_the_patients_last_message_MSG1(mw):
    message = inbound(mw, channel="sms")
    html = desk(mw).get(reverse("messaging:thread", kwargs={"thread_id": message.thread_id})).content.decode()
    assert 'id="channel-sms" value="sms" checked' in html


def test_another_practices_thread_is_404_and_billing_is_refused_MSG5(world, mw):
    message = inbound(mw)
    other = sign_in(Client(), world.b.owner, world.b.practice)
    for name in ("messaging:thread",):
        assert other.get(reverse(name, kwargs={"thread_id": message.thread_id})).status_code == 404
    post = other.post(reverse("messaging:reply", kwargs={"thread_id": message.thread_id}), {"channel": "portal", "body": "hi"})
    assert post.status_code == 404
    billing = desk(mw, Role.BILLING)
    assert billing.get(reverse("messaging:inbox")).status_code == 403
    assert billing.get(reverse("messaging:thread", kwargs={"thread_id": message.thread_id})).status_code == 403


# --- replying -------------------------------------------------------------------------------
def test_reply_by_sms_is_queued_then_the_page_says_sent_with_the_time_MSG1(mw):
    message = inbound(mw)
    with time_machine.travel(local_time(11), tick=False):
        client = desk(mw)  # signed in at the travelled hour (an idle session would be over)
        response = client.post(reverse("messaging:reply", kwargs={"thread_id": message.thread_id}), {"channel": "sms", "body": "Yes, Tuesday at 3"}, follow=True)
        assert "Queued" in response.content.decode()
        with tenant_context(practice_id=mw.practice_id):
            sent = Message.objects.get(topic=Topic.STAFF_REPLY)
        assert deliver_now(sent) == "sent"
        html = client.get(reverse("messaging:thread", kwargs={"thread_id": message.thread_id})).content.decode()
    assert "Delivery: Sent " in html
    assert "a notice to read it in the portal" in html  # Marisol agreed to texts, not to details by text


def test_reply_without_details_consent_says_a_notice_goes_MSG4(mw):
    message = inbound(mw)
    with time_machine.travel(local_time(11), tick=False):
        html = desk(mw).post(reverse("messaging:reply", kwargs={"thread_id": message.thread_id}), {"channel": "sms", "body": "Your results are in"}, follow=True).content.decode()
    assert "they will get a notice to read it in the portal" in html


def test_reply_at_night_says_when_it_will_go_in_their_time(mw):
    message = inbound(mw)
    with time_machine.travel(local_time(22), tick=False):  # 22:00 in San Francisco
        html = desk(mw).post(reverse("messaging:reply", kwargs={"thread_id": message.thread_id}), {"channel": "sms", "body": "See you"}, follow=True).content.decode()
    assert "it will be sent at 8:00 their time" in html


def test_reply_refused_by_the_gate_says_why_MSG2(world):
    mw = messaging_world(world.a, consent=False)
    message = inbound(mw)
    with time_machine.travel(local_time(11), tick=False):
        html = desk(mw).post(reverse("messaging:reply", kwargs={"thread_id": message.thread_id}), {"channel": "sms", "body": "See you"}, follow=True).content.decode()
    assert "Not sent. The patient has not agreed to text messages." in html


@pytest.mark.parametrize(("data", "words"), [
    ({"channel": "sms", "body": "   "}, "Write a message first."),
    ({"channel": "pigeon", "body": "hello"}, "Choose portal, text message or e-mail."),
    ({"body": "hello"}, "Choose portal, text message or e-mail."),
    ({"channel": "sms", "body": "x" * 1601}, "at most 1,600 characters"),
])
def test_bad_replies_are_a_message_and_nothing_is_written_MSG1(mw, data, words):
    message = inbound(mw)
    before = Message.across_practices.count()
    response = desk(mw).post(reverse("messaging:reply", kwargs={"thread_id": message.thread_id}), data)
    assert response.status_code == 400 and words in response.content.decode()
    assert Message.across_practices.count() == before


def test_portal_reply_is_delivered_with_a_notice_and_the_staff_see_when_it_was_read_MSG6(world, mw):
    from tests.portal_world import link, make_portal_user, portal_sign_in

    message = inbound(mw, channel="portal")
    client = desk(mw)
    with time_machine.travel(local_time(11), tick=False):
        html = desk(mw).post(reverse("messaging:reply", kwargs={"thread_id": message.thread_id}), {"channel": "portal", "body": f"Result: {CANARIES['note']}"}, follow=True).content.decode()
    assert "Sent in the portal. They will be told by e-mail." in html
    with tenant_context(practice_id=mw.practice_id):
        notice = Message.objects.get(topic=Topic.NOTIFICATION)
    assert notice.channel == Channel.EMAIL and CANARIES["note"] not in str(notice.__dict__)
    assert "In the portal, not read yet" in client.get(reverse("messaging:thread", kwargs={"thread_id": message.thread_id})).content.decode()
    user = make_portal_user("marisol@a.portal.test", "Marisol")
    link(user, mw.patient)
    patient = portal_sign_in(Client(), user)
    page = patient.get(reverse("portal:messages")).content.decode()
    assert CANARIES["note"] in page
    assert "Read " in client.get(reverse("messaging:thread", kwargs={"thread_id": message.thread_id})).content.decode()


def test_move_to_the_portal_sends_in_the_portal_whatever_channel_was_chosen_MSG4(mw):
    message = inbound(mw)
    response = desk(mw).post(reverse("messaging:reply", kwargs={"thread_id": message.thread_id}),
                             {"channel": "sms", "body": "Your biopsy result is in.", "move_to_portal": "1"}, follow=True)  # fmt: skip
    assert "Sent in the portal." in response.content.decode()
    with tenant_context(practice_id=mw.practice_id):
        assert Message.objects.get(topic=Topic.STAFF_REPLY).channel == Channel.PORTAL


# --- assignment -----------------------------------------------------------------------------
def test_assign_to_me_is_audited_and_a_stale_page_is_told_MSG1(mw):
    message = inbound(mw)
    url = reverse("messaging:thread-assign", kwargs={"thread_id": message.thread_id})
    client = desk(mw)
    assert client.post(url, {"assignee": "me", "seen": ""}).status_code == 302
    assert thread_of(message).assigned_to_id == mw.pw.user(Role.FRONT_DESK).pk
    entry = entries(mw, AuditEvent.THREAD_ASSIGNED)[-1]
    assert entry.detail == {"assigned_to": mw.pw.user(Role.FRONT_DESK).pk}
    owner = desk(mw, Role.OWNER)
    stale = owner.post(url, {"assignee": "me", "seen": ""})
    assert stale.status_code == 409 and "Someone changed who this conversation is assigned to" in stale.content.decode()
    assert thread_of(message).assigned_to_id == mw.pw.user(Role.FRONT_DESK).pk
    assert "thread-link" in client.get(reverse("messaging:inbox") + "?show=mine").content.decode()


@pytest.mark.parametrize("assignee", ["billing", "99999999", "abc"])
def test_assign_to_someone_outside_the_inbox_is_refused(mw, assignee):
    message = inbound(mw)
    if assignee == "billing":
        assignee = str(mw.pw.user(Role.BILLING).pk)
    response = desk(mw).post(reverse("messaging:thread-assign", kwargs={"thread_id": message.thread_id}), {"assignee": assignee, "seen": ""})
    assert response.status_code == 400
    assert thread_of(message).assigned_to_id is None


# --- templates ------------------------------------------------------------------------------
def test_templates_are_made_edited_inserted_and_deleted(mw):
    client = desk(mw)
    assert client.post(reverse("messaging:template-new"), {"name": "Forms ready", "body": "Your forms are ready in the portal."}).status_code == 302
    with tenant_context(practice_id=mw.practice_id):
        template = MessageTemplate.objects.get(name="Forms ready")
    duplicate = client.post(reverse("messaging:template-new"), {"name": "Forms ready", "body": "Again"})
    assert duplicate.status_code == 400 and "Another template has that name" in duplicate.content.decode()
    empty = client.post(reverse("messaging:template-new"), {"name": "", "body": ""})
    assert empty.status_code == 400
    edit = reverse("messaging:template-edit", kwargs={"template_id": template.pk})
    assert client.post(edit, {"name": "Forms ready", "body": "Your forms wait in the portal."}).status_code == 302
    message = inbound(mw)
    html = client.get(reverse("messaging:thread", kwargs={"thread_id": message.thread_id})).content.decode()
    assert 'data-body="Your forms wait in the portal."' in html and "<script>" not in html
    assert client.post(reverse("messaging:template-delete", kwargs={"template_id": template.pk})).status_code == 302
    with tenant_context(practice_id=mw.practice_id):
        assert not MessageTemplate.objects.exists()


def test_templates_belong_to_the_practice_and_to_who_configures(world, mw):
    client = desk(mw)
    client.post(reverse("messaging:template-new"), {"name": "Hello", "body": "Hello"})
    with tenant_context(practice_id=mw.practice_id):
        template = MessageTemplate.objects.get()
    other = sign_in(Client(), world.b.owner, world.b.practice)
    assert other.get(reverse("messaging:template-edit", kwargs={"template_id": template.pk})).status_code == 404
    assert other.post(reverse("messaging:template-delete", kwargs={"template_id": template.pk})).status_code == 404
    assert desk(mw, Role.CLINICIAN).get(reverse("messaging:templates")).status_code == 403


def test_the_pages_carry_no_inline_script_and_the_shortcut_help(mw):
    message = inbound(mw)
    client = desk(mw)
    for url in (reverse("messaging:inbox"), reverse("messaging:thread", kwargs={"thread_id": message.thread_id})):
        html = client.get(url).content.decode()
        assert "confide/inbox.js" in html and 'data-testid="shortcut-help"' in html
        assert "<script>" not in html and " style=" not in html
