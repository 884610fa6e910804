"""POL2, the service: which material changes a subject is told of in the app, the evidence that
they saw and accepted it (append-only, once each), and the report for the privacy officer."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy import acknowledgements
from confide.policy.acknowledgements import BANNER_DAYS_AFTER, Subject, SubjectKind
from confide.policy.models import NoticeAcknowledgement, NoticeDelivery
from tests.conftest import CANARIES

MATERIAL = '[age]\nminimum = 13\n'
MINOR = '[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n'


def _actor(world, role, where=None):
    return StaffActor.from_membership((where or world.a).memberships[role])


def _acks(world):
    with tenant_context(practice_id=world.a.practice.id):
        return sorted(NoticeAcknowledgement.objects.values_list("subject_kind", "subject_id", "kind"))


def test_pol2_a_material_upcoming_version_is_shown_until_accepted(world, publish):
    version = publish(MATERIAL, days=31, material=True, summary="Teenagers from 13.")
    front_desk = _actor(world, Role.FRONT_DESK)
    [banner] = acknowledgements.banners_for(actor=front_desk)
    assert (banner.version_id, banner.number, banner.summary, banner.upcoming) == (version.pk, 2, "Teenagers from 13.", True)
    acknowledgements.do_accept_notice(actor=front_desk, version_id=version.pk)
    assert acknowledgements.banners_for(actor=front_desk) == []
    assert len(acknowledgements.banners_for(actor=_actor(world, Role.CLINICIAN))) == 1  # each person accepts for themselves


def test_a_change_that_is_not_material_is_never_announced(world, publish):
    publish(MINOR)
    assert acknowledgements.banners_for(actor=_actor(world, Role.FRONT_DESK)) == []


def test_pol2_the_banner_stays_for_thirty_days_after_the_change_takes_effect_then_goes(world, publish):
    version = publish(MATERIAL, days=31, material=True)
    clinician = _actor(world, Role.CLINICIAN)
    after = version.effective_at + datetime.timedelta(days=BANNER_DAYS_AFTER - 1)
    [banner] = acknowledgements.banners_for(actor=clinician, at=after)
    assert banner.upcoming is False  # "changed on", no longer "changes on"
    assert acknowledgements.banners_for(actor=clinician, at=version.effective_at + datetime.timedelta(days=BANNER_DAYS_AFTER + 1)) == []


def test_another_practices_change_is_not_announced_here(world, publish):
    publish(MATERIAL, days=31, material=True, actor=_actor(world, Role.PRIVACY_OFFICER, world.b))
    assert acknowledgements.banners_for(actor=_actor(world, Role.FRONT_DESK)) == []
    assert len(acknowledgements.banners_for(actor=_actor(world, Role.FRONT_DESK, world.b))) == 1


def test_accepting_another_practices_version_is_not_found_like_a_missing_one(world, publish):
    theirs = publish(MATERIAL, days=31, material=True, actor=_actor(world, Role.PRIVACY_OFFICER, world.b))
    import uuid

    for version_id in (theirs.pk, uuid.uuid4()):
        with pytest.raises(NotFound):
            acknowledgements.do_accept_notice(actor=_actor(world, Role.OWNER), version_id=version_id)
    with tenant_context(practice_id=world.b.practice.id):
        assert not NoticeAcknowledgement.objects.exists()


def test_pol2_seen_and_accepted_are_recorded_once_each_and_cannot_be_changed(world, publish):
    version = publish(MATERIAL, days=31, material=True)
    billing = _actor(world, Role.BILLING)
    assert acknowledgements.record_seen(actor=billing, version=version) is True
    assert acknowledgements.record_seen(actor=billing, version=version) is False
    acknowledgements.do_accept_notice(actor=billing, version_id=version.pk)
    acknowledgements.do_accept_notice(actor=billing, version_id=version.pk)
    user_id = str(world.a.user(Role.BILLING).pk)
    assert _acks(world) == [("staff", user_id, "accepted"), ("staff", user_id, "seen")]
    with tenant_context(practice_id=world.a.practice.id):
        row = NoticeAcknowledgement.objects.first()
        with pytest.raises(RuntimeError, match="append-only"):
            row.save()
        with pytest.raises(RuntimeError, match="append-only"):
            row.delete()


def test_seen_is_recorded_only_for_a_member_of_the_versions_practice(world, publish):
    version = publish(MATERIAL, days=31, material=True)
    assert acknowledgements.record_seen(actor=_actor(world, Role.OWNER, world.b), version=version) is False
    assert _acks(world) == []


def test_only_staff_and_later_patients_are_subjects(world):
    assert acknowledgements.subject_of(_actor(world, Role.OWNER)) == Subject(SubjectKind.STAFF, str(world.a.owner.pk))
    with pytest.raises(Forbidden):
        acknowledgements.subject_of(object())


# --- the report ------------------------------------------------------------------------------------
def _patient_rows(world, version, kinds: list[str]) -> list[str]:
    """Patients' evidence rows as the portal will write them (ids only)."""
    import uuid

    ids = []
    with tenant_context(practice_id=world.a.practice.id):
        for kind in kinds:
            patient_id = str(uuid.uuid4())
            ids.append(patient_id)
            NoticeAcknowledgement.objects.create(practice_id=world.a.practice.id, version=version, subject_kind="patient", subject_id=patient_id, kind=kind)
    return ids


