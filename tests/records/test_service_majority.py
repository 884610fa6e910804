"""MIN3 at the 18th birthday (HIPAA §164.502(g)): the daily job ends every parent's or guardian's
portal link to a patient who has come of age, audited with ids only, tells the guardian by e-mail
(no name, nothing clinical), invites the adult to their own account (or asks the practice to, in
person, when the chart has no e-mail), and does all of it once however often it runs."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from confide.access.door import AGE_OF_MAJORITY_JOB, SYSTEM_JOBS
from confide.accounts.models import LinkKind, PortalLink
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.records import majority
from tests.portal_world import create_patient, link, make_portal_user, portal_world, years_ago


@pytest.fixture
def invitations(monkeypatch):
    """The invitation service (helper pacct's) replaced by a recorder: the calls it got."""
    calls = []

    def issue(**kwargs):
        calls.append(kwargs)
        return None, "https://portal.test/invite"

    monkeypatch.setattr("confide.accounts.portal_invitations.issue_portal_invitation", issue)
    return calls


@pytest.fixture
def pw(world):
    return portal_world(world.a)


def _teen(world, pw, *, born, email="teen@a.portal.test"):
    teen = create_patient(world.a, given_name="Tess", family_name="Parent", preferred_name="", date_of_birth=born, email=email)
    teen_link = link(pw.parent.user, teen, kind=LinkKind.REPRESENTATIVE, relationship="mother", verified_by=world.a.owner)
    return teen, teen_link


def _fresh(link_obj):
    with tenant_context(practice_id=link_obj.practice_id):
        return PortalLink.objects.get(pk=link_obj.pk)


def _ended_entries(patient_id):
    return list(AuditEntry.objects.filter(event=AuditEvent.PORTAL_LINK_ENDED, subject_id=patient_id))


def test_min3_the_job_is_registered_with_only_the_date_of_birth_and_the_email_for_operations():
    assert SYSTEM_JOBS["age-of-majority-job"] is AGE_OF_MAJORITY_JOB
    assert AGE_OF_MAJORITY_JOB.categories == {"identifiers.dob", "contact.email"}
    assert {p.value for p in AGE_OF_MAJORITY_JOB.purposes} == {"operations"}


@pytest.mark.parametrize(("born", "today", "adult"), [
    (datetime.date(2008, 12, 6), datetime.date(2026, 12, 5), False),
    (datetime.date(2008, 12, 6), datetime.date(2026, 12, 6), True),
    (datetime.date(2008, 2, 29), datetime.date(2026, 2, 28), False),  # no 29 February in 2026…
    (datetime.date(2008, 2, 29), datetime.date(2026, 3, 1), True),  # …so 1 March
    (datetime.date(2010, 2, 28), datetime.date(2028, 2, 28), True),
    (datetime.date(2010, 3, 1), datetime.date(2028, 2, 29), False),
    (datetime.date(2012, 2, 29), datetime.date(2030, 3, 1), True),
    (datetime.date(2004, 2, 29), datetime.date(2022, 2, 28), False),
    (None, datetime.date(2026, 12, 6), False),
])  # fmt: skip
def test_min3_the_18th_birthday_comes_on_the_day_and_on_1_march_for_29_february(born, today, adult):
    assert majority.has_come_of_age(born, today) is adult


def test_min3_a_child_under_18_keeps_the_guardian(world, pw, invitations):
    teen, teen_link = _teen(world, pw, born=years_ago(18, days=-1))  # 18 tomorrow
    run = majority.end_representation_at_majority()
    assert run.came_of_age == [] and run.checked == 2
    assert _fresh(teen_link).is_active and _fresh(pw.child_link).is_active
    assert invitations == [] and mail.outbox == []


def test_min3_on_the_18th_birthday_the_link_ends_the_guardian_is_told_and_the_adult_invited(world, pw, invitations, django_capture_on_commit_callbacks):
    teen, teen_link = _teen(world, pw, born=years_ago(18))
    with django_capture_on_commit_callbacks(execute=True):
        run = majority.end_representation_at_majority()
    assert run.came_of_age == [teen.pk] and run.links_ended == 1 and run.invited == 1
    ended = _fresh(teen_link)
    assert (ended.is_active, ended.ended_reason) == (False, "age_of_majority") and ended.ended_at is not None
    assert _fresh(pw.child_link).is_active  # the 10-year-old's link stays
    assert invitations == [{"practice_id": world.a.practice.id, "patient_id": teen.pk, "email": "teen@a.portal.test",
                            "kind": LinkKind.SELF, "invited_by_id": None}]  # fmt: skip
    [message] = mail.outbox
    assert message.to == [pw.parent.user.email]
    assert "turned 18" in message.body and "Tess" not in message.body and "Parent" not in message.body
    [entry] = _ended_entries(teen.pk)
    assert (entry.actor_kind, entry.actor_id, entry.reason, entry.purpose) == ("system", "age-of-majority-job", "age_of_majority", "operations")
    assert entry.resource_ids == [str(teen_link.pk)]
    assert entry.detail == {"links": 1, "guardians_told": 1, "adult_invited": True, "practice_told": False}
    listed = AuditEntry.objects.filter(event=AuditEvent.PATIENTS_LISTED, actor_id="age-of-majority-job").get()
    assert set(listed.categories) == {"identifiers.dob", "contact.email"}


def test_min3_every_guardian_of_the_record_loses_access_and_each_is_told_separately(world, pw, invitations, django_capture_on_commit_callbacks):
    teen, teen_link = _teen(world, pw, born=years_ago(19))
    father = make_portal_user("father@a.portal.test", "Fred")
    second = link(father, teen, kind=LinkKind.REPRESENTATIVE, relationship="father", verified_by=world.a.owner)
    with django_capture_on_commit_callbacks(execute=True):
        majority.end_representation_at_majority()
    assert not _fresh(teen_link).is_active and not _fresh(second).is_active
    assert sorted(m.to[0] for m in mail.outbox) == sorted([pw.parent.user.email, "father@a.portal.test"])
    assert all(len(m.to) == 1 for m in mail.outbox)
    [entry] = _ended_entries(teen.pk)
    assert sorted(entry.resource_ids) == sorted([str(teen_link.pk), str(second.pk)])


def test_min3_run_twice_the_job_ends_tells_and_invites_once(world, pw, invitations, django_capture_on_commit_callbacks):
    teen, teen_link = _teen(world, pw, born=years_ago(18))
    with django_capture_on_commit_callbacks(execute=True):
        majority.end_representation_at_majority()
        second = majority.end_representation_at_majority()
    assert second.came_of_age == [] or second.links_ended == 0
    assert len(_ended_entries(teen.pk)) == 1 and len(invitations) == 1 and len(mail.outbox) == 1


def test_min3_an_adult_with_an_own_account_is_not_invited_again(world, pw, invitations, django_capture_on_commit_callbacks):
    teen, _ = _teen(world, pw, born=years_ago(18))
    link(make_portal_user("tess@a.portal.test", "Tess"), teen)  # their own account already
    with django_capture_on_commit_callbacks(execute=True):
        run = majority.end_representation_at_majority()
    assert run.links_ended == 1 and invitations == []
    assert _ended_entries(teen.pk)[0].detail["adult_invited"] is False


def test_min3_without_an_email_the_practice_is_asked_to_invite_in_person(world, pw, invitations, django_capture_on_commit_callbacks):
    teen, teen_link = _teen(world, pw, born=years_ago(18), email="")
    with django_capture_on_commit_callbacks(execute=True):
        run = majority.end_representation_at_majority()
    assert run.practice_told == 1 and invitations == []
    owner_mail = [m for m in mail.outbox if m.to == [world.a.owner.email]]
    assert len(owner_mail) == 1
    assert "in person" in owner_mail[0].body and f"/patients/{teen.pk}/" in owner_mail[0].body and "Tess" not in owner_mail[0].body
    assert _ended_entries(teen.pk)[0].detail["practice_told"] is True


def test_min3_another_practices_guardians_are_untouched_by_this_practices_birthdays(world, invitations):
    pb = portal_world(world.b)
    run = majority.end_representation_at_majority()
    assert run.came_of_age == [] and _fresh(pb.child_link).is_active


def test_min3_the_command_runs_the_job_once_and_prints_counts_only(world, pw, invitations, capsys):
    teen, teen_link = _teen(world, pw, born=years_ago(20))
    call_command("portal", "age-check")
    out = capsys.readouterr().out
    assert "1 came of age" in out and "1 guardian links ended" in out and "Tess" not in out and str(teen.pk) not in out
    assert not _fresh(teen_link).is_active


def test_min3_the_birthday_follows_the_clock(world, pw, invitations):
    teen, teen_link = _teen(world, pw, born=years_ago(18, days=-1))
    majority.end_representation_at_majority()
    assert _fresh(teen_link).is_active
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1), tick=False):
        majority.end_representation_at_majority()
    assert not _fresh(teen_link).is_active


