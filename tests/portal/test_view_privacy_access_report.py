"""AUD1 / RTS1: "who opened my record" in the portal: staff by name and role, purposes and
categories in words, break-the-glass flagged with its reason, system jobs named, the patient's own
openings summarised; a date filter; CSV and PDF downloads; every view audited (ids only)."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from confide.access.door import REMINDER_JOB, open_chart
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from tests.portal_world import portal_sign_in

REASON = "Collapsed in the waiting room; the covering clinician needs the history now"


def _clinician(world):
    return StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])


def _open_as_clinician(world, patient, **kwargs):
    with tenant_context(practice_id=patient.practice_id):
        with open_chart(_clinician(world), patient.pk, kwargs.pop("purpose", Purpose.TREATMENT), request=None, **kwargs):
            pass


def _page(client, **params):
    return client.get(reverse("portal:privacy"), params)


def _rows(html: str) -> list[str]:
    return html.split('data-testid="access-row"')[1:]


def test_aud1_the_clinician_who_opened_the_chart_is_shown_by_name_role_purpose_and_parts(client, world, portal):
    _open_as_clinician(world, portal.adult.patient, categories={"health.medications", "identifiers.name"})
    portal_sign_in(client, portal.adult.user)
    html = _page(client).content.decode()
    rows = [r for r in _rows(html) if world.a.users[Role.CLINICIAN].display_name in r]
    assert rows, html
    row = rows[0]
    assert '<span data-testid="role">Clinician</span>' in row
    assert "Opened the chart" in row and "Why: Your care" in row
    assert "Medications" in row and "Names" in row
    assert "health.medications" not in row and "treatment" not in row  # words, never codes


def test_aud1_break_the_glass_is_flagged_with_the_reason_typed(client, world, portal):
    with tenant_context(practice_id=portal.adult.patient.practice_id):
        with open_chart(_clinician(world), portal.adult.patient.pk, Purpose.OPERATIONS, categories={"health.background"},
                        break_glass_reason=REASON):  # fmt: skip
            pass
    portal_sign_in(client, portal.adult.user)
    html = _page(client).content.decode()
    flagged = [r for r in _rows(html) if 'data-testid="break-glass"' in r]
    assert len(flagged) == 1
    assert "Emergency access" in flagged[0] and REASON in flagged[0]
    # The reason was read through the door as the registered job: its own opening is on record.
    with tenant_context(practice_id=portal.adult.patient.practice_id):
        job = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED, actor_kind="system", actor_id="access-report-job").get()
    assert job.categories == ["operations.break_glass_reason"] and job.subject_id == portal.adult.patient.pk


def test_system_jobs_are_named_as_automatic(client, world, portal):
    patient = portal.adult.patient
    with tenant_context(practice_id=patient.practice_id):
        job = REMINDER_JOB.for_practice(patient.practice_id)
        with open_chart(job, patient.pk, Purpose.TREATMENT, categories=job.categories):
            pass
    portal_sign_in(client, portal.adult.user)
    html = _page(client).content.decode()
    assert any("Appointment reminders (automatic)" in r and "Automatic" in r for r in _rows(html))


def test_the_patients_own_openings_are_summarised_not_listed(client, portal):
    portal_sign_in(client, portal.adult.user)
    for _ in range(3):
        client.get(reverse("portal:home"))
    html = _page(client).content.decode()
    assert not any("You" in r.split("</strong>")[0] for r in _rows(html))
    own = html.split('data-testid="own-activity"', 1)[1].split("</ul>", 1)[0]
    assert "You:" in own and "times" in own


def test_a_parent_sees_their_own_openings_of_the_childs_record_as_theirs(client, world, portal):
    _open_as_clinician(world, portal.child, categories={"identifiers.name"})
    portal_sign_in(client, portal.parent.user)
    client.post(reverse("portal:switch"), {"link_id": str(portal.child_link.id)})
    html = _page(client).content.decode()
    assert any(world.a.users[Role.CLINICIAN].display_name in r for r in _rows(html))
    own = html.split('data-testid="own-activity"', 1)[1].split("</ul>", 1)[0]
    assert "You (as parent or guardian)" in own


def test_another_patients_openings_never_appear(client, world, portal):
    _open_as_clinician(world, portal.parent.patient, categories={"identifiers.name"})
    portal_sign_in(client, portal.adult.user)
    html = _page(client).content.decode()
    # The clinician registered this patient (tests/portal_world.py); they never opened the chart.
    assert not any(world.a.users[Role.CLINICIAN].display_name in r and "Opened the chart" in r for r in _rows(html))


def test_aud1_every_view_of_the_report_is_audited_with_ids_only(client, portal):
    portal_sign_in(client, portal.adult.user)
    _page(client, date_from="2026-01-01")
    patient = portal.adult.patient
    with tenant_context(practice_id=patient.practice_id):
        entry = AuditEntry.objects.filter(event=AuditEvent.ACCESS_REPORT_VIEWED).get()
    assert entry.subject_id == patient.pk and entry.actor_kind == "patient" and entry.actor_id == str(portal.adult.user.pk)
    assert entry.detail["format"] == "page" and entry.detail["from"] == "2026-01-01" and entry.detail["to"] == ""
    assert set(entry.detail) == {"format", "from", "to", "rows"}


def test_the_date_filter_leaves_out_what_is_outside_it(client, world, portal):
    _open_as_clinician(world, portal.adult.patient, categories={"identifiers.name"})
    portal_sign_in(client, portal.adult.user)
    today = timezone.now().astimezone(datetime.UTC).date()
    name = world.a.users[Role.CLINICIAN].display_name
    assert any(name in r for r in _rows(_page(client, date_from=str(today), date_to=str(today)).content.decode()))
    tomorrow = today + datetime.timedelta(days=1)
    html = _page(client, date_from=str(tomorrow)).content.decode()
    assert not _rows(html)
    assert 'data-testid="access-empty"' in html


@pytest.mark.parametrize("params, message", [
    ({"date_from": "06/12/2026"}, "The From date is not a date we can read"),
    ({"date_to": "2026-13-40"}, "The To date is not a date we can read"),
    ({"date_from": "2026-12-06", "date_to": "2026-01-01"}, "The From date is after the To date"),
])  # fmt: skip
def test_a_bad_date_is_a_message_with_status_400(client, portal, params, message):
    portal_sign_in(client, portal.adult.user)
    response = _page(client, **params)
    assert response.status_code == 400
    assert message in response.content.decode()
    csv_response = client.get(reverse("portal:access-csv"), params)
    assert csv_response.status_code == 400 and message in csv_response.content.decode()


def test_aud1_the_csv_download_holds_the_filtered_rows_in_words_and_is_audited(client, world, portal):
    _open_as_clinician(world, portal.adult.patient, categories={"identifiers.name"})
    portal_sign_in(client, portal.adult.user)
    response = client.get(reverse("portal:access-csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"] and "who-opened-my-record-" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["date and time (UTC)", "who", "role", "what"]
    assert any(r[1] == world.a.users[Role.CLINICIAN].display_name and r[2] == "Clinician" for r in rows[1:])
    with tenant_context(practice_id=portal.adult.patient.practice_id):
        assert AuditEntry.objects.filter(event=AuditEvent.ACCESS_REPORT_VIEWED, detail__format="csv").count() == 1


def test_aud1_the_pdf_download_is_a_pdf_and_is_audited(client, world, portal):
    _open_as_clinician(world, portal.adult.patient, categories={"identifiers.name"})
    portal_sign_in(client, portal.adult.user)
    response = client.get(reverse("portal:access-pdf"), {"date_from": "2026-01-01"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    with tenant_context(practice_id=portal.adult.patient.practice_id):
        assert AuditEntry.objects.filter(event=AuditEvent.ACCESS_REPORT_VIEWED, detail__format="pdf").count() == 1


class _WithMinorControlled:
    """The declaration in force with a per-category exception list (the minor controls their
    health background); the door already reads it (see tests/portal/test_view_record.py)."""

    def __init__(self, declaration, categories):
        self._declaration, self._categories = declaration, frozenset(categories)

    def __getattr__(self, name):
        return getattr(self._declaration, name)

    def minor_controlled_categories(self):
        return self._categories


def test_a_parent_is_not_told_the_reason_for_an_emergency_opening_of_what_the_minor_controls(client, world, portal):
    from unittest import mock

    from confide.policy import services as policy_services

    with tenant_context(practice_id=portal.child.practice_id):
        with open_chart(_clinician(world), portal.child.pk, Purpose.OPERATIONS, categories={"health.background"}, break_glass_reason=REASON):
            pass
    real = policy_services.declaration_in_force

    def declaration_in_force(*args, **kwargs):
        return _WithMinorControlled(real(*args, **kwargs), {"health.background"})

    portal_sign_in(client, portal.parent.user)
    client.post(reverse("portal:switch"), {"link_id": str(portal.child_link.id)})
    with mock.patch.object(policy_services, "declaration_in_force", declaration_in_force):
        response = _page(client)
    assert response.status_code == 200
    html = response.content.decode()
    [flagged] = [r for r in _rows(html) if 'data-testid="break-glass"' in r]
    assert "Emergency access" in flagged and "Ask us for the reason given." in flagged and REASON not in html
    held = html.split('data-testid="held"', 1)[1].split("</ul>", 1)[0]
    assert "Health background" not in held  # not counted for the parent either
    with tenant_context(practice_id=portal.child.practice_id):
        assert not AuditEntry.objects.filter(actor_kind="system", actor_id="access-report-job").exists()  # the reason was never read
