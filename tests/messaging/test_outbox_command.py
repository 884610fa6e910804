"""`confide outbox`: the console outbox listed by ids and blind ids; bodies only for a privacy
officer, through the chart door, audited; bad input is a clear error and a non-zero exit."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.messaging.conftest import deliver_now, local_time, send

BODY = "canary-outbox-body: bring your inhaler"


def _outbox(*args) -> str:
    out = StringIO()
    call_command("outbox", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def sent(mw):
    from tests.consent.helpers import by_phone

    by_phone(mw.pw, mw.patient.id, "phi_by_sms")
    with time_machine.travel(local_time(11), tick=False):
        message = send(mw, body=BODY)
        assert deliver_now(message) == "sent"
    return message


def test_outbox_lists_ids_and_blind_ids_never_the_body_or_number_MSG1(sent, mw):
    text = _outbox()
    assert str(sent.practice_id) not in text
    assert "sms" in text and "sent" in text and BODY not in text and "555" not in text
    [row] = json.loads(_outbox("--json"))
    assert row["message"] == str(sent.pk) and row["status"] == "sent" and row["channel"] == "sms"
    assert len(row["recipient"]) >= 16 and "body" not in row


def test_show_body_as_the_privacy_officer_opens_the_door_and_is_audited(sent, mw):
    officer = mw.pw.user(Role.PRIVACY_OFFICER)
    [row] = json.loads(_outbox("--json", "--show-body", "--officer", officer.email.upper()))
    assert row["body"] == BODY
    with tenant_context(practice_id=mw.practice_id):
        opened = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED, actor_role=Role.PRIVACY_OFFICER, subject_id=mw.patient.id)
        [entry] = list(opened)
    assert entry.purpose == "operations" and "communications.messages" in entry.categories
    assert BODY in _outbox("--show-body", "--officer", officer.email)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--show-body"], "needs --officer"),
        (["--officer", "someone@example.test"], "for --show-body only"),
        (["--show-body", "--officer", "nobody@example.test"], "not an active member"),
        (["--practice", "no-such-practice"], "no practice"),
        (["--limit", "0"], "--limit"),
    ],
)
def test_bad_input_is_a_clear_error(sent, args, error):
    with pytest.raises(CommandError, match=error):
        _outbox(*args)


def test_a_member_who_is_not_the_privacy_officer_may_not_read_bodies(sent, mw):
    clerk = mw.pw.user(Role.FRONT_DESK)
    with pytest.raises(CommandError, match="not a privacy officer"):
        _outbox("--show-body", "--officer", clerk.email)


def test_the_cli_exits_non_zero_on_bad_input(sent, capsys):
    from confide.cli import main
    import sys

    argv = sys.argv
    sys.argv = ["confide", "outbox", "--show-body", "--officer", "nobody@example.test"]
    try:
        with pytest.raises(SystemExit) as exit_:
            main()
    finally:
        sys.argv = argv
    assert exit_.value.code != 0
    assert "not an active member" in capsys.readouterr().err