def test_min3_the_daily_task_runs_the_job_and_queues_tomorrows(world, pw, invitations, monkeypatch):
    from confide.records import tasks

    queued = []
    monkeypatch.setattr(tasks, "schedule_age_check", lambda when=None: queued.append(when) or True)
    teen, teen_link = _teen(world, pw, born=years_ago(18))
    result = tasks.end_representation_daily.call()
    assert result["links_ended"] == 1 and len(queued) == 1
    assert not _fresh(teen_link).is_active


def test_min3_the_next_daily_run_is_just_after_midnight_tomorrow():
    from confide.records.tasks import next_daily_run

    now = timezone.make_aware(datetime.datetime(2026, 12, 6, 15, 30))
    assert next_daily_run(now) == timezone.make_aware(datetime.datetime(2026, 12, 7, 0, 5))


def test_min3_an_address_the_invitation_refuses_asks_the_practice_to_invite_in_person(world, pw, monkeypatch, django_capture_on_commit_callbacks):
    from confide.core.errors import InvalidInput

    def refuse(**kwargs):
        raise InvalidInput("not an e-mail address")

    monkeypatch.setattr("confide.accounts.portal_invitations.issue_portal_invitation", refuse)
    teen, teen_link = _teen(world, pw, born=years_ago(18))
    with django_capture_on_commit_callbacks(execute=True):
        run = majority.end_representation_at_majority()
    assert run.links_ended == 1 and run.invited == 0 and run.practice_told == 1
    assert not _fresh(teen_link).is_active
    assert any(m.to == [world.a.owner.email] and "in person" in m.body for m in mail.outbox)


