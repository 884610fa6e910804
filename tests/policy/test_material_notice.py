"""POL2: a material change is announced by e-mail before it applies, through the task queue, to
staff at their account address and to patients at the address they registered (only through the
egress gate), once each, with nothing about them in the message."""

from __future__ import annotations

import pytest

from confide.access.door import POLICY_NOTICE_JOB
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy.models import NoticeDelivery
from confide.records.services import do_create_patient
from tests.policy.conftest import EMAIL_WITH_BAA

CHANGE = '[[retention]]\nid = "telehealth-recordings"\nperiod = "30d"\n'


def _patients(world, staff_actor):
    with tenant_context(practice_id=world.a.practice.id):
        with_email = do_create_patient(actor=staff_actor, given_name="Ana", family_name="Reyes", email="ana.reyes@example.test")
        without = do_create_patient(actor=staff_actor, given_name="Bo", family_name="Lind")
    return with_email, without


def _deliveries(world):
    with tenant_context(practice_id=world.a.practice.id):
        return sorted(NoticeDelivery.objects.values_list("recipient_kind", "recipient_id", "outcome", "reason"))


def test_pol2_a_material_change_mails_staff_and_patients_before_it_applies(
    world, publish, run_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    from confide.core.actors import StaffActor

    clinician = StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])
    ana, bo = _patients(world, clinician)
    publish(EMAIL_WITH_BAA)
    with django_capture_on_commit_callbacks(execute=True):
        version = publish(CHANGE, days=31, material=True, summary="Telehealth recordings are kept 30 days instead of 90.")
    assert mailoutbox == []  # queued, not sent inside the request
    run_tasks()

    staff_emails = sorted(u.email for u in world.a.users.values())
    assert sorted(m.to[0] for m in mailoutbox) == sorted([*staff_emails, "ana.reyes@example.test"])
    message = next(m for m in mailoutbox if m.to == ["ana.reyes@example.test"])
    assert "Telehealth recordings are kept 30 days instead of 90." in message.body
    assert f"/p/{world.a.practice.slug}/privacy/versions/{version.number}/" in message.body
    assert "Ana" not in message.body and "Reyes" not in message.body
    assert all(world.b.practice.name not in m.body for m in mailoutbox)

    rows = _deliveries(world)
    assert ("patient", str(ana.id), "sent", "") in rows and not any(r[1] == str(bo.id) for r in rows)
    assert sum(r[0] == "staff" for r in rows) == len(staff_emails)
    # The addresses were read through the door as the notice job, and left through the egress gate.
    listed = AuditEntry.objects.filter(event=AuditEvent.PATIENTS_LISTED, actor_id=POLICY_NOTICE_JOB.name).latest("id")
    assert listed.categories == ["contact.email"] and str(ana.id) in listed.resource_ids
    assert AuditEntry.objects.filter(event=AuditEvent.POLICY_EGRESS_ALLOWED, resource_ids=[str(ana.id)]).exists()

    mailoutbox.clear()
    from confide.records.policy_notices import send_material_notice

    send_material_notice.call(str(version.pk), str(world.a.practice.id))  # a retried task
    assert mailoutbox == []


def test_pol2_without_a_baa_patients_are_not_mailed_and_the_refusal_is_recorded(
    world, publish, run_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    from confide.core.actors import StaffActor

    ana, _ = _patients(world, StaffActor.from_membership(world.a.memberships[Role.CLINICIAN]))
    with django_capture_on_commit_callbacks(execute=True):
        publish(CHANGE, days=31, material=True, summary="Shorter recordings.")
    run_tasks()
    assert "ana.reyes@example.test" not in [m.to[0] for m in mailoutbox]
    assert ("patient", str(ana.id), "refused", "no_baa") in _deliveries(world)


def test_a_change_that_is_not_material_mails_nobody(world, publish, run_tasks, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        publish(CHANGE)
    run_tasks()
    assert mailoutbox == [] and _deliveries(world) == []


def test_pol2_publishing_a_material_change_with_no_job_to_send_the_notices_is_refused(world, publish):
    """The notice job lives above the chart door and hears of a publication by a signal: without
    it nobody would be told, so the material version is not published at all."""
    from confide.policy.models import PolicyVersion
    from confide.policy.signals import material_version_published
    from confide.records.policy_notices import enqueue_material_notice

    with tenant_context(practice_id=world.a.practice.id):
        before = PolicyVersion.objects.count()
    material_version_published.disconnect(dispatch_uid="confide.records.policy_notices.enqueue")
    try:
        with pytest.raises(RuntimeError, match="no job receives material_version_published"):
            publish(CHANGE, days=31, material=True, summary="Shorter recordings.")
    finally:
        material_version_published.connect(enqueue_material_notice, dispatch_uid="confide.records.policy_notices.enqueue")
    with tenant_context(practice_id=world.a.practice.id):
        assert PolicyVersion.objects.count() == before


def test_pol2_a_message_whose_header_cannot_be_sent_is_refused_per_recipient_and_logged_by_id(
    world, publish, run_tasks, mailoutbox, caplog, django_capture_on_commit_callbacks
):
    """Issue 11 item 14: a practice name with a line break (stored before names were checked)
    made every notice's Subject an injected header; Django refused the first, the task failed,
    and nobody was told. Now each recipient's delivery is recorded as refused (bad_header), the
    error is logged with ids only, and the task finishes."""
    from confide.core.models import Practice
    from confide.records.policy_notices import send_material_notice

    Practice.objects.filter(id=world.a.practice.id).update(name="Demo\r\nBcc: everyone@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        version = publish(CHANGE, days=31, material=True, summary="Shorter recordings.")
    caplog.set_level("ERROR", logger="confide.policy.notices")
    result = send_material_notice.call(str(version.pk), str(world.a.practice.id))
    assert mailoutbox == []
    rows = _deliveries(world)
    assert len(rows) == len(world.a.users) and {r[2:] for r in rows} == {("refused", "bad_header")}
    assert result == {"staff": 0, "patients": 0, "refused": len(world.a.users)}
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and all(r.object_id == str(version.pk) and r.practice_id == str(world.a.practice.id) for r in errors)
    assert not any("everyone@example.test" in r.getMessage() for r in caplog.records)
