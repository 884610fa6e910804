"""MSG1: two people assigning one conversation at once — one assignment wins, the other is told
"someone changed it meanwhile", and the log holds one `messaging:thread:assigned` entry.
Real threads through the views, each its own signed-in session (harness.py)."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario, signed_in_client


def scenario_two_people_assign_one_conversation(params):
    from django.urls import reverse

    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.messaging.models import Thread
    from confide.messaging.services import receive_message
    from tests.portal_world import create_patient

    world = new_world("inbox")
    patient = create_patient(world)
    with tenant_context(practice_id=world.practice.id):
        message = receive_message(practice_id=world.practice.id, patient_id=patient.id, channel="portal", body="Who answers?")
    roles = [Role.FRONT_DESK, Role.OWNER, Role.CLINICIAN][: params["n"]]
    clients = [signed_in_client(world.user(role), world.practice) for role in roles]
    url = reverse("messaging:thread-assign", kwargs={"thread_id": message.thread_id})

    def assign(i):
        return clients[i].post(url, {"assignee": "me", "seen": ""}).status_code

    outcomes = concurrently(len(roles), assign)
    with tenant_context(practice_id=world.practice.id):
        assigned = Thread.objects.get(pk=message.thread_id).assigned_to_id
    return {
        "errors": [o.error for o in outcomes if not o.ok],
        "statuses": sorted(o.value for o in outcomes if o.ok),
        "assigned_is_a_racer": assigned in {world.user(r).pk for r in roles},
        "entries": AuditEntry.objects.filter(practice_id=world.practice.id, event=AuditEvent.THREAD_ASSIGNED.value).count(),
    }


def test_msg1_three_people_assigning_one_conversation_at_once_one_wins(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_two_people_assign_one_conversation, n=3)
    assert result["errors"] == []
    assert result["statuses"] == [302, 409, 409]
    assert result["assigned_is_a_racer"] and result["entries"] == 1
