"""RTS4, MIN3: a deletion request's plan and its execution (confide/rights/deletion.py,
confide/retention/plan.py, confide/retention/deletion.py)."""

from __future__ import annotations

import pytest

from confide.access.door import open_chart
from confide.access.errors import AccessRefused
from confide.accounts.models import PortalLink, User
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.messaging.models import NotificationPreference
from confide.records.models import Patient
from confide.records.services import list_patient_summaries, search_patients
from confide.retention import deletion as steps
from confide.retention.engine import do_set_hold
from confide.retention.models import ArchivedRecord, DeletionRun, RunState
from confide.rights.deletion import check_execute_deletion, execute_deletion, get_deletion_page
from confide.rights.models import Letter, RequestStatus, RightsRequest
from tests.retention.conftest import add_disclosure, add_note, add_preferences, delete_request


def _execute(officer, req):
    run = check_execute_deletion(actor=officer, request_id=req.pk, expected_version=req.version)
    execute_deletion.call(str(run.practice_id), str(run.pk))
    with tenant_context(practice_id=req.practice_id):
        req.refresh_from_db()
        run.refresh_from_db()
    return run


def _events(event):
    return list(AuditEntry.objects.filter(event=event).order_by("id"))


def test_rts4_the_plan_says_what_is_erased_archived_until_when_and_what_was_disclosed(world, portal, officer):
    patient = portal.adult.patient
    add_preferences(patient)
    add_disclosure(patient, recipient="Oak Clinic records desk")
    add_note(world, patient)
    req = delete_request(patient, requested_by=portal.adult.user)

    page = get_deletion_page(actor=officer, request_id=req.pk)

    plan = page.plan
    erase = {g.key: g.count for g in plan.erase}
    assert erase["portal"] == 1 and erase["notifications"] == 1 and "messages" in erase
    archived = {g.key: g.rule for g in plan.archive}
    assert archived["chart"] == "medical-records" and archived["notes"] == "medical-records"
    assert archived["disclosures"] == "accounting-of-disclosures" and archived["requests"] == "records-of-requests"
    assert [u.recipient for u in plan.unreachable] == ["Oak Clinic records desk"]
    assert plan.rule == "medical-records" and plan.retain_until.year == plan.last_service_on.year + 7
    assert not plan.blocked and plan.partial
    assert _events(AuditEvent.DELETION_PLAN_VIEWED)[-1].resource_ids == [str(req.pk)]


def test_rts4_execution_erases_revokes_archives_and_closes_the_request_with_a_letter(world, portal, officer, client):
    patient = portal.adult.patient
    add_preferences(patient)
    add_disclosure(patient)
    req = delete_request(patient, requested_by=portal.adult.user)

    run = _execute(officer, req)

    assert run.state == RunState.DONE and run.steps_done == list(steps.STEPS)
    assert req.status == RequestStatus.PARTLY_DONE and req.decided_by_id == officer.user_id
    with tenant_context(practice_id=patient.practice_id):
        assert not NotificationPreference.objects.filter(patient_id=patient.pk).exists()
        assert not PortalLink.objects.filter(patient_id=patient.pk, is_active=True).exists()
        assert PortalLink.objects.get(patient_id=patient.pk).ended_reason == "deletion"
        assert not Patient.objects.get(pk=patient.pk).is_active
        archived = ArchivedRecord.objects.get(patient_id=patient.pk)
        assert archived.archived_at and archived.request_id == req.pk and archived.retain_until.year >= archived.last_service_on.year + 7
        letter = Letter.objects.get(request=req)
    assert not User.objects.get(pk=portal.adult.user.pk).is_active  # the patient's own portal account
    assert letter.template == "rights/letters/deletion_outcome.txt" and letter.context["partial"] is True
    # The letter's body is sealed under the patient's key; it opens for the patient's request.
    job_steps = [e.detail["step"] for e in _events(AuditEvent.DELETION_STEP)]
    assert job_steps == ["portal", "erase", "archive"]
    assert _events(AuditEvent.RECORD_ARCHIVED)[-1].subject_id == patient.pk


def test_rts4_after_execution_the_patient_is_in_no_active_listing_or_search(world, portal, officer, staff):
    patient = portal.adult.patient
    req = delete_request(patient)
    front_desk = staff(Role.FRONT_DESK)
    with tenant_context(practice_id=world.a.practice.id):
        assert any(s.id == patient.pk for s in list_patient_summaries(front_desk, ""))
    _execute(officer, req)
    with tenant_context(practice_id=world.a.practice.id):
        assert all(s.id != patient.pk for s in list_patient_summaries(front_desk, ""))
        assert search_patients(front_desk, "ada@a.portal.test") == []


