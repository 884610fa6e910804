"""ACC5: a portal invitation link is used once, however many sessions accept it at the same
moment (the conditional UPDATE of `used_at` decides). Real threads, each its own browser
session, through the views."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, forget_user_on_cleanup, new_world, run_scenario

SESSIONS = 8
PASSWORD = "Plum-Kettle-Harbour-42"


def scenario_one_portal_invitation_accepted_by_many_sessions(params):
    import re

    from django.core import mail
    from django.db import transaction
    from django.test import Client
    from django.urls import reverse

    from confide.accounts.models import PortalInvitation, PortalLink, User
    from confide.accounts.portal_invitations import issue_portal_invitation
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_create_patient
    from tests.access.conftest import FULL

    world = new_world("pinvite")
    mail.outbox = []
    with tenant_context(practice_id=world.practice.id):
        patient = do_create_patient(actor=StaffActor.from_membership(world.memberships[Role.CLINICIAN]), **FULL)
        with transaction.atomic():
            issue_portal_invitation(practice_id=world.practice.id, patient_id=patient.pk, email="race@example.test", invited_by_id=world.owner.pk)
    path = re.search(r"https?://[^/\s]+(/portal/invitation/\?token=\S+)", mail.outbox[-1].body).group(1)
    clients = [Client() for _ in range(params["n"])]
    for client in clients:  # each session has opened the link
        assert client.get(path).status_code == 302

    def accept(i):
        data = {"display_name": f"Racer {i}", "password": PASSWORD, "password_again": PASSWORD}
        response = clients[i].post(reverse("portal:invitation-accept"), data)
        return f"{response.status_code} {response.get('Location', '')}".strip()

    outcomes = concurrently(params["n"], accept)
    users = list(User.objects.filter(email="race@example.test"))
    for user in users:
        forget_user_on_cleanup(user)
    with tenant_context(practice_id=world.practice.id):
        links = PortalLink.objects.filter(patient_id=patient.pk).count()
        used = PortalInvitation.objects.exclude(used_at=None).count()
    return {
        "errors": [o.error for o in outcomes if not o.ok],
        "statuses": sorted(str(o.value) for o in outcomes),
        "users": len(users),
        "links": links,
        "used": used,
        "accepted_events": AuditEntry.objects.filter(event=AuditEvent.PORTAL_INVITATION_ACCEPTED, practice_id=world.practice.id).count(),
    }


def test_acc5_eight_sessions_accepting_one_portal_invitation_at_once_make_exactly_one_account(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_one_portal_invitation_accepted_by_many_sessions, n=SESSIONS)
    assert result["errors"] == [], result
    # One session gets the account and lands on the portal; every other is refused ("used"), or,
    # having read the invitation just before that commit and the account just after, is asked to
    # sign in (200 with the sign-in link): none made anything.
    assert result["statuses"].count("302 /portal/") == 1
    assert set(result["statuses"]) - {"302 /portal/"} <= {"400", "200"}
    assert (result["users"], result["links"], result["used"], result["accepted_events"]) == (1, 1, 1, 1)
