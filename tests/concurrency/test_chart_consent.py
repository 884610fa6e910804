"""CON1: three people at the desk recording the same patient's agreement to texts at once (one
took the call, two others saw the same page): the ledger gets one grant and one
`consent:granted` entry; the other two are told the choice changed meanwhile (409), nothing
more written. Real threads through the view, each its own session."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario, signed_in_client


def scenario_recording_one_agreement_at_once(params):
    from django.urls import reverse

    from confide.audit.models import AuditEntry
    from confide.consent.models import ConsentEvent
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from tests.portal_world import create_patient

    world = new_world("consent-desk")
    patient = create_patient(world)
    roles = [Role.FRONT_DESK, Role.OWNER, Role.CLINICIAN]
    clients = [signed_in_client(world.user(role), world.practice) for role in roles]
    url = reverse("messaging:chart-consent", kwargs={"patient_id": patient.id})
    data = {"topic": "sms_texts", "action": "grant", "how": "phone", "words": "May we text you? [Yes.]", "seen": ""}

    def press(i):
        return clients[i].post(url, data).status_code

    outcomes = concurrently(len(roles), press)
    with tenant_context(practice_id=world.practice.id):
        events = ConsentEvent.objects.filter(subject_id=str(patient.id), topic="sms_texts").count()
    return {
        "errors": [o.error for o in outcomes if not o.ok],
        "statuses": sorted(o.value for o in outcomes if o.ok),
        "events": events,
        "entries": AuditEntry.objects.filter(practice_id=world.practice.id, event="consent:granted").count(),
    }


def test_con1_three_people_recording_one_agreement_at_once_record_it_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_recording_one_agreement_at_once)
    assert result["errors"] == []
    assert result["statuses"] == [302, 409, 409]
    assert result["events"] == 1 and result["entries"] == 1
