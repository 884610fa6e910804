"""AUD2 for people (issue 12 item 12): every event of the catalogue has a label in words, and an
event that is a failure by nature is recorded and shown as one (a failed sign-in code is not "ok")."""

from __future__ import annotations

import pytest

from confide.audit.chain import record
from confide.audit.events import EVENT_LABELS, AuditEvent, outcome_label
from confide.audit.models import AuditEntry


def test_aud2_every_event_in_the_catalogue_has_a_label_in_words():
    missing = sorted(e.value for e in AuditEvent if e not in EVENT_LABELS)
    assert not missing, f"give these events a label in confide/audit/events.py EVENT_LABELS: {missing}"
    for event, label in EVENT_LABELS.items():
        assert label and ":" not in label and label[0].isupper(), (event, label)
    assert EVENT_LABELS[AuditEvent.CHART_OPENED] == "Opened the chart"
    assert EVENT_LABELS[AuditEvent.NOTE_SIGNED] == "Signed a note"
    assert EVENT_LABELS[AuditEvent.MFA_FAILED] == "Failed sign-in code"
    assert EVENT_LABELS[AuditEvent.PASSKEY_SIGNIN] == "Signed in with a passkey"
    assert EVENT_LABELS[AuditEvent.PASSKEY_SIGNIN_FAILED] == "Failed passkey sign-in"


def test_aud2_no_two_events_share_a_label():
    labels = list(EVENT_LABELS.values())
    assert len(labels) == len(set(labels))


@pytest.mark.django_db
@pytest.mark.parametrize(("event", "expected"), [
    (AuditEvent.MFA_FAILED, "failed"), (AuditEvent.SIGNIN_FAILED, "failed"), (AuditEvent.REAUTH_FAILED, "failed"),
    (AuditEvent.SIGNIN_LOCKED_OUT, "refused"), (AuditEvent.MFA_VERIFIED, "ok"),
    (AuditEvent.PASSKEY_SIGNIN_FAILED, "failed"), (AuditEvent.PASSKEY_SIGNIN, "ok"),
])  # fmt: skip
def test_aud2_a_failure_is_recorded_with_a_failed_outcome(event, expected):
    entry = record(event, detail={})
    assert AuditEntry.objects.get(pk=entry.pk).outcome == expected


def test_aud2_an_older_failure_entry_recorded_as_ok_is_shown_as_failed():
    assert outcome_label(AuditEvent.MFA_FAILED, "ok") == "Failed"
    assert outcome_label(AuditEvent.ACCESS_DENIED, "denied") == "Refused"
    assert outcome_label(AuditEvent.CHART_OPENED, "ok") == "Done"
