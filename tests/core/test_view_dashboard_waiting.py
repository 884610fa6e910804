"""The dashboard's counts of what waits today (issue 12 item 19): consultations waiting, the
member's own notes to sign, break-the-glass openings to review, policy changes pending — each
a link to the page that handles it, shown per the role's permissions, and counted without
opening any chart (no audit entry, nothing decrypted)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from confide.access import policy
from confide.access.door import open_chart
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from tests.access.conftest import make_patient, staff  # noqa: F401 - fixtures

DASHBOARD = reverse("core:dashboard")
KEYS = {"consultations", "notes-to-sign", "break-glass", "policy-pending"}


def _counts(body: str) -> dict[str, int]:
    found = re.findall(r'data-testid="waiting-([\w-]+)">\s*<a href="([^"]+)">[^<]+</a>\s*<span[^>]*data-testid="waiting-count">(\d+)', body)
    return {key: int(n) for key, _, n in found}


def _links(body: str) -> dict[str, str]:
    return {key: href for key, href, _ in re.findall(r'data-testid="waiting-([\w-]+)">\s*<a href="([^"]+)">[^<]+</a>\s*<span[^>]*data-testid="waiting-count">(\d+)', body)}


@pytest.mark.parametrize(("role", "shown"), [
    (Role.OWNER, KEYS), (Role.CLINICIAN, {"consultations", "notes-to-sign"}), (Role.FRONT_DESK, set()),
    (Role.BILLING, set()), (Role.PRIVACY_OFFICER, {"break-glass", "policy-pending"}),
])  # fmt: skip
def test_each_role_sees_the_counts_its_permissions_allow(signed_in, role, shown):
    body = signed_in(role).get(DASHBOARD).content.decode()
    assert set(_counts(body)) == shown


def test_the_counts_are_right_link_to_their_pages_and_open_no_chart(signed_in, world, staff, make_patient):
    from confide.records import notes

    patient = make_patient()
    clinician = staff(Role.CLINICIAN)
    from confide.core.tenancy import tenant_context

    with tenant_context(practice_id=world.a.practice.id):
        notes.do_create_note(actor=clinician, patient_id=patient.id, template="free", content={"text": "Draft."})
        notes.do_create_note(actor=staff(Role.OWNER), patient_id=patient.id, template="free", content={"text": "Not mine."})
    with open_chart(clinician, patient.id, Purpose.OPERATIONS, categories={policy.BACKGROUND}, break_glass_reason="An emergency, history needed"):
        pass
    client = signed_in(Role.CLINICIAN)
    last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    body = client.get(DASHBOARD).content.decode()
    assert not AuditEntry.objects.filter(id__gt=last).exists()  # counting opened nothing
    assert _counts(body) == {"consultations": 0, "notes-to-sign": 1}
    assert _links(body)["notes-to-sign"] == reverse("records:chart-notes", kwargs={"patient_id": patient.id})
    assert "Draft." not in body and "Marisol" not in body
    officer = signed_in(Role.PRIVACY_OFFICER).get(DASHBOARD).content.decode()
    assert _counts(officer) == {"break-glass": 1, "policy-pending": 0}
    assert _links(officer)["break-glass"] == reverse("access:break-glass-report")
