"""MSG5/MSG3: two or three people answering one urgent flag at once — "Mark as handled" clears
an emergency once (one `messaging:thread:urgent-cleared` entry), and a free-text "stop" is
answered once (one review entry); the others are told it was done meanwhile (a redirect with
words, nothing more changed). Real threads through the views, each its own session."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario, signed_in_client


def scenario_answering_one_flag_at_once(params):
    from django.urls import reverse

    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.messaging.models import Thread
    from confide.messaging.services import receive_message
    from tests.portal_world import create_patient

    world = new_world("urgent")
    patient = create_patient(world)
    reason = params["reason"]
    with tenant_context(practice_id=world.practice.id):
        message = receive_message(practice_id=world.practice.id, patient_id=patient.id, channel="portal", body="Help")
        Thread.objects.filter(pk=message.thread_id).update(urgent=True, urgent_reason=reason)
    roles = [Role.FRONT_DESK, Role.OWNER, Role.CLINICIAN]
    clients = [signed_in_client(world.user(role), world.practice) for role in roles]
    review = reason == "opt-out-review"
    url = reverse("messaging:thread-opt-out-review" if review else "messaging:thread-handled", kwargs={"thread_id": message.thread_id})
    data = {"decision": "keep"} if review else {"seen": reason}
    event = AuditEvent.THREAD_FLAGGED if review else AuditEvent.THREAD_URGENT_CLEARED

    def press(i):
        return clients[i].post(url, data).status_code

    outcomes = concurrently(len(roles), press)
    with tenant_context(practice_id=world.practice.id):
        thread = Thread.objects.get(pk=message.thread_id)
    answers = AuditEntry.objects.filter(practice_id=world.practice.id, event=event.value, actor_kind="user")
    return {
        "errors": [o.error for o in outcomes if not o.ok],
        "statuses": sorted(o.value for o in outcomes if o.ok),
        "cleared": not thread.urgent and thread.urgent_reason == "",
        "entries": answers.count(),
    }


def test_msg5_three_people_marking_one_emergency_handled_at_once_clear_it_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_answering_one_flag_at_once, reason="emergency")
    assert result["errors"] == []
    assert result["statuses"] == [302, 302, 302]
    assert result["cleared"] and result["entries"] == 1


def test_msg3_three_people_answering_one_request_to_stop_at_once_answer_it_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_answering_one_flag_at_once, reason="opt-out-review")
    assert result["errors"] == []
    assert result["statuses"] == [302, 302, 302]
    assert result["cleared"] and result["entries"] == 1
