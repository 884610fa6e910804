"""The consultation queue (REC2, ACC1, ACC3): the applicant's name, age band and reason, opened
as ONE audited list; the front desk sees it only where the practice's declaration switches the
grant on; rejecting can send the applicant a fixed, PHI-free message or a typed one by e-mail."""

from __future__ import annotations

import datetime
import logging

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy.loader import PolicyError, resolve
from confide.policy.services import do_publish_policy
from confide.records import intake
from confide.records.models import IntakeSubmission
from tests.records.consultations import submit

EMAIL_WITH_BAA = '[[processors]]\nid = "email"\nbaa_on_file = true\n'
FRONT_DESK_SEES_QUEUE = "[grants]\nfront_desk_consultation_queue = true\n"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _publish(world, override: str) -> None:
    do_publish_policy(actor=StaffActor.from_membership(world.a.memberships[Role.PRIVACY_OFFICER]), override_toml=override,
                      effective_at=timezone.now(), material=False, summary="A change.")  # fmt: skip


def _born(years: int, days: int = 10) -> str:
    return (timezone.now().date() - datetime.timedelta(days=int(365.25 * years) + days)).isoformat()


def _entries(event) -> list:
    return list(AuditEntry.objects.filter(event=event).order_by("id"))


def test_the_queue_shows_name_age_band_and_reason_and_is_one_audited_list_opening(world, signed_in):
    first = submit(world.a.practice, date_of_birth=_born(34), q_reason="An itchy rash\non both forearms")
    second = submit(world.a.practice, client_ip="198.51.100.7", given_name="Samir", family_name="Aziz", date_of_birth=_born(71),
                    q_reason="Knee pain " * 30)  # fmt: skip
    client = signed_in(Role.CLINICIAN)
    before = AuditEntry.objects.count()
    html = client.get(reverse("intake:queue")).content.decode()
    assert html.count('data-testid="intake-row"') == 2
    assert "Noor Haddad" in html and "30–44" in html and "An itchy rash on both forearms" in html
    assert "Samir Aziz" in html and "65–79" in html and ("Knee pain " * 13).strip() in html and "…" in html
    assert _born(34) not in html and _born(71) not in html  # the age band, never the date of birth
    new = list(AuditEntry.objects.order_by("id")[before:])
    assert [e.event for e in new] == [AuditEvent.INTAKE_LISTED]  # one entry for the list, none per row
    [listed] = new
    assert sorted(listed.resource_ids) == sorted([str(first.pk), str(second.pk)])
    assert sorted(listed.categories) == ["health.intake", "identifiers.dob", "identifiers.name"]
    assert listed.purpose == "treatment" and listed.detail == {"count": 2}


@pytest.mark.parametrize(("years", "band"), [(5, "under 13"), (13, "13–17"), (17, "13–17"), (18, "18–29"), (44, "30–44"), (45, "45–64"), (90, "80 or over")])
def test_the_age_band_is_the_band_of_the_age_today(years, band):
    today = datetime.date(2026, 6, 1)
    assert intake.age_band(today.replace(year=today.year - years), today) == band


def test_front_desk_sees_no_queue_unless_the_practice_declares_it_may(world, signed_in):
    submission = submit(world.a.practice)
    assert signed_in(Role.FRONT_DESK).get(reverse("intake:queue")).status_code == 403
    denied = _entries(AuditEvent.ACCESS_DENIED)[-1]
    assert denied.reason == "category_not_granted" and not _entries(AuditEvent.INTAKE_LISTED)

    _publish(world, FRONT_DESK_SEES_QUEUE)
    client = signed_in(Role.FRONT_DESK)
    response = client.get(reverse("intake:queue"))
    html = response.content.decode()
    assert response.status_code == 200 and "Noor Haddad" in html and "An itchy rash on both forearms" in html
    assert reverse("intake:detail", kwargs={"submission_id": submission.pk}) not in html  # no Review link
    [listed] = _entries(AuditEvent.INTAKE_LISTED)
    assert listed.purpose == "operations" and listed.resource_ids == [str(submission.pk)]
    # the grant is the queue's only: a consultation itself stays closed to the front desk
    assert client.get(reverse("intake:detail", kwargs={"submission_id": submission.pk})).status_code == 403
    assert client.post(reverse("intake:reject", kwargs={"submission_id": submission.pk})).status_code == 403


@pytest.mark.parametrize("role", [Role.BILLING, Role.PRIVACY_OFFICER])
def test_other_roles_see_no_queue_even_where_the_front_desk_may(world, signed_in, role):
    submit(world.a.practice)
    _publish(world, FRONT_DESK_SEES_QUEUE)
    assert signed_in(role).get(reverse("intake:queue")).status_code == 403


def test_the_grant_is_declared_off_by_default_and_its_switch_is_a_strict_boolean():
    assert resolve("").grants.front_desk_consultation_queue is False
    assert resolve(FRONT_DESK_SEES_QUEUE).grants.front_desk_consultation_queue is True
    with pytest.raises(PolicyError, match="line 2"):
        resolve('[grants]\nfront_desk_consultation_queue = "yes"\n')
    with pytest.raises(PolicyError, match="not part of the declaration"):
        resolve("[grants]\nclinician_reads_everything = true\n")


