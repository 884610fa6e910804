"""Part "intake" (issue 17): staff log a request received by e-mail, phone, letter or in person
(RTS6: who took it, how identity was checked), and the operator routes a request that reached
the deployment to the practice's queue (RTS9)."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.rights import intake
from confide.rights.models import IdentityCheck, Letter, RightsRequest
from confide.vault.errors import PHIAccessDenied
from tests.portal_world import create_patient
from tests.rights.helpers_intake import code_from_outbox, email_with_baa, post

DETAIL = "Called to ask for her file; canary-diagnosis-xyzzy"


@pytest.fixture
def patient(world):
    return create_patient(world.a)


def _actor(world, role=Role.FRONT_DESK, where=None):
    return StaffActor.from_membership((where or world.a).memberships[role])


def _rows(practice, model=RightsRequest):
    with tenant_context(practice_id=practice.id):
        return list(model.objects.all())


@pytest.mark.parametrize("role", [Role.OWNER, Role.PRIVACY_OFFICER, Role.FRONT_DESK])
def test_rts6_staff_log_a_phone_request_verified_at_the_desk(world, patient, role):
    actor = _actor(world, role)
    with tenant_context(practice_id=world.a.practice.id):
        made = intake.do_log_request(actor=actor, patient_id=patient.pk, kind="copy", channel="phone", evidence="id_seen", detail=DETAIL)
    assert (made.channel, made.verification, made.status, made.logged_by_id) == ("phone", "staff", "in_progress", actor.user_id)
    assert made.patient_id == patient.pk and made.verified_at and made.due_on == timezone.localdate() + datetime.timedelta(days=30)
    with tenant_context(practice_id=world.a.practice.id):
        row = RightsRequest.objects.get(pk=made.pk)
        with pytest.raises(PHIAccessDenied):
            str(row.detail)
        [entry] = AuditEntry.objects.filter(event=AuditEvent.RIGHTS_REQUEST_RECEIVED)
    assert entry.detail == {"kind": "copy", "channel": "phone", "due_on": made.due_on.isoformat(), "evidence": "id_seen"}
    assert entry.subject_id == patient.pk and "canary" not in str(entry.detail)


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.BILLING])
def test_roles_without_the_permission_cannot_log(world, patient, role):
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(Forbidden):
        intake.do_log_request(actor=_actor(world, role), patient_id=patient.pk, kind="copy", channel="phone", evidence="id_seen")


def test_received_when_is_checked(world, patient):
    actor = _actor(world)
    today = timezone.localdate()
    for received, message in (
        ((today + datetime.timedelta(days=1)).isoformat(), "future"),
        ((today - datetime.timedelta(days=31)).isoformat(), "30 days"),
        ("yesterday", "YYYY-MM-DD"),
    ):
        with tenant_context(practice_id=world.a.practice.id), pytest.raises(InvalidInput, match=message):
            intake.do_log_request(actor=actor, patient_id=patient.pk, kind="copy", channel="phone", evidence="id_seen", received=received)
    with tenant_context(practice_id=world.a.practice.id):
        made = intake.do_log_request(actor=actor, patient_id=patient.pk, kind="correct", channel="letter", evidence="security_questions",
                                     received=(today - datetime.timedelta(days=10)).isoformat())  # fmt: skip
    assert timezone.localdate(made.received_at) == today - datetime.timedelta(days=10)
    assert made.due_on == today - datetime.timedelta(days=10) + datetime.timedelta(days=45)


@pytest.mark.parametrize(("change", "message"), [
    ({"channel": "portal"}, "reached you"), ({"evidence": "trust_me"}, "checked"), ({"kind": "bogus"}, "Choose what"),
    ({"patient_id": "nope"}, "patient"),
])  # fmt: skip
def test_bad_choices_are_refused_and_nothing_is_written(world, patient, change, message):
    fields = {"patient_id": patient.pk, "kind": "copy", "channel": "phone", "evidence": "id_seen"} | change
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(InvalidInput, match=message):
        intake.do_log_request(actor=_actor(world), **fields)
    assert not _rows(world.a.practice)


def test_a_patient_of_another_practice_is_not_found(world, patient):
    with tenant_context(practice_id=world.b.practice.id), pytest.raises(NotFound):
        intake.do_log_request(actor=_actor(world, where=world.b), patient_id=patient.pk, kind="copy", channel="phone", evidence="id_seen")
    assert not _rows(world.b.practice) and not _rows(world.a.practice)


def test_the_staff_page_finds_the_patient_and_logs_the_request(world, patient, signed_in):
    client = signed_in(Role.FRONT_DESK)
    page = client.get("/rights/requests/new/", {"q": "Quintero"})
    assert page.status_code == 200 and b"Marisol Quintero" in page.content
    response = client.post("/rights/requests/new/", {"q": "Quintero", "patient": str(patient.pk), "kind": "delete", "channel": "in_person",
                                                     "evidence": "id_seen", "received": ""})  # fmt: skip
    assert response.status_code == 302
    [made] = _rows(world.a.practice)
    assert made.kind == "delete" and made.channel == "in_person"
    bad = client.post("/rights/requests/new/", {"q": "Quintero", "patient": str(patient.pk), "kind": "delete", "channel": "in_person",
                                                "evidence": ""})  # fmt: skip
    assert bad.status_code == 400 and b"how you checked" in bad.content
    assert signed_in(Role.CLINICIAN).get("/rights/requests/new/").status_code in (403, 404)


# --- the operator (RTS9) ---------------------------------------------------------------------------
def _route(*args):
    def run():
        call_command("rights", "route", *args)
    return run


def test_rts9_a_request_that_reached_the_operator_lands_in_the_practices_queue(world, patient, capsys):
    email_with_baa(world.a)
    received = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("rights", "route", "--practice", world.a.practice.slug, "--kind", "see", "--received", received, "--channel", "email",
                     "--given-name", "Marisol", "--family-name", "Quintero", "--dob", "1984-02-11", "--email", "asker@example.test")
    out = capsys.readouterr().out
    [made] = _rows(world.a.practice)
    assert f"request {made.pk}" in out and "Marisol" not in out
    assert made.channel == "operator" and made.verification == "pending" and made.patient_id is None
    assert timezone.localdate(made.received_at).isoformat() == received
    # The requester got the practice's verification page; the code went to the contact on file.
    [ack] = [m for m in mail.outbox if "asker@example.test" in m.to]
    assert f"/p/{world.a.practice.slug}/privacy/request/" in ack.body and "/verify/" in ack.body
    code = code_from_outbox(to="marisol@example.test")
    path = ack.body[ack.body.index("/p/"):].split()[0]
    from django.test import Client

    response = post(Client(), path, {"code": code})
    assert response.status_code == 200
    with tenant_context(practice_id=world.a.practice.id):
        made = RightsRequest.objects.get(pk=made.pk)
        assert not IdentityCheck.objects.exists() and Letter.objects.filter(request=made, kind="acknowledgement").exists()
    assert made.verification == "code" and made.patient_id == patient.pk


def test_rts9_an_unknown_practice_is_an_error_and_nothing_is_written(world, patient):
    with pytest.raises(CommandError, match="No practice"):
        call_command("rights", "route", "--practice", "nowhere", "--kind", "see", "--given-name", "M", "--family-name", "Q",
                     "--dob", "1984-02-11", "--email", "asker@example.test")
    with pytest.raises(CommandError, match="Choose what"):
        call_command("rights", "route", "--practice", world.a.practice.slug, "--kind", "sell", "--given-name", "M", "--family-name", "Q",
                     "--dob", "1984-02-11", "--email", "asker@example.test")
    assert not _rows(world.a.practice) and not mail.outbox
