"""SCH1 in the portal: several portal patients booking the same free slot at once, each in
their own session through the booking view: exactly one appointment is made; every other
request is told the time is no longer free (409) and wrote nothing."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, forget_user_on_cleanup, new_world, run_scenario

PATIENTS = 4


def scenario_portal_patients_race_for_one_slot(params):
    import uuid

    from django.test import Client
    from django.urls import reverse

    from confide.core.actors import PatientActor
    from confide.core.tenancy import tenant_context
    from confide.portal.appointments import offered_slots
    from confide.scheduling.models import Appointment, AppointmentType
    from tests.portal_world import create_patient, link, make_portal_user, portal_sign_in
    from tests.scheduling.world import scheduling_world

    world = new_world("pbook")
    sw = scheduling_world(world)
    with tenant_context(practice_id=world.practice.id):
        AppointmentType.objects.filter(pk=sw.kind.pk).update(bookable_online=True)
    clients, patients = [], []
    for i in range(params["n"]):
        email = f"racer{i}-{uuid.uuid4().hex[:8]}@example.test"
        patient = create_patient(world, given_name=f"Racer{i}", email=email)
        user = make_portal_user(email, f"Racer {i}")
        forget_user_on_cleanup(user)
        link(user, patient)
        clients.append(portal_sign_in(Client(), user))
        patients.append(patient.pk)
    actor = PatientActor(practice_id=world.practice.id, patient_id=patients[0])
    _, _, slots = offered_slots(actor, sw.kind.pk, sw.clinician.pk)
    starts = slots[0].isoformat()

    def book(i):
        response = clients[i].post(reverse("portal:appointment-book"), {"type": str(sw.kind.pk), "clinician": str(sw.clinician.pk), "starts": starts})
        return response.status_code

    outcomes = concurrently(params["n"], book)
    with tenant_context(practice_id=world.practice.id):
        rows = list(Appointment.objects.filter(clinician_id=sw.clinician.pk).values_list("patient_id", flat=True))
    return {
        "errors": [o.error for o in outcomes if not o.ok],
        "statuses": sorted(o.value for o in outcomes),
        "appointments": len(rows),
        "winner_is_a_racer": bool(rows) and rows[0] in patients,
    }


def test_sch1_portal_patients_racing_for_one_slot_one_wins(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_portal_patients_race_for_one_slot, n=PATIENTS)
    assert result["errors"] == []
    assert result["statuses"] == [302] + [409] * (PATIENTS - 1)
    assert result["appointments"] == 1 and result["winner_is_a_racer"]