# --- rejecting, with a message ------------------------------------------------------------------------------
def _reject(client, submission, **data):
    return client.post(reverse("intake:reject", kwargs={"submission_id": submission.pk}), data)


def test_rejecting_with_the_standard_message_emails_a_phi_free_text_and_audits_ids_only(world, signed_in, django_capture_on_commit_callbacks):
    _publish(world, EMAIL_WITH_BAA)
    submission = submit(world.a.practice)
    with tenant_context(practice_id=world.a.practice.id), django_capture_on_commit_callbacks(execute=True):
        response = _reject(signed_in(Role.CLINICIAN), submission, message="fixed")
    assert response.status_code == 302
    [sent] = mail.outbox
    assert sent.to == ["noor.haddad@example.test"] and sent.body == intake.REJECTION_FIXED
    assert sent.subject == f"Your online consultation with {world.a.practice.name}"
    for phi in ("Noor", "Haddad", "rash", "forearms", "cetirizine"):
        assert phi not in sent.subject + sent.body
    [rejected] = _entries(AuditEvent.INTAKE_REJECTED)
    assert rejected.detail == {"message": "fixed"} and rejected.subject_id == submission.pk
    assert "noor.haddad" not in str(AuditEntry.objects.values_list("detail", "reason", "resource_ids")[::1])
    with tenant_context(practice_id=world.a.practice.id):
        assert not IntakeSubmission.objects.exists()


def test_rejecting_with_a_typed_message_sends_it_and_never_logs_it(world, signed_in, django_capture_on_commit_callbacks, caplog):
    caplog.set_level(logging.DEBUG)
    _publish(world, EMAIL_WITH_BAA)
    submission = submit(world.a.practice)
    typed = "Dear Noor,\r\nwe only see adults with skin conditions on Tuesdays; please call us to book.\r\n"
    with tenant_context(practice_id=world.a.practice.id), django_capture_on_commit_callbacks(execute=True):
        assert _reject(signed_in(Role.CLINICIAN), submission, message="typed", text=typed).status_code == 302
    [sent] = mail.outbox
    assert sent.body == "Dear Noor,\nwe only see adults with skin conditions on Tuesdays; please call us to book."
    assert _entries(AuditEvent.INTAKE_REJECTED)[0].detail == {"message": "typed"}
    assert "Tuesdays" not in caplog.text and "Tuesdays" not in str(list(AuditEntry.objects.values_list("detail", flat=True)))


@pytest.mark.parametrize(("data", "problem"), [
    ({"message": "typed", "text": "Hello\x00there"}, "The message: remove the invisible control character it contains."),
    ({"message": "typed", "text": "x" * 2001}, "The message: at most 2000 characters."),
    ({"message": "typed", "text": "   "}, "The message: write it, or choose the standard message or none."),
    ({"message": "shout"}, "Choose whether to send the applicant a message"),
])  # fmt: skip
def test_a_bad_message_rejects_nothing_sends_nothing_and_says_why(world, signed_in, django_capture_on_commit_callbacks, data, problem):
    _publish(world, EMAIL_WITH_BAA)
    submission = submit(world.a.practice)
    with tenant_context(practice_id=world.a.practice.id), django_capture_on_commit_callbacks(execute=True):
        response = _reject(signed_in(Role.CLINICIAN), submission, **data)
    assert response.status_code == 400 and problem in response.content.decode()
    assert mail.outbox == [] and not _entries(AuditEvent.INTAKE_REJECTED)
    with tenant_context(practice_id=world.a.practice.id):
        assert IntakeSubmission.objects.get().status == "received"


def test_a_message_the_egress_gate_refuses_rejects_nothing(world, signed_in, django_capture_on_commit_callbacks):
    submission = submit(world.a.practice)  # the default declaration: no agreement with the e-mail provider on file
    with tenant_context(practice_id=world.a.practice.id), django_capture_on_commit_callbacks(execute=True):
        response = _reject(signed_in(Role.CLINICIAN), submission, message="fixed")
    assert response.status_code == 400 and "The consultation was not rejected." in response.content.decode()
    assert mail.outbox == [] and _entries(AuditEvent.POLICY_EGRESS_REFUSED)
    with tenant_context(practice_id=world.a.practice.id):
        assert IntakeSubmission.objects.get().status == "received"


def test_an_applicant_without_an_email_address_cannot_be_sent_a_message(world, signed_in):
    _publish(world, EMAIL_WITH_BAA)
    submission = submit(world.a.practice, email="")
    client = signed_in(Role.CLINICIAN)
    detail = client.get(reverse("intake:detail", kwargs={"submission_id": submission.pk})).content.decode()
    assert 'id="reject-fixed" value="fixed" disabled' in detail
    response = _reject(client, submission, message="fixed")
    assert response.status_code == 400 and "gave no email address" in response.content.decode()
    assert mail.outbox == []
