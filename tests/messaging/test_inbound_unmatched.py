"""The unmatched queue: a text from an unknown number (or one several patients share) waits,
sealed under the practice's key, for staff to file it under a patient or dismiss it; reading the
queue, filing and dismissing are each on record (ids only)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.messaging import unmatched
from confide.messaging.models import Message, Thread, UnmatchedInbound
from confide.vault.errors import PHIAccessDenied
from tests.conftest import sign_in
from tests.messaging.inbound_helpers import STRANGER, give_number, text_in, twilio  # noqa: F401
from tests.portal_world import create_patient


def _row(mw):
    with tenant_context(practice_id=mw.practice_id):
        return UnmatchedInbound.objects.get()


def test_an_unknown_number_goes_to_the_queue_sealed(mw, twilio):
    give_number(mw.practice_id)
    assert text_in("Hi, is this Dr. Lee's office? Ana", sender=STRANGER).status_code == 200
    row = _row(mw)
    assert row.candidates == 0 and row.resolved_at is None
    with pytest.raises(PHIAccessDenied):
        row.body  # noqa: B018 - sealed: no allowance outside the queue's service
    with tenant_context(practice_id=mw.practice_id):
        assert not Message.objects.exists()


def test_a_number_two_patients_share_goes_to_the_queue_with_the_count(mw, twilio):
    give_number(mw.practice_id)
    create_patient(mw.pw, phone="+1 415 555 0142")  # a second patient with the same number
    text_in("Which of us is booked?")
    assert _row(mw).candidates == 2


def test_staff_read_the_queue_on_record_and_file_a_text_under_a_patient(mw, twilio):
    from confide.access.door import MESSAGING_INBOUND_JOB, open_chart
    from confide.core.purposes import Purpose

    give_number(mw.practice_id)
    text_in("Hi, this is Marisol from my work phone", sender=STRANGER)
    rows = unmatched.list_unmatched(mw.front_desk)
    assert [r.body for r in rows] == ["Hi, this is Marisol from my work phone"]
    assert rows[0].number == "(212) 555-0187"
    viewed = AuditEntry.objects.filter(event=AuditEvent.UNMATCHED_VIEWED).latest("at")
    assert viewed.resource_ids == [str(rows[0].id)] and "Marisol" not in str(viewed.detail)
    message = unmatched.do_file_unmatched(actor=mw.front_desk, unmatched_id=rows[0].id, patient_id=mw.patient.id)
    job = MESSAGING_INBOUND_JOB.for_practice(mw.practice_id)
    with open_chart(job, mw.patient.id, Purpose.TREATMENT, categories=job.categories):
        assert message.body == "Hi, this is Marisol from my work phone"
    row = _row(mw)
    assert row.resolution == "filed" and row.patient_id == mw.patient.id and row.message_id == message.pk and row.body is None
    assert AuditEntry.objects.filter(event=AuditEvent.UNMATCHED_FILED, subject_id=mw.patient.id).count() == 1
    assert unmatched.list_unmatched(mw.front_desk) == []
    with pytest.raises(InvalidInput):
        unmatched.do_file_unmatched(actor=mw.front_desk, unmatched_id=row.pk, patient_id=mw.patient.id)


def test_an_urgent_unmatched_text_flags_the_thread_it_is_filed_in(mw, twilio):
    give_number(mw.practice_id)
    text_in("chest pain", sender=STRANGER)
    unmatched.do_file_unmatched(actor=mw.front_desk, unmatched_id=_row(mw).pk, patient_id=mw.patient.id)
    with tenant_context(practice_id=mw.practice_id):
        assert Thread.objects.get(patient_id=mw.patient.id).urgent_reason == "emergency"


def test_dismiss_and_the_roles(mw, twilio, world):
    give_number(mw.practice_id)
    text_in("wrong number?", sender=STRANGER)
    billing = StaffActor.from_membership(mw.pw.memberships[Role.BILLING])
    with pytest.raises(Forbidden):
        unmatched.list_unmatched(billing)
    with pytest.raises(Forbidden):
        unmatched.do_dismiss_unmatched(actor=billing, unmatched_id=_row(mw).pk)
    other = StaffActor.from_membership(world.b.memberships[Role.OWNER])
    from confide.core.errors import NotFound

    with pytest.raises(NotFound):
        unmatched.do_dismiss_unmatched(actor=other, unmatched_id=_row(mw).pk)
    unmatched.do_dismiss_unmatched(actor=mw.front_desk, unmatched_id=_row(mw).pk)
    assert _row(mw).resolution == "dismissed"


def test_the_page_lists_searches_and_files(mw, twilio):
    give_number(mw.practice_id)
    text_in("Hi it's me, new number", sender=STRANGER)
    client = sign_in(Client(), mw.pw.user(Role.FRONT_DESK), mw.pw.practice)
    page = client.get(reverse("messaging:unmatched"))
    assert page.status_code == 200 and "Hi it&#x27;s me, new number" in page.content.decode()
    row = _row(mw)
    found = client.post(reverse("messaging:unmatched"), {"item": str(row.pk), "q": "+1 415 555 0142"})
    assert found.status_code == 200 and "File under" in found.content.decode()
    done = client.post(reverse("messaging:unmatched-file", kwargs={"unmatched_id": row.pk}), {"patient_id": str(mw.patient.id)})
    assert done.status_code == 302
    assert _row(mw).resolution == "filed"
