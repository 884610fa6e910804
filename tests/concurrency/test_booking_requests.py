"""Booking requests under parallel requests (issue 16 item 8, part "booking").

Visitors racing for one slot on the public page, each from a browser and an address of their
own, with a form token of their own: exactly one request is kept (the partial unique constraint
on clinician + start of pending requests; under SQLite the writer lock), the others are told the
slot was just taken. Several of the front desk accepting one request at once: exactly one
appointment, one chart, the others told it was reviewed already."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

VISITORS = 6
REVIEWERS = 4


def _booking_world(world):
    from tests.directory.booking_world import booking_world

    return booking_world(world)


def scenario_visitors_race_for_one_slot(params):
    from django.test import Client
    from django.urls import reverse

    from confide.core.tenancy import tenant_context
    from confide.directory.models import BookingRequest
    from tests.directory.booking_world import form_data

    world = new_world("booking-race")
    bw = _booking_world(world)
    slot = bw.slots()[0]
    url = reverse("directory:book", kwargs={"practice_slug": world.practice.slug})
    forms = [form_data(bw, slot=slot, email=f"visitor{i}@example.test") for i in range(params["n"])]

    def visit(i):
        response = Client(REMOTE_ADDR=f"198.51.100.{i + 1}").post(url, forms[i])
        body = response.content.decode()
        if response.status_code == 200 and 'data-testid="received"' in body:
            return "received"
        if response.status_code == 409 and "just taken" in body:
            return "taken"
        return str(response.status_code)

    outcomes = concurrently(params["n"], visit)
    with tenant_context(practice_id=world.practice.id):
        stored = BookingRequest.objects.filter(starts_at=slot.starts_at).count()
    return {"kinds": sorted(str(o.value) for o in outcomes), "errors": [o.error for o in outcomes if not o.ok], "stored": stored}


def test_two_visitors_for_one_slot_make_one_request(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_visitors_race_for_one_slot, n=VISITORS)
    assert result["errors"] == []
    assert result["stored"] == 1
    assert result["kinds"] == sorted(["received"] + ["taken"] * (VISITORS - 1)), result["kinds"]


def scenario_reviewers_accept_one_request(params):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.directory import booking
    from confide.records.models import Patient
    from confide.scheduling.models import Appointment, Source
    from tests.directory.booking_world import request_booking

    world = new_world("booking-accept")
    bw = _booking_world(world)
    row = request_booking(bw)
    desk = StaffActor.from_membership(world.memberships[Role.FRONT_DESK])
    with tenant_context(practice_id=world.practice.id):
        patients_before = Patient.objects.count()

    def accept(i):
        with tenant_context(practice_id=world.practice.id):
            booking.do_accept(actor=desk, request_id=row.pk)
        return "accepted"

    outcomes = concurrently(params["n"], accept)
    with tenant_context(practice_id=world.practice.id):
        appointments = Appointment.objects.filter(source=Source.WEBSITE).count()
        new_patients = Patient.objects.count() - patients_before
    return {"values": [o.value for o in outcomes if o.ok], "errors": sorted(o.error.split(":")[0] for o in outcomes if not o.ok),
            "appointments": appointments, "new_patients": new_patients}  # fmt: skip


def test_two_staff_accepting_one_request_make_one_appointment(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_reviewers_accept_one_request, n=REVIEWERS)
    assert result["values"] == ["accepted"]
    assert set(result["errors"]) <= {"AlreadyReviewed", "NotFound", "AccessRefused"} and len(result["errors"]) == REVIEWERS - 1, result
    assert result["appointments"] == 1 and result["new_patients"] == 1
