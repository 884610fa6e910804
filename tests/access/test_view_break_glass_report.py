"""The break-the-glass report page: the privacy officer sees every opening of the practice with
the typed reason; nobody else sees the page; another practice's openings never appear."""

from __future__ import annotations

from django.urls import reverse

from confide.access.door import open_chart
from confide.core.purposes import Purpose
from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from tests.audit.sealing import seal_all
from tests.access.conftest import entries

REASON = "Fell in the car park; allergies needed before giving anything"
URL = reverse("access:break-glass-report")


def _break_glass(staff, patient_id, where=None, reason=REASON):
    with open_chart(staff(Role.CLINICIAN, where), patient_id, Purpose.OPERATIONS, categories={"health.background"}, break_glass_reason=reason):
        pass


def test_the_privacy_officer_sees_each_opening_with_who_and_why(world, staff, make_patient, signed_in):
    patient = make_patient()
    _break_glass(staff, patient.id)
    seal_all()  # the sealer's pass: the report names the opening by its seq
    page = signed_in(Role.PRIVACY_OFFICER).get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    opened = entries(AuditEvent.CHART_OPENED)[-2]  # the flagged opening; the last one is the report's own reading
    assert opened.flagged
    assert f'data-testid="opening-{opened.seq}"' in html
    assert REASON in html and world.a.user(Role.CLINICIAN).display_name in html and ">Clinician, for operations<" in html
    # the patient by name (issue 12 item 6), read in the same opening as the reason: one per patient
    assert 'data-testid="opening-patient">Marisol Quintero<' in html and "marisol@example.test" not in html
    reading = entries(AuditEvent.CHART_OPENED)[-1]
    assert (reading.purpose, reading.categories) == ("operations", ["identifiers.name", "operations.break_glass_reason"])


def test_another_practices_openings_never_appear(world, staff, make_patient, signed_in):
    other = make_patient(where=world.b)
    _break_glass(staff, other.id, where=world.b, reason="Practice B's own emergency, history needed")
    html = signed_in(Role.PRIVACY_OFFICER).get(URL).content.decode()
    assert "Practice B's own emergency" not in html and str(other.id) not in html
    assert "No chart has been opened with break-the-glass." in html


def test_the_notice_links_to_the_report(world, staff, make_patient, mailoutbox, django_capture_on_commit_callbacks):
    patient = make_patient()
    with django_capture_on_commit_callbacks(execute=True):
        _break_glass(staff, patient.id)
    [message] = mailoutbox
    assert URL in message.body


def test_the_owner_may_review_too(world, staff, make_patient, signed_in):
    _break_glass(staff, make_patient().id)
    assert REASON in signed_in(Role.OWNER).get(URL).content.decode()


def test_clinicians_front_desk_and_billing_are_refused(signed_in):
    for role in (Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING):
        assert signed_in(role).get(URL).status_code == 403, role


def test_the_privacy_officer_marks_an_opening_reviewed_once(world, staff, make_patient, signed_in):
    from confide.access.models import BreakGlassReason
    from confide.core.tenancy import tenant_context

    _break_glass(staff, make_patient().id)
    with tenant_context(practice_id=world.a.practice.id):
        opening = BreakGlassReason.objects.get()
    client = signed_in(Role.PRIVACY_OFFICER)
    assert 'data-testid="mark-reviewed"' in client.get(URL).content.decode()
    reviewed = reverse("access:break-glass-reviewed", kwargs={"opening_id": opening.pk})
    first = client.post(reviewed, follow=True)
    assert first.status_code == 200 and b"Marked reviewed." in first.content
    assert f"Reviewed by {world.a.user(Role.PRIVACY_OFFICER).display_name}" in first.content.decode()
    again = client.post(reviewed, follow=True)
    assert b"Already marked reviewed." in again.content
    [entry] = entries(AuditEvent.BREAK_GLASS_REVIEWED)
    flagged = [e for e in entries(AuditEvent.CHART_OPENED) if e.flagged]
    assert entry.resource_ids == [str(flagged[0].id)] and entry.actor_role == "privacy_officer"


def test_another_practices_opening_cannot_be_marked(world, staff, make_patient, signed_in):
    from confide.access.models import BreakGlassReason
    from confide.core.tenancy import tenant_context

    _break_glass(staff, make_patient(where=world.b).id, where=world.b)
    with tenant_context(practice_id=world.b.practice.id):
        theirs = BreakGlassReason.objects.get()
    response = signed_in(Role.PRIVACY_OFFICER).post(reverse("access:break-glass-reviewed", kwargs={"opening_id": theirs.pk}))
    assert response.status_code == 404
    with tenant_context(practice_id=world.b.practice.id):
        assert BreakGlassReason.objects.get().reviewed_at is None
