"""The audit viewer for people (issue 12 item 12; AUD1, AUD2): events in words, staff by name
and role, the patient by name for a viewer whose role may see names (read through the door in
one audited list opening per page), results in words, and the patient finder that answers
"who opened this record?" for the privacy officer."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from confide.accounts.services import record_security_event
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from tests.access.conftest import make_patient, staff  # noqa: F401 - fixtures
from tests.audit.viewer_helpers import chart_opened
from tests.conftest import CANARIES

LOG = reverse("audit:log")
EXPORT = reverse("audit:log-export")
FINDER = reverse("records:audit-patient-finder")


def _listed() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(event=AuditEvent.PATIENTS_LISTED).order_by("id"))


def test_aud2_the_viewer_shows_events_people_roles_and_results_in_words(signed_in, world, make_patient):
    patient = make_patient()
    chart_opened(world.a, patient.id)
    clinician = world.a.user(Role.CLINICIAN)
    record_security_event(AuditEvent.MFA_FAILED, user=clinician, detail={"stage": "signin"})
    body = signed_in(Role.PRIVACY_OFFICER).get(LOG).content.decode()
    assert "Opened the chart" in body and "Failed sign-in code" in body
    assert ">records:chart:opened<" not in body and "<code>records:" not in body
    assert CANARIES["name"] in body and ">Clinician<" in body  # the clinician's name and role in words
    assert f">user:{clinician.pk}<" not in body and f"<code>user:{clinician.pk}" not in body
    assert 'data-testid="outcome-problem">Failed<' in body  # the failed code is not "ok"


def test_aud1_the_privacy_officer_sees_the_patient_by_name_in_one_list_opening_per_page(signed_in, world, make_patient):
    patient, other = make_patient(), make_patient(given_name="Tobias", preferred_name="")
    for _ in range(3):
        chart_opened(world.a, patient.id)
    chart_opened(world.a, other.id)
    client = signed_in(Role.PRIVACY_OFFICER)
    before = len(_listed())
    body = client.get(LOG).content.decode()
    assert "Marisol Quintero (Mari)" in body and "Tobias Quintero" in body
    assert FULL_DOB not in body and "marisol@example.test" not in body  # the name only
    [listed] = _listed()[before:]
    assert (listed.purpose, listed.categories, listed.actor_role) == ("operations", ["identifiers.name"], "privacy_officer")
    assert sorted(listed.resource_ids) == sorted([str(patient.id), str(other.id)])


FULL_DOB = "1984-02-11"


def test_aud1_an_id_of_no_patient_is_shortened_with_copy_and_opens_nothing(signed_in, world):
    import uuid

    ghost = uuid.uuid4()
    chart_opened(world.a, ghost)
    before = len(_listed())
    body = signed_in(Role.PRIVACY_OFFICER).get(LOG).content.decode()
    assert f'data-copy="{ghost}"' in body and f"<code>{str(ghost)[:8]}…</code>" in body
    assert f"<code>{ghost}</code>" not in body
    assert "confide/copy-id.js" in body
    assert len(_listed()) == before


def test_aud2_the_export_names_people_and_events_in_words(signed_in, world, make_patient):
    patient = make_patient()
    chart_opened(world.a, patient.id)
    response = signed_in(Role.PRIVACY_OFFICER).get(EXPORT, {"patient": str(patient.id)})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    opened = [r for r in rows if r["event"] == AuditEvent.CHART_OPENED.value]
    assert opened and all((r["what"], r["by"], r["role"], r["result"]) == ("Opened the chart", CANARIES["name"], "Clinician", "Done") for r in opened)
    assert "Marisol" not in str(rows)  # no patient names leave in a file


# --- "Who opened this record?" ------------------------------------------------------------------
@pytest.mark.parametrize("query", ["Marisol", "1984-02-11"])
def test_aud1_the_privacy_officer_finds_a_patient_by_name_or_date_of_birth(signed_in, world, make_patient, query):
    patient = make_patient()
    make_patient(given_name="Tobias", date_of_birth=__import__("datetime").date(1990, 1, 1), email="t@example.test")
    client = signed_in(Role.PRIVACY_OFFICER)
    before = len(_listed())
    response = client.post(FINDER, {"q": query})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Marisol Quintero (Mari)" in body and "Tobias" not in body
    assert f'href="{LOG}?patient={patient.id}"' in body
    assert "marisol@example.test" not in body and "+1 415" not in body  # names only
    [listed] = _listed()[before:]
    assert listed.categories == ["identifiers.name"] and listed.resource_ids == [str(patient.id)]
    # and then: who opened it, by name
    chart_opened(world.a, patient.id)
    page = client.get(LOG, {"patient": str(patient.id)}).content.decode()
    assert 'data-testid="filter-patient-name">Marisol Quintero (Mari)<' in page and CANARIES["name"] in page


def test_the_finder_refuses_an_empty_search_and_names_no_one_it_did_not_find(signed_in, world, make_patient):
    make_patient()
    client = signed_in(Role.PRIVACY_OFFICER)
    assert client.get(FINDER).status_code == 200
    empty = client.post(FINDER, {"q": "  "})
    assert empty.status_code == 400 and b"Type a name" in empty.content
    none = client.post(FINDER, {"q": "Nobody Atall"})
    assert none.status_code == 200 and b'data-testid="finder-none"' in none.content


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING])
def test_the_finder_is_for_audit_log_readers_only(signed_in, world, role):
    assert signed_in(role).post(FINDER, {"q": "Marisol"}).status_code == 403
