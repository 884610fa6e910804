"""SCH1/MSG2: two (or six) reminder sweeps racing send each due reminder once: the claim is a
conditional update (planned -> sending with a lease) and the final write is conditional on that
lease. Real threads, each its own connection and commit."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

THREADS = 6


def scenario_reminder_sweeps_race(params):
    import datetime

    import time_machine

    from confide.core.tenancy import tenant_context
    from confide.messaging.models import Message
    from confide.scheduling import reminders
    from confide.scheduling.models import Reminder
    from tests.scheduling.reminder_helpers import reminder_world
    from tests.scheduling.world import book_at

    world = new_world("reminders")
    sw = reminder_world(world)
    appointment = book_at(sw, "2027-03-10 15:00")
    due = datetime.datetime(2027, 3, 8, 20, 0, tzinfo=datetime.UTC)
    with time_machine.travel(due, tick=False):
        swept = concurrently(params["n"], lambda i: reminders.sweep(now=due))
        with tenant_context(practice_id=world.practice.id):
            first = Reminder.objects.filter(appointment_id=appointment.pk, offset_minutes=2880).values_list("pk", flat=True).get()
        # The same reminder sent directly by many at once (a sweep and a retry meeting).
        again = concurrently(params["n"], lambda i: reminders.send_due(first, world.practice.id, now=due))
    with tenant_context(practice_id=world.practice.id):
        messages = Message.objects.filter(patient_id=sw.patient.id, topic="reminder").count()
        statuses = sorted(Reminder.objects.filter(appointment_id=appointment.pk).values_list("status", flat=True))
    return {
        "errors": [o.error for o in swept + again if not o.ok],
        "handled": sum(o.value or 0 for o in swept),
        "again": sorted(str(o.value) for o in again),
        "messages": messages,
        "statuses": statuses,
    }


def test_sch1_racing_reminder_sweeps_send_each_reminder_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_reminder_sweeps_race, n=THREADS)
    assert result["errors"] == [], result
    assert result["handled"] == 1, result
    assert result["again"] == ["taken"] * THREADS, result
    assert result["messages"] == 1, result
    assert result["statuses"] == ["planned", "sent"], result
