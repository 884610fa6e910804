"""Break-the-glass in the browser (issue 12 item 6): where the door refuses a tab to a role that
may break the glass for it, the 403 offers it (a typed reason, the warning that the privacy
officer is told); posting a valid reason opens that tab, flagged (and the patient's refused tabs for the allowed
time after, each flagged, naming the first), with the reason stored
encrypted and the privacy officer e-mailed; a bad reason is a 400 and nothing is written.

Today no role is ever refused a tab it could break the glass for (the clinician's treatment
grant is the break-the-glass ceiling: "until care teams exist", docs/architecture.md), so these
tests narrow the clinician's treatment grant (no progress notes), as a care-team rule would."""

from __future__ import annotations

import pytest
from django.core import mail

from confide.access import policy
from confide.access.models import BreakGlassReason
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from tests.records.conftest import url
from tests.security.routes_helpers import assert_no_writes

NOTES = "records:chart-notes"
BREAK = "records:chart-break-glass"
REASON = "Covering for Dr Ames tonight; the patient called in crisis"


@pytest.fixture
def narrowed(monkeypatch):
    """The clinician's treatment grant without progress notes (a care-team rule's effect)."""
    monkeypatch.setitem(policy.CATEGORY_GRANTS[Role.CLINICIAN], Purpose.TREATMENT, policy._CLINICAL_CARE - {policy.NOTES})


def _since(last):
    return list(AuditEntry.objects.filter(id__gt=last).order_by("id"))


def _last():
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()


def test_without_a_narrowed_grant_nothing_is_offered_and_a_forced_attempt_is_a_flagged_refusal(signed_in, chart):
    chart.note(Role.CLINICIAN, signed=True)
    client, address = signed_in(Role.CLINICIAN), url(BREAK, chart.patient)
    assert client.get(url(NOTES, chart.patient)).status_code == 200
    last = _last()
    assert client.post(address, {"tab": "notes", "reason": REASON}).status_code == 403
    [refused] = _since(last)  # the attempt is on the record, flagged
    assert (refused.event, refused.reason, refused.flagged) == (AuditEvent.ACCESS_DENIED.value, "break_glass_not_offered", True)
    with tenant_context(practice_id=chart.patient.practice_id):
        assert not BreakGlassReason.objects.filter(patient_id=chart.patient.id).exists()


def test_front_desk_is_refused_the_notes_with_no_offer(signed_in, chart, narrowed):
    response = signed_in(Role.FRONT_DESK).get(url(NOTES, chart.patient))
    assert response.status_code == 403 and b"break-glass-submit" not in response.content


def test_a_refused_tab_offers_break_the_glass_with_the_warning(signed_in, chart, narrowed):
    response = signed_in(Role.CLINICIAN).get(url(NOTES, chart.patient))
    body = response.content.decode()
    assert response.status_code == 403 and 'data-testid="break-glass-submit"' in body
    assert "The privacy officer is told at once." in body and f'action="{url(BREAK, chart.patient)}"' in body
    assert 'name="tab" value="notes"' in body and "Marisol" not in body  # the refused page names no patient


def test_breaking_the_glass_opens_the_tab_flagged_tells_the_privacy_officer_and_lasts_the_allowed_time(
    signed_in, world, chart, narrowed, django_capture_on_commit_callbacks
):
    chart.note(Role.OWNER, signed=True)
    client = signed_in(Role.CLINICIAN)
    last = _last()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(BREAK, chart.patient), {"tab": "notes", "reason": REASON})
    body = response.content.decode()
    assert response.status_code == 200 and 'data-testid="broke-the-glass"' in body and "Sleeps badly since March." in body
    assert REASON not in body
    [opened] = _since(last)
    assert (opened.event, opened.flagged, opened.reason) == (AuditEvent.CHART_OPENED.value, True, "break-glass")
    assert "health.notes" in opened.categories
    with tenant_context(practice_id=world.a.practice.id):
        assert BreakGlassReason.objects.get(audit_entry_id=opened.id).opened_by_id == world.a.user(Role.CLINICIAN).pk
    [message] = mail.outbox
    assert world.a.user(Role.PRIVACY_OFFICER).email in message.to and REASON not in message.body
    # for the allowed time the refused tab opens again without a new reason, flagged, naming the first opening
    last = _last()
    again = client.get(url(NOTES, chart.patient))
    assert again.status_code == 200 and b'data-testid="broke-the-glass"' in again.content
    [continued] = _since(last)
    assert (continued.flagged, continued.reason, continued.detail) == (True, "break-glass", {"break_glass": True, "continues": opened.id})
    assert len(mail.outbox) == 1  # no second notice: the first opening's reason covers it
    with tenant_context(practice_id=world.a.practice.id):
        assert BreakGlassReason.objects.count() == 1


def test_after_the_allowed_time_a_reason_is_asked_again(signed_in, chart, narrowed):
    import datetime

    from django.utils import timezone

    client = signed_in(Role.CLINICIAN)
    assert client.post(url(BREAK, chart.patient), {"tab": "notes", "reason": REASON}).status_code == 200
    with tenant_context(practice_id=chart.patient.practice_id):  # the opening, made longer ago than the allowed time
        BreakGlassReason.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=policy.BREAK_GLASS_MINUTES + 1))
    last = _last()
    response = client.get(url(NOTES, chart.patient))
    assert response.status_code == 403 and b"break-glass-submit" in response.content
    assert [(e.event, e.reason, e.flagged) for e in _since(last)] == [(AuditEvent.ACCESS_DENIED.value, "break_glass_expired", True)]
    assert client.get(url(NOTES, chart.patient)).status_code == 403  # and asked again after that


def test_another_clinicians_opening_does_not_carry_over(signed_in, chart, narrowed, colleague_client):
    first = signed_in(Role.CLINICIAN)
    assert first.post(url(BREAK, chart.patient), {"tab": "notes", "reason": REASON}).status_code == 200
    assert colleague_client.get(url(NOTES, chart.patient)).status_code == 403


@pytest.mark.parametrize(("reason", "message"), [
    ("", b"Say why you need this chart now."),
    ("too short", b"Say why in at least 10 characters."),
    ("x" * 2001, b"limited to 2,000 characters"),
    ("Emergency\x07 reason here", b"control character"),
])  # fmt: skip
def test_a_bad_reason_is_a_400_and_nothing_is_written(signed_in, chart, narrowed, reason, message):
    client, address = signed_in(Role.CLINICIAN), url(BREAK, chart.patient)
    with assert_no_writes():
        response = client.post(address, {"tab": "notes", "reason": reason})
    assert response.status_code == 400 and message in response.content and b"break-glass-submit" in response.content
    assert not mail.outbox


def test_a_tab_not_offered_cannot_be_broken_into(signed_in, chart, narrowed):
    """The clinical tab is not refused to the clinician: no offer, so no break-the-glass for it."""
    client, address = signed_in(Role.CLINICIAN), url(BREAK, chart.patient)
    with assert_no_writes():
        response = client.post(address, {"tab": "clinical", "reason": REASON})
    assert response.status_code == 400 and b"Choose the part of the chart to open." in response.content
