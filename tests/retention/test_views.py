"""The deletion page (rights:deletion, rights:deletion-execute), the retention schedule
(retention:schedule) and legal holds (retention:hold-set, retention:hold-release)."""

from __future__ import annotations

from django.urls import reverse

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.retention.models import DeletionRun, LegalHold
from confide.rights.models import RequestStatus, RightsRequest
from tests.conftest import CANARIES
from tests.retention.conftest import add_disclosure, delete_request


def test_rts4_the_officer_reviews_the_plan_and_executes_it(world, portal, signed_in, django_capture_on_commit_callbacks):
    patient = portal.adult.patient
    add_disclosure(patient, recipient="Oak Clinic records desk")
    req = delete_request(patient)
    client = signed_in(Role.PRIVACY_OFFICER)
    page = client.get(reverse("rights:deletion", kwargs={"request_id": req.pk}))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Erased now" in text and "Kept by law, archived until" in text and "Oak Clinic records desk" in text
    assert "Execute the plan" in text
    with django_capture_on_commit_callbacks(execute=False) as queued:
        done = client.post(reverse("rights:deletion-execute", kwargs={"request_id": req.pk}), {"version": req.version})
    assert done.status_code == 302 and len(queued) == 1
    with tenant_context(practice_id=req.practice_id):
        assert DeletionRun.objects.get(request_id=req.pk).state == "running"
        assert RightsRequest.objects.get(pk=req.pk).status == RequestStatus.IN_PROGRESS
    again = client.post(reverse("rights:deletion-execute", kwargs={"request_id": req.pk}), {"version": req.version})
    assert again.status_code == 409 and "changed since you opened it" in again.content.decode()


def test_rts4_a_held_record_shows_the_hold_and_execution_is_a_clear_400(world, portal, signed_in):
    req = delete_request(portal.adult.patient)
    client = signed_in(Role.PRIVACY_OFFICER)
    held = client.post(reverse("retention:hold-set"), {"patient": str(portal.adult.patient.pk), "reason": "litigation",
                                                      "next": reverse("rights:deletion", kwargs={"request_id": req.pk})})
    assert held.status_code == 302 and held["Location"] == reverse("rights:deletion", kwargs={"request_id": req.pk})
    page = client.get(held["Location"]).content.decode()
    assert "on legal hold" in page and "Execute the plan" not in page
    refused = client.post(reverse("rights:deletion-execute", kwargs={"request_id": req.pk}), {"version": req.version})
    assert refused.status_code == 400 and "Nothing was changed" in refused.content.decode()


def test_the_schedule_page_lists_archived_records_without_names_and_holds_can_be_released(world, portal, signed_in):
    from confide.rights.deletion import check_execute_deletion, execute_deletion
    from confide.core.actors import StaffActor

    officer = StaffActor.from_membership(world.a.memberships[Role.PRIVACY_OFFICER])
    req = delete_request(portal.adult.patient)
    run = check_execute_deletion(actor=officer, request_id=req.pk, expected_version=req.version)
    execute_deletion.call(str(run.practice_id), str(run.pk))
    client = signed_in(Role.PRIVACY_OFFICER)
    page = client.get(reverse("retention:schedule"))
    text = page.content.decode()
    assert page.status_code == 200 and "Deletion requested by the patient" in text and "Ada" not in text
    assert CANARIES["name"] not in text
    bad = client.post(reverse("retention:hold-set"), {"patient": str(portal.adult.patient.pk), "reason": "whim"})
    assert bad.status_code == 400 and "Choose why" in bad.content.decode()
    client.post(reverse("retention:hold-set"), {"patient": str(portal.adult.patient.pk), "reason": "complaint"})
    with tenant_context(practice_id=world.a.practice.id):
        hold = LegalHold.objects.get()
    released = client.post(reverse("retention:hold-release", kwargs={"hold_id": hold.pk}))
    assert released.status_code == 302
    twice = client.post(reverse("retention:hold-release", kwargs={"hold_id": hold.pk}))
    assert twice.status_code == 400


def test_other_roles_get_403_and_another_practices_request_404(world, portal, signed_in):
    req = delete_request(portal.adult.patient)
    assert signed_in(Role.CLINICIAN).get(reverse("rights:deletion", kwargs={"request_id": req.pk})).status_code == 403
    assert signed_in(Role.FRONT_DESK).get(reverse("retention:schedule")).status_code == 403
    other = signed_in(Role.PRIVACY_OFFICER, world.b)
    assert other.get(reverse("rights:deletion", kwargs={"request_id": req.pk})).status_code == 404
