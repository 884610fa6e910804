"""SCH1: eight people booking the same slot through the booking form at once — exactly one
appointment is written, the other seven get 409 "no longer free" (PostgreSQL: the exclusion
constraint; SQLite: the check under the writer lock). Real threads, committed requests."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario, signed_in_client


def scenario_eight_book_one_slot(params):
    from django.urls import reverse

    from confide.audit.models import AuditEntry
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.scheduling.models import Appointment
    from tests.portal_world import create_patient
    from tests.scheduling.world import scheduling_world

    world = new_world("booking")
    sw = scheduling_world(world)
    patients = [sw.patient] + [create_patient(world, given_name=f"Racer{i}", email=f"r{i}@example.test") for i in range(1, params["n"])]
    clients = [signed_in_client(world.user(Role.FRONT_DESK), world.practice) for _ in range(params["n"])]
    url = reverse("scheduling:book")

    def book(i):
        response = clients[i].post(url, {
            "patient": str(patients[i].id), "clinician": str(sw.clinician.id), "appointment_type": str(sw.kind.id),
            "date": "2027-03-09", "time": "10:00"})  # fmt: skip
        return [response.status_code, "no longer free" in response.content.decode()]

    outcomes = concurrently(params["n"], book)
    with tenant_context(practice_id=world.practice.id):
        stored = Appointment.objects.count()
    return {
        "errors": [o.error for o in outcomes if not o.ok],
        "results": sorted(tuple(o.value) for o in outcomes if o.ok),
        "stored": stored,
        "entries": AuditEntry.objects.filter(practice_id=world.practice.id, event="scheduling:appointment:booked").count(),
    }


def test_sch1_eight_bookings_of_one_slot_at_once_one_wins(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_eight_book_one_slot, n=8)
    assert result["errors"] == []
    assert result["results"] == [[302, False]] + [[409, True]] * 7
    assert result["stored"] == 1 and result["entries"] == 1
