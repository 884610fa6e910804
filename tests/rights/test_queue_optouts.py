"""RTS5 and CON3: an opt-out (sale/share, sensitive information, profiling) filed for a known
patient takes effect the moment it is filed — in the consent ledger, with the request closed as
done and its letter — with no staff action; and the patient who opted out of everything still
gets everything that does not depend on the data. RTS8: Shine the Light, once per calendar year."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.consent import services as consent
from confide.consent.topics import Topic
from confide.core.errors import Forbidden
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.messaging.models import Status
from confide.policy.egress import EgressRefused, check_egress
from confide.rights import decisions, services
from confide.rights.models import LetterKind, RequestStatus
from tests.portal_world import portal_sign_in
from tests.rights.queue_helpers import START, entries, letter_text, letters, staff

KINDS = {"opt_out_sale": Topic.SALE_SHARE_OPT_OUT, "limit_sensitive": Topic.LIMIT_SENSITIVE, "opt_out_profiling": Topic.PROFILING_OPT_OUT}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_rts5_an_opt_out_takes_effect_on_filing(world, portal, kind):
    subject = consent.Subject.patient(world.a.practice.id, portal.adult.patient.pk)
    assert consent.state(subject, KINDS[kind]).granted is False
    with time_machine.travel(START, tick=False):
        row = services.check_open_request(actor=portal.adult.actor, kind=kind)
    assert consent.state(subject, KINDS[kind]).granted is True  # the ledger, at once
    assert row.status == RequestStatus.DONE and row.decided_by_id is None
    (answer,) = letters(row)
    assert answer.kind == LetterKind.FULFILMENT
    text = letter_text(world.a, answer)
    assert "We have done what you asked, on 4 January 2027" in text and "reminders, the patient portal and booking" in text
    (applied,) = entries(world.a, AuditEvent.RIGHTS_OPT_OUT_APPLIED)
    assert applied.detail == {"topic": KINDS[kind].value} and applied.resource_ids == [str(row.pk)]
    # nothing waits in the queue
    assert services.list_open_requests(actor=staff(world.a)) == []


def test_rts5_a_staff_logged_opt_out_is_recorded_by_the_staff_member(world, portal):
    from django.utils import timezone

    from confide.rights.models import RightsRequest

    with tenant_context(practice_id=world.a.practice.id):
        row = RightsRequest.objects.create(practice=world.a.practice, patient=portal.adult.patient, kind="opt_out_sale", channel="phone",
                                           verification="not_required", received_at=timezone.now(), due_on=timezone.localdate())  # fmt: skip
    with pytest.raises(Forbidden):
        decisions.on_filed(row, actor=staff(world.a, Role.BILLING))  # billing does not record consent
    decisions.on_filed(row, actor=staff(world.a))
    subject = consent.Subject.patient(world.a.practice.id, portal.adult.patient.pk)
    assert consent.state(subject, Topic.SALE_SHARE_OPT_OUT).granted is True
    assert consent.recent_events(subject, 1)[0].recorded_by_id == world.a.users[Role.PRIVACY_OFFICER].pk


def test_rts5_con3_an_opted_out_patient_keeps_messages_portal_and_booking(world, portal):
    from confide.messaging.services import send_message

    for kind in KINDS:
        services.check_open_request(actor=portal.adult.actor, kind=kind)
    patient_id = portal.adult.patient.pk
    # the egress gate: a sale or "sharing" purpose is refused for everyone, opted out or not
    with pytest.raises(EgressRefused) as refused:
        check_egress(practice_id=world.a.practice.id, processor_id="email", purpose="sale", categories={"contact.email"},
                     subject_ids=[patient_id])  # fmt: skip
    assert refused.value.code == "unknown_purpose"
    # … while what does not depend on the data still goes: a message from the practice through the send gate,
    message = send_message(staff(world.a, Role.CLINICIAN), patient_id=patient_id, channel="portal", topic="staff_reply", body="See you Monday.")
    assert message.status != Status.REFUSED
    # the portal's pages, booking included
    client = Client()
    portal_sign_in(client, portal.adult.user)
    for name in ("portal:home", "portal:privacy", "portal:record", "portal:appointments"):
        assert client.get(reverse(name)).status_code == 200, name


def test_rts8_shine_the_light_is_answered_from_the_declaration_none_by_construction(world, portal):
    with time_machine.travel(START, tick=False):
        row = services.check_open_request(actor=portal.adult.actor, kind="shine_the_light")
    assert row.status == RequestStatus.DONE
    text = letter_text(world.a, letters(row)[0])
    assert "Our answer: none." in text and "in 2027" in text and "1798.83" in text


def test_rts8_a_second_shine_the_light_in_the_same_year_is_answered_already_answered(world, portal):
    with time_machine.travel(START, tick=False):
        first = services.check_open_request(actor=portal.adult.actor, kind="shine_the_light")
    with time_machine.travel("2027-06-01T10:00:00Z", tick=False):
        second = services.check_open_request(actor=portal.adult.actor, kind="shine_the_light")
    assert first.status == second.status == RequestStatus.DONE
    text = letter_text(world.a, letters(second)[0])
    assert "We answered it on 4 January 2027" in text and "one answer per calendar year" in text
    with time_machine.travel("2028-01-03T10:00:00Z", tick=False):
        third = services.check_open_request(actor=portal.adult.actor, kind="shine_the_light")
    assert "Our answer: none." in letter_text(world.a, letters(third)[0])


def test_rts8_the_categories_come_from_the_declarations_processors():
    from types import SimpleNamespace

    from confide.policy.loader import load_default

    assert decisions.shine_the_light_categories(load_default()) == []
    third = SimpleNamespace(role="third_party", purposes=["marketing"], categories=["contact.email"])
    assert decisions.shine_the_light_categories(SimpleNamespace(processors=[third])) == ["contact.email"]
