"""The portal's messages tab (issue 15 item 11): the patient's own conversation, a parent's
conversation kept to their link (MSG5), the patient's message and its encrypted file (the upload
validation of the chart's documents), read receipts for staff, the notice's body waiting here."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.messaging.models import Attachment, Channel, Direction, Message, Thread
from confide.messaging.services import send_message
from tests.conftest import CANARIES, sign_in
from tests.messaging.conftest import declare_processors, local_time
from tests.portal_world import portal_sign_in, portal_world
from tests.records.uploads import pdf_upload, png_bomb_upload, png_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def pw(world):
    declare_processors(world.a)
    made = portal_world(world.a)
    made.practice_world = world.a
    return made


def staff_send(pw, patient, body, channel="portal", thread=None):
    actor = StaffActor.from_membership(pw.practice_world.memberships[Role.FRONT_DESK])
    with tenant_context(practice_id=patient.practice_id):
        return send_message(actor, patient_id=patient.pk, channel=channel, topic="staff_reply", body=body, thread=thread)


def test_the_patient_reads_the_practices_portal_message_and_staff_see_the_receipt_MSG1(pw):
    message = staff_send(pw, pw.adult.patient, f"Your result: {CANARIES['note']}")
    client = portal_sign_in(Client(), pw.adult.user)
    home = client.get(reverse("portal:home")).content.decode()
    assert 'data-testid="nav-messages"' in home and "1 new message" in home
    html = client.get(reverse("portal:messages")).content.decode()
    assert CANARIES["note"] in html and "Your care team wrote" in html
    with tenant_context(practice_id=message.practice_id):
        assert Message.objects.get(pk=message.pk).read_at is not None
        assert Thread.objects.get(pk=message.thread_id).unread_by_patient == 0
    opened = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED.value, subject_id=pw.adult.patient.pk, actor_kind="patient").last()
    assert opened is not None and "communications.messages" in opened.categories
    staff = sign_in(Client(), pw.practice_world.user(Role.FRONT_DESK), pw.practice_world.practice)
    assert "Delivery: Read " in staff.get(reverse("messaging:thread", kwargs={"thread_id": message.thread_id})).content.decode()


def test_the_body_behind_an_sms_notice_waits_in_the_portal_and_the_notice_itself_does_not_show_MSG4(pw):
    from tests.consent.helpers import by_phone

    patient = pw.adult.patient
    by_phone(pw.practice_world, patient.pk, "sms_texts")
    with time_machine.travel(local_time(11), tick=False):
        message = staff_send(pw, patient, "Your lab result is normal.", channel="sms")
        from tests.messaging.conftest import deliver_now

        assert deliver_now(message) == "sent"
        with tenant_context(practice_id=patient.practice_id):
            assert Message.objects.get(pk=message.pk).carried == "notice"
        html = portal_sign_in(Client(), pw.adult.user).get(reverse("portal:messages")).content.decode()
    assert "Your lab result is normal." in html
    assert "Sign in to the patient portal" not in html


def test_the_patient_writes_and_staff_see_it_unread_MSG1(pw):
    client = portal_sign_in(Client(), pw.adult.user)
    response = client.post(reverse("portal:message-send"), {"body": f"Question about {CANARIES['note']}"}, follow=True)
    assert "Your message is sent" in response.content.decode()
    with tenant_context(practice_id=pw.adult.patient.practice_id):
        message = Message.objects.get(direction=Direction.INBOUND)
        thread = Thread.objects.get(pk=message.thread_id)
    assert message.channel == Channel.PORTAL and thread.link_id is None and thread.unread_by_staff == 1
    received = AuditEntry.objects.filter(event=AuditEvent.MESSAGE_RECEIVED.value).last()
    assert received.actor_kind == "patient" and received.purpose == "patient_request"
    staff = sign_in(Client(), pw.practice_world.user(Role.FRONT_DESK), pw.practice_world.practice)
    assert CANARIES["note"] in staff.get(reverse("messaging:thread", kwargs={"thread_id": thread.pk})).content.decode()


def test_a_parent_writes_in_their_own_conversation_about_the_child_never_the_childs_MSG5(pw):
    client = portal_sign_in(Client(), pw.parent.user)
    from confide.accounts.portal import SESSION_PORTAL_LINK

    session = client.session
    session[SESSION_PORTAL_LINK] = str(pw.child_link.pk)
    session.save()
    staff_send(pw, pw.child, "For Kit's own eyes")  # the child's own thread
    assert client.post(reverse("portal:message-send"), {"body": "Kit has a fever"}).status_code == 302
    with tenant_context(practice_id=pw.child.practice_id):
        mine = Thread.objects.get(link_id=pw.child_link.pk)
    assert mine.patient_id == pw.child.pk
    html = client.get(reverse("portal:messages")).content.decode()
    assert "Kit has a fever" in html and "For Kit&#x27;s own eyes" not in html and "For Kit's own eyes" not in html


def test_an_attachment_is_stored_encrypted_and_opened_only_by_its_patient_MSG5(pw, world, settings):
    client = portal_sign_in(Client(), pw.adult.user)
    assert client.post(reverse("portal:message-send"), {"body": "My referral", "file": pdf_upload()}).status_code == 302
    with tenant_context(practice_id=pw.adult.patient.practice_id):
        attachment = Attachment.objects.get()
    assert attachment.content_type == "application/pdf" and attachment.stored_name.startswith(f"{attachment.practice_id}/")
    download = client.get(reverse("portal:message-attachment", kwargs={"attachment_id": attachment.pk}))
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF-")
    other = portal_sign_in(Client(), pw.parent.user)
    assert other.get(reverse("portal:message-attachment", kwargs={"attachment_id": attachment.pk})).status_code == 404
    staff = sign_in(Client(), pw.practice_world.user(Role.FRONT_DESK), pw.practice_world.practice)
    assert staff.get(reverse("messaging:attachment", kwargs={"attachment_id": attachment.pk})).status_code == 200
    elsewhere = sign_in(Client(), world.b.owner, world.b.practice)
    assert elsewhere.get(reverse("messaging:attachment", kwargs={"attachment_id": attachment.pk})).status_code == 404


@pytest.mark.parametrize(("make", "words"), [
    (lambda: png_bomb_upload(), "pixels"),
    (lambda: __import__("django.core.files.uploadedfile", fromlist=["x"]).SimpleUploadedFile("a.exe", b"MZ\x90\x00", content_type="application/x-msdownload"), "Attach a PDF, a JPEG or a PNG."),
    (lambda: __import__("django.core.files.uploadedfile", fromlist=["x"]).SimpleUploadedFile("fake.pdf", b"not a pdf at all", content_type="application/pdf"), "PDF"),
])
def test_a_bad_file_is_refused_with_a_message_and_nothing_is_written_MSG5(pw, make, words):
    client = portal_sign_in(Client(), pw.adult.user)
    response = client.post(reverse("portal:message-send"), {"body": "See attached", "file": make()})
    assert response.status_code == 400 and words in response.content.decode()
    assert Message.across_practices.count() == 0 and Attachment.across_practices.count() == 0


@pytest.mark.parametrize("body", ["", "   ", "x" * 10_001])
def test_an_empty_or_huge_message_is_refused_MSG1(pw, body):
    response = portal_sign_in(Client(), pw.adult.user).post(reverse("portal:message-send"), {"body": body})
    assert response.status_code == 400
    assert Message.across_practices.count() == 0


def test_a_png_attachment_is_kept_as_a_png_MSG5(pw):
    client = portal_sign_in(Client(), pw.adult.user)
    assert client.post(reverse("portal:message-send"), {"body": "The rash", "file": png_upload()}).status_code == 302
    with tenant_context(practice_id=pw.adult.patient.practice_id):
        assert Attachment.objects.get().content_type == "image/png"


def test_the_notice_follows_the_patients_chosen_channels_MSG6(pw):
    from confide.messaging.models import NotificationPreference, NotificationTopic, Topic

    patient = pw.adult.patient
    with tenant_context(practice_id=patient.practice_id):
        NotificationPreference.objects.create(practice_id=patient.practice_id, patient_id=patient.pk, topic=NotificationTopic.NEW_MESSAGES,
                                              portal=True, sms=False, email=False)  # fmt: skip
    with tenant_context(practice_id=patient.practice_id):
        thread_id = staff_send(pw, patient, "Hello").thread_id
    staff = sign_in(Client(), pw.practice_world.user(Role.FRONT_DESK), pw.practice_world.practice)
    html = staff.post(reverse("messaging:reply", kwargs={"thread_id": thread_id}), {"channel": "portal", "body": "Hi again"}, follow=True).content.decode()
    assert "They will see it when they next sign in." in html
    with tenant_context(practice_id=patient.practice_id):
        assert not Message.objects.filter(topic=Topic.NOTIFICATION).exists()


def test_a_portal_message_asking_for_help_gets_the_911_and_988_reply_at_once_and_the_thread_is_urgent_MSG5(pw):
    client = portal_sign_in(Client(), pw.adult.user)
    response = client.post(reverse("portal:message-send"), {"body": "I want to kill myself tonight"}, follow=True)
    assert response.status_code == 200
    with tenant_context(practice_id=pw.adult.patient.practice_id):
        thread = Thread.objects.get(patient_id=pw.adult.patient.pk, link__isnull=True)
        replies = list(Message.objects.filter(thread=thread, direction=Direction.OUTBOUND, topic="emergency_reply"))
    assert thread.urgent and thread.urgent_reason == "crisis"
    assert len(replies) == 1 and replies[0].channel == Channel.PORTAL
    page = client.get(reverse("portal:messages")).content.decode()
    assert "988" in page and "911" in page