def test_rts4_the_archive_opens_only_for_legal_or_the_patients_request_each_audited(world, portal, officer, staff):
    patient = portal.adult.patient
    _execute(officer, delete_request(patient))
    clinician = staff(Role.CLINICIAN)
    with pytest.raises(AccessRefused):
        with open_chart(clinician, patient.pk, Purpose.TREATMENT, categories={"identifiers.name"}):
            pass
    denied = _events(AuditEvent.ACCESS_DENIED)[-1]
    assert denied.reason == "patient_archived"
    for purpose in (Purpose.LEGAL, Purpose.PATIENT_REQUEST):
        with open_chart(officer, patient.pk, purpose, categories={"identifiers.name"}) as chart:
            assert chart.patient.given_name == "Ada"  # the archive holds the retained record
        opened = _events(AuditEvent.CHART_OPENED)[-1]
        assert (opened.subject_id, opened.purpose) == (patient.pk, purpose.value)
    # The portal no longer opens it: the link ended.
    with pytest.raises((AccessRefused, NotFound)):
        with open_chart(portal.adult.actor, patient.pk, Purpose.PATIENT_REQUEST, categories={"identifiers.name"}):
            pass


def test_rts4_a_legal_hold_blocks_the_plan_and_refuses_execution_changing_nothing(world, portal, officer):
    patient = portal.adult.patient
    add_preferences(patient)
    req = delete_request(patient)
    do_set_hold(actor=officer, patient_id=patient.pk, reason="litigation")
    assert get_deletion_page(actor=officer, request_id=req.pk).plan.blocked

    with pytest.raises(steps.HeldByLaw, match="legal hold"):
        check_execute_deletion(actor=officer, request_id=req.pk, expected_version=req.version)

    with tenant_context(practice_id=patient.practice_id):
        req.refresh_from_db()
        assert req.status == RequestStatus.RECEIVED and req.version == 1
        assert not DeletionRun.objects.exists() and not ArchivedRecord.objects.exists()
        assert NotificationPreference.objects.filter(patient_id=patient.pk).exists()
        assert Patient.objects.get(pk=patient.pk).is_active
    assert _events(AuditEvent.DELETION_REFUSED)[-1].detail == {"code": "legal-hold"}


def test_min3_a_parent_requests_the_deletion_of_a_minors_record(world, portal, officer):
    child = portal.child
    req = delete_request(child, by_representative=True, requested_by=portal.parent.user)
    plan = get_deletion_page(actor=officer, request_id=req.pk).plan
    # A minor (10 years old): kept the period from the 18th birthday, later than from today.
    assert plan.from_majority and plan.retain_until.year >= plan.last_service_on.year + 8 + 7

    _execute(officer, req)

    with tenant_context(practice_id=child.practice_id):
        assert not Patient.objects.get(pk=child.pk).is_active
        assert not PortalLink.objects.filter(patient_id=child.pk, is_active=True).exists()
        # The parent's own record and their own portal access stay.
        assert Patient.objects.get(pk=portal.parent.patient.pk).is_active
        assert PortalLink.objects.filter(patient_id=portal.parent.patient.pk, is_active=True).exists()
    assert User.objects.get(pk=portal.parent.user.pk).is_active
    with tenant_context(practice_id=child.practice_id):
        assert ArchivedRecord.objects.get(patient_id=child.pk).from_majority


