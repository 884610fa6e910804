"""ACC1: an invitation link is used once, and the first-run page makes one practice, however
many requests arrive at once. Real threads, each its own browser session, through the views."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, forget_user_on_cleanup, new_world, run_scenario

SESSIONS = 8
PASSWORD = "Plum-Kettle-Harbour-42"


def scenario_one_invitation_accepted_by_many_sessions(params):
    import re

    from django.core import mail
    from django.db import transaction
    from django.test import Client
    from django.urls import reverse

    from confide.accounts.invitations import issue_invitation
    from confide.accounts.models import Membership, User
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context

    world = new_world("invite")
    mail.outbox = []
    with transaction.atomic():
        issue_invitation(practice=world.practice, email="race@example.test", role=Role.CLINICIAN, invited_by=world.owner)
    token = re.search(r"token=(\S+)", mail.outbox[-1].body).group(1)
    clients = [Client() for _ in range(params["n"])]
    for client in clients:  # each session has opened the link
        assert client.get(reverse("accounts:invitation"), {"token": token}).status_code == 302

    def accept(i):
        data = {"display_name": f"Racer {i}", "password": PASSWORD, "password_again": PASSWORD}
        response = clients[i].post(reverse("accounts:invitation-accept"), data)
        return f"{response.status_code} {response.get('Location', '')}".strip()

    outcomes = concurrently(params["n"], accept)
    users = list(User.objects.filter(email="race@example.test"))
    for user in users:
        forget_user_on_cleanup(user)
    with tenant_context(practice_id=world.practice.id):
        memberships = Membership.objects.filter(user__email="race@example.test").count()
    return {
        "errors": [o.error for o in outcomes if not o.ok],
        "statuses": sorted(str(o.value) for o in outcomes),
        "users": len(users),
        "memberships": memberships,
        "accepted_events": AuditEntry.objects.filter(event=AuditEvent.INVITATION_ACCEPTED, practice_id=world.practice.id).count(),
    }


def test_acc1_eight_sessions_accepting_one_invitation_at_once_make_exactly_one_membership(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_one_invitation_accepted_by_many_sessions, n=SESSIONS)
    assert result["errors"] == []
    # One session got the account and goes on to enrol an authenticator; every other one is refused
    # ("already used"), or, if it read the invitation just before that commit and the account just
    # after, is sent to sign in (where the used invitation is refused): none made anything.
    assert result["statuses"].count("302 /signin/enrol/") == 1
    assert set(result["statuses"]) - {"302 /signin/enrol/"} <= {"400", "302 /signin/?next=/invite/accept/"}
    assert (result["users"], result["memberships"], result["accepted_events"]) == (1, 1, 1)


def scenario_accept_and_revoke_at_once(params):
    import re

    from django.core import mail
    from django.db import transaction
    from django.test import Client
    from django.urls import reverse

    from confide.accounts.invitations import issue_invitation
    from confide.accounts.models import Invitation, Membership, User
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from tests.concurrency.harness import signed_in_client

    world = new_world("revoke")
    mail.outbox = []
    with transaction.atomic():
        invitation = issue_invitation(practice=world.practice, email="torn@example.test", role=Role.BILLING, invited_by=world.owner)
    token = re.search(r"token=(\S+)", mail.outbox[-1].body).group(1)
    half = params["n"] // 2
    acceptors = [Client() for _ in range(half)]
    for client in acceptors:
        client.get(reverse("accounts:invitation"), {"token": token})
    owners = [signed_in_client(world.owner, world.practice) for _ in range(params["n"] - half)]

    def work(i):
        if i < half:
            data = {"display_name": f"Torn {i}", "password": PASSWORD, "password_again": PASSWORD}
            response = acceptors[i].post(reverse("accounts:invitation-accept"), data)
            return "accepted" if response.status_code == 302 and response["Location"].endswith("/signin/enrol/") else "refused"
        response = owners[i - half].post(reverse("accounts:invitation-revoke", args=[invitation.id]), follow=True)
        return "revoked" if b"Invitation withdrawn" in response.content else "refused"

    outcomes = concurrently(params["n"], work)
    for user in User.objects.filter(email="torn@example.test"):
        forget_user_on_cleanup(user)
    with tenant_context(practice_id=world.practice.id):
        row = Invitation.objects.get(id=invitation.id)
        memberships = Membership.objects.filter(user__email="torn@example.test").count()
    return {
        "errors": [o.error for o in outcomes if not o.ok],
        "wins": sorted(o.value for o in outcomes if o.value != "refused"),
        "accepted": row.accepted_at is not None,
        "revoked": row.revoked_at is not None,
        "memberships": memberships,
    }


def test_acc1_an_invitation_accepted_and_withdrawn_at_once_is_one_or_the_other(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_accept_and_revoke_at_once, n=SESSIONS)
    assert result["errors"] == []
    assert len(result["wins"]) == 1
    if result["wins"] == ["accepted"]:
        assert (result["accepted"], result["revoked"], result["memberships"]) == (True, False, 1)
    else:
        assert (result["accepted"], result["revoked"], result["memberships"]) == (False, True, 0)


def scenario_first_run_submitted_at_once(params):
    from django.test import Client

    from confide.core.models import Practice
    from confide.site.practices import ensure_setup_code
    from tests.concurrency import harness

    if Practice.objects.exists():
        return {"skipped": "the shared database already holds a practice"}
    code = ensure_setup_code()
    clients = [Client() for _ in range(params["n"])]

    def submit(i):
        data = {"setup_code": code, "name": f"Clinic {i}", "slug": f"first-run-{i}", "owner_email": f"owner{i}@example.test"}
        return clients[i].post("/setup/", data).status_code

    outcomes = concurrently(params["n"], submit)
    made = list(Practice.objects.values_list("id", flat=True))
    harness._MADE.extend({"id": str(pk), "users": []} for pk in made)
    harness._write_cleanup()
    return {"errors": [o.error for o in outcomes if not o.ok], "statuses": sorted(o.value for o in outcomes), "practices": len(made)}


def test_acc1_first_run_submitted_by_many_at_once_creates_exactly_one_practice(tmp_path, concurrency_db):
    import pytest

    result = run_scenario(tmp_path, scenario_first_run_submitted_at_once, n=SESSIONS)
    if "skipped" in result:
        pytest.skip(result["skipped"])
    assert result["errors"] == []
    assert result["statuses"] == [200] + [404] * (SESSIONS - 1)
    assert result["practices"] == 1
