"""RTS1: "what we keep about you", from the practice's declaration in force, for this patient."""

from __future__ import annotations

from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from tests.portal_world import portal_sign_in


def _held(html: str) -> str:
    return html.split('data-testid="held"', 1)[1].split("</ul>", 1)[0]


def test_rts1_the_categories_held_are_counted_for_this_patient_in_words(client, portal):
    portal_sign_in(client, portal.adult.user)
    html = client.get(reverse("portal:privacy")).content.decode()
    held = _held(html)
    assert "<strong>Medications</strong>: <span data-testid=\"count\">1 medication</span>" in held
    assert "<strong>Allergies</strong>: <span data-testid=\"count\">1 allergy</span>" in held
    assert "health.medications" not in held and "identifiers" not in held  # never codes
    assert "Psychotherapy" not in held  # never in the portal, and nothing that says whether any exist


def test_rts1_purposes_processors_and_retention_come_from_the_declaration(client, portal):
    portal_sign_in(client, portal.adult.user)
    html = client.get(reverse("portal:privacy")).content.decode()
    assert "<strong>Your care</strong><br>To care for you." in html
    assert "<strong>News and offers</strong><br>To send you news and offers. Only if you say yes." in html
    processors = html.split('data-testid="processors"', 1)[1].split("</ul>", 1)[0]
    assert "Email delivery" in processors and "It may hold health details." in processors
    assert "Twilio" not in processors  # not in use
    assert "Kept 7 years. The time starts at: account closed." in html


def test_rts1_the_counts_come_from_one_opening_as_the_patient(client, portal):
    portal_sign_in(client, portal.adult.user)
    client.get(reverse("portal:privacy"))
    patient = portal.adult.patient
    with tenant_context(practice_id=patient.practice_id):
        openings = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED, subject_id=patient.pk, actor_kind="patient")
        full = [e for e in openings if "health.medications" in e.categories]
    assert len(full) == 1 and full[0].purpose == "patient_request" and full[0].actor_role == "self"


def test_a_parent_sees_the_childs_counts_not_their_own(client, portal):
    portal_sign_in(client, portal.parent.user)
    client.post(reverse("portal:switch"), {"link_id": str(portal.child_link.id)})
    html = client.get(reverse("portal:privacy")).content.decode()
    assert "<strong>Parent or guardian</strong>: <span data-testid=\"count\">1 contact</span>" in _held(html)
