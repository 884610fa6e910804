"""ACC1: a password reset link is used once, even when it is submitted from several browsers at
the same moment (each with the link opened, so each holds its token in its session): exactly one
new password is set, the others are told the link no longer works, one audit entry."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

SESSIONS = 8


def scenario_one_reset_link_submitted_by_many_sessions(params):
    from urllib.parse import parse_qs, urlsplit

    from django.contrib.auth.hashers import check_password
    from django.test import Client
    from django.urls import reverse

    from confide.accounts.models import User
    from confide.accounts.reset import reset_link
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.permissions import Role

    world = new_world("reset")
    user = world.user(Role.CLINICIAN)
    link = urlsplit(reset_link(user))
    clients = [Client() for _ in range(params["n"])]
    for client in clients:
        assert client.get(link.path, parse_qs(link.query)).status_code == 302
    passwords = [f"Parallel-Reset-Password-{i:02d}" for i in range(params["n"])]
    url = reverse("accounts:password-reset-new")

    outcomes = concurrently(params["n"], lambda i: clients[i].post(url, {"new_password1": passwords[i], "new_password2": passwords[i]}).status_code)
    stored = User.objects.get(pk=user.pk).password
    return {
        "statuses": sorted(str(o.value) for o in outcomes),
        "errors": [o.error for o in outcomes if not o.ok],
        "winner_password_set": [check_password(passwords[o.index], stored) for o in outcomes if o.value == 302],
        "reset_events": AuditEntry.objects.filter(event=AuditEvent.PASSWORD_RESET, detail__user_id=str(user.pk)).count(),
    }


def test_acc1_one_reset_link_submitted_by_eight_sessions_at_once_sets_one_password(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_one_reset_link_submitted_by_many_sessions, n=SESSIONS)
    assert result["errors"] == []
    assert result["statuses"] == ["302"] + ["400"] * (SESSIONS - 1)
    assert result["winner_password_set"] == [True]
    assert result["reset_events"] == 1
