"""The daily sweep (issue 17 item 3): the privacy officer gets one e-mail a day with the number of
overdue requests and of those due within 3 days (counts and a link, never a name), audited; a
second run the same day sends nothing; due acknowledgements go once."""

from __future__ import annotations

import datetime

import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.rights import services
from confide.rights.models import LetterKind, RightsRequest
from confide.rights.sweep import sweep
from tests.rights.queue_helpers import START, entries, letters

D = datetime.date


def _request(pw, patient, *, due_on, kind="other"):
    with tenant_context(practice_id=pw.practice.id):
        return RightsRequest.objects.create(practice=pw.practice, patient=patient, kind=kind, channel="phone", verification="staff",
                                            received_at=timezone.now() - datetime.timedelta(days=40), due_on=due_on)  # fmt: skip


def test_rts1_the_overdue_alert_goes_once_a_day_with_counts_only(world, portal, django_capture_on_commit_callbacks):
    with time_machine.travel(START, tick=False):
        _request(world.a, portal.adult.patient, due_on=D(2027, 1, 1))  # overdue
        _request(world.a, portal.parent.patient, due_on=D(2027, 1, 6))  # due within 3 days
        _request(world.a, portal.child, due_on=D(2027, 2, 1))  # later: not counted
        with django_capture_on_commit_callbacks(execute=True):
            first = sweep()
            second = sweep()
    assert first.alerted == 1 and second.alerted == 0
    (alert,) = [m for m in mail.outbox if "need attention" in m.subject]
    assert alert.to == [world.a.users[Role.PRIVACY_OFFICER].email]
    assert "overdue: 1" in alert.body and "due within 3 days: 1" in alert.body and "/rights/requests/" in alert.body
    for name in ("Ada", "Portal", "Paula", "Kit"):
        assert name not in alert.body and name not in alert.subject
    (entry,) = entries(world.a, AuditEvent.RIGHTS_SWEEP_ALERTED)
    assert entry.detail == {"day": "2027-01-04", "overdue": 1, "soon": 1, "recipients": 1} and len(entry.resource_ids) == 2
    with time_machine.travel("2027-01-05T15:00:00Z", tick=False), django_capture_on_commit_callbacks(execute=True):
        assert sweep().alerted == 1  # a new day, a new alert
    assert len(entries(world.a, AuditEvent.RIGHTS_SWEEP_ALERTED)) == 2


def test_nothing_due_sends_no_alert(world, portal):
    with time_machine.travel(START, tick=False):
        _request(world.a, portal.adult.patient, due_on=D(2027, 3, 1))
        assert sweep().alerted == 0
    assert entries(world.a, AuditEvent.RIGHTS_SWEEP_ALERTED) == []


def test_rts1_due_acknowledgements_are_sent_once(world, portal):
    with time_machine.travel(START, tick=False):
        row = services.check_open_request(actor=portal.adult.actor, kind="delete")
        assert row.ack_due_on == D(2027, 1, 18)
        assert sweep().acknowledged == 1
        assert sweep().acknowledged == 0
    assert [x.kind for x in letters(row)] == [LetterKind.ACKNOWLEDGEMENT]
    with tenant_context(practice_id=world.a.practice.id):
        assert RightsRequest.objects.get(pk=row.pk).acknowledged_at is not None


def test_the_cli_runs_the_sweep(world, capsys):
    call_command("rights", "sweep")
    assert "sweep:" in capsys.readouterr().out