def test_pol2_the_report_counts_emailed_seen_and_accepted_and_names_only_staff(world, publish):
    publish(MINOR)  # not material: not in the report
    version = publish(MATERIAL, days=31, material=True)
    with tenant_context(practice_id=world.a.practice.id):
        for role in (Role.OWNER, Role.CLINICIAN):
            NoticeDelivery.objects.create(practice_id=world.a.practice.id, version=version, recipient_kind="staff", recipient_id=str(world.a.user(role).pk), outcome="sent")
        NoticeDelivery.objects.create(practice_id=world.a.practice.id, version=version, recipient_kind="patient", recipient_id="p1", outcome="sent")
        NoticeDelivery.objects.create(practice_id=world.a.practice.id, version=version, recipient_kind="patient", recipient_id="p2", outcome="refused", reason="no_baa")
    acknowledgements.record_seen(actor=_actor(world, Role.CLINICIAN), version=version)
    acknowledgements.do_accept_notice(actor=_actor(world, Role.CLINICIAN), version_id=version.pk)
    acknowledgements.do_accept_notice(actor=_actor(world, Role.OWNER), version_id=version.pk)
    _patient_rows(world, version, ["seen", "seen", "accepted"])

    [report] = acknowledgements.notice_report(actor=_actor(world, Role.PRIVACY_OFFICER))
    assert report.version.pk == version.pk
    assert (report.emailed.staff, report.emailed.patients, report.refused.patients) == (2, 1, 1)
    assert (report.seen.staff, report.seen.patients) == (1, 2)
    assert (report.accepted.staff, report.accepted.patients) == (2, 1)
    expected = sorted(world.a.user(r).display_name for r in (Role.FRONT_DESK, Role.BILLING, Role.PRIVACY_OFFICER))
    assert report.staff_not_accepted == expected
    assert CANARIES["name"] not in report.staff_not_accepted  # the clinician (canary name) accepted


def test_the_report_is_for_holders_of_policy_edit_only(world):
    for role in (Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING):
        with pytest.raises(Forbidden):
            acknowledgements.notice_report(actor=_actor(world, role))
    assert acknowledgements.notice_report(actor=_actor(world, Role.OWNER)) == []


def test_the_report_leaves_out_staff_who_have_left(world, publish):
    version = publish(MATERIAL, days=31, material=True)
    with tenant_context(practice_id=world.a.practice.id):
        membership = world.a.memberships[Role.BILLING]
        membership.is_active = False
        membership.save(update_fields=["is_active"])
    [report] = acknowledgements.notice_report(actor=_actor(world, Role.OWNER))
    assert world.a.user(Role.BILLING).display_name not in report.staff_not_accepted
    assert report.version.pk == version.pk and timezone.now() < report.version.effective_at
