"""DIR3: the same colleague referred by several submissions at once gets exactly one e-mail and
one row (the unique blind index per practice decides; the losers are refused, no e-mail)."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

SUBMISSIONS = 6


def scenario_same_referral_submitted_at_once(params):
    from django.core import mail
    from django.test import Client
    from django.urls import reverse

    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.directory.models import Referral
    from tests.conftest import sign_in

    world = new_world("refer")
    mail.outbox = []
    clients = [sign_in(Client(), world.user(Role.CLINICIAN), world.practice) for _ in range(params["n"])]

    def submit(i):
        response = clients[i].post(reverse("directory:refer"), {"name": "Morgan Referee", "email": "race.referee@example.test"})
        return response.status_code

    outcomes = concurrently(params["n"], submit)
    with tenant_context(practice_id=world.practice.id):
        rows = Referral.objects.count()
    return {
        "errors": [o.error for o in outcomes if not o.ok],
        "statuses": sorted(o.value for o in outcomes if o.ok),
        "rows": rows,
        "emails": len([m for m in mail.outbox if "race.referee@example.test" in m.to]),
    }


def test_dir3_one_referral_submitted_six_times_at_once_sends_one_email(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_same_referral_submitted_at_once, n=SUBMISSIONS)
    assert result["errors"] == []
    assert result["statuses"].count(302) == 1 and result["statuses"].count(400) == SUBMISSIONS - 1
    assert (result["rows"], result["emails"]) == (1, 1)