def test_min3_one_patients_failure_leaves_their_links_open_and_the_others_done(world, pw, monkeypatch, caplog):
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs["patient_id"])
        if len(calls) == 1:
            raise RuntimeError("mail server down")

    monkeypatch.setattr("confide.accounts.portal_invitations.issue_portal_invitation", flaky)
    first, first_link = _teen(world, pw, born=years_ago(19))
    second = create_patient(world.a, given_name="Sam", family_name="Parent", preferred_name="", date_of_birth=years_ago(19), email="sam@a.portal.test")
    second_link = link(pw.parent.user, second, kind=LinkKind.REPRESENTATIVE, relationship="mother", verified_by=world.a.owner)
    with caplog.at_level("ERROR"):
        run = majority.end_representation_at_majority()
    assert run.failed == 1 and run.links_ended == 1
    assert sorted([_fresh(first_link).is_active, _fresh(second_link).is_active]) == [False, True]  # the failed one stays for tomorrow
    assert "Tess" not in caplog.text and "Sam" not in caplog.text
    rerun = majority.end_representation_at_majority()
    assert rerun.links_ended == 1 and not _fresh(first_link).is_active and not _fresh(second_link).is_active


def test_scheduling_the_daily_run_again_queues_no_second_chain(db):
    """`make run` schedules the daily check each time it starts: one run waits, not one per start."""
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from confide.records import tasks

    assert tasks.schedule_age_check() is True
    assert tasks.schedule_age_check() is True
    waiting = DBTaskResult.objects.filter(task_path=tasks.end_representation_daily.module_path, status=TaskResultStatus.READY)
    assert waiting.count() == 1