def test_rts4_a_failure_mid_way_leaves_a_consistent_state_and_a_rerun_finishes(world, portal, officer, monkeypatch):
    patient = portal.adult.patient
    add_preferences(patient)
    req = delete_request(patient)
    run = check_execute_deletion(actor=officer, request_id=req.pk, expected_version=req.version)

    def boom(run, step):
        if step == "erase":
            raise RuntimeError("worker killed")

    monkeypatch.setattr(steps, "_before_step", boom)
    with pytest.raises(RuntimeError):
        execute_deletion.call(str(run.practice_id), str(run.pk))
    with tenant_context(practice_id=patient.practice_id):
        run.refresh_from_db()
        assert run.state == RunState.FAILED and run.steps_done == ["portal"]
        assert NotificationPreference.objects.filter(patient_id=patient.pk).exists()  # the erase step rolled back whole
        assert Patient.objects.get(pk=patient.pk).is_active

    monkeypatch.setattr(steps, "_before_step", lambda run, step: None)
    with tenant_context(practice_id=patient.practice_id):
        req.refresh_from_db()
    again = check_execute_deletion(actor=officer, request_id=req.pk, expected_version=req.version)
    assert again.pk == run.pk
    execute_deletion.call(str(run.practice_id), str(run.pk))
    with tenant_context(practice_id=patient.practice_id):
        run.refresh_from_db()
        req.refresh_from_db()
        assert run.state == RunState.DONE and run.steps_done == ["portal", "erase", "archive"] and run.attempts == 2
        assert not NotificationPreference.objects.filter(patient_id=patient.pk).exists()
    assert req.status == RequestStatus.PARTLY_DONE
    assert [e.detail["step"] for e in _events(AuditEvent.DELETION_STEP)] == ["portal", "erase", "archive"]


def test_rts4_running_twice_is_one_execution(world, portal, officer):
    patient = portal.adult.patient
    req = delete_request(patient)
    run = _execute(officer, req)
    with pytest.raises(InvalidInput):
        check_execute_deletion(actor=officer, request_id=req.pk, expected_version=req.version)
    execute_deletion.call(str(run.practice_id), str(run.pk))  # the task delivered twice
    assert len(_events(AuditEvent.DELETION_STEP)) == 3
    with tenant_context(practice_id=patient.practice_id):
        assert Letter.objects.filter(request=req).count() == 1


@pytest.mark.parametrize("version", ["", "x", None, "99"])
def test_rts4_a_stale_or_malformed_version_changes_nothing(world, portal, officer, version):
    req = delete_request(portal.adult.patient)
    with pytest.raises(InvalidInput):
        check_execute_deletion(actor=officer, request_id=req.pk, expected_version=version)
    with tenant_context(practice_id=req.practice_id):
        assert not DeletionRun.objects.exists() and RightsRequest.objects.get(pk=req.pk).status == RequestStatus.RECEIVED


def test_rts4_an_unverified_request_is_not_planned_or_executed(world, portal, officer):
    req = delete_request(portal.adult.patient, verified=False)
    page = get_deletion_page(actor=officer, request_id=req.pk)
    assert page.plan is None and "not been verified" in page.problem
    with pytest.raises(InvalidInput, match="not been verified"):
        check_execute_deletion(actor=officer, request_id=req.pk, expected_version=req.version)
    assert _events(AuditEvent.DELETION_REFUSED)[-1].detail == {"code": "not-verified"}


def test_rts4_another_practices_request_is_not_found_and_other_roles_are_forbidden(world, portal, officer, staff):
    req = delete_request(portal.adult.patient)
    other = StaffActor.from_membership(world.b.memberships[Role.PRIVACY_OFFICER])
    with pytest.raises(NotFound):
        get_deletion_page(actor=other, request_id=req.pk)
    with pytest.raises(NotFound):
        check_execute_deletion(actor=other, request_id=req.pk, expected_version=1)
    for role in (Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING):
        with pytest.raises(Forbidden):
            check_execute_deletion(actor=staff(role), request_id=req.pk, expected_version=1)
    with pytest.raises(NotFound):
        get_deletion_page(actor=officer, request_id="not-a-uuid")


def test_rts4_message_threads_with_attachments_are_erased_by_the_deletion(world, portal, officer):
    from confide.messaging.attachments import check_attachment
    from confide.messaging.models import Attachment, Message, Thread
    from confide.messaging.services import receive_message
    from tests.records.uploads import pdf_upload

    patient = portal.adult.patient
    with tenant_context(practice_id=patient.practice_id):
        receive_message(practice_id=patient.practice_id, patient_id=patient.pk, channel="portal", body="Please delete me",
                        attachments=(check_attachment(pdf_upload()),))  # fmt: skip
    req = delete_request(patient)
    assert {g.key: g.count for g in get_deletion_page(actor=officer, request_id=req.pk).plan.erase}["messages"] == 1
    run = _execute(officer, req)
    assert run.counts["erase"]["messages"] == 1
    with tenant_context(practice_id=patient.practice_id):
        assert not Message.objects.filter(patient_id=patient.pk).exists()
        assert not Thread.objects.filter(patient_id=patient.pk).exists()
        assert not Attachment.objects.filter(patient_id=patient.pk).exists()
