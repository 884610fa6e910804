"""MSG2: a campaign reaches each patient at most once, however many staff press Send at once
and however many times its task runs at once (the conditional update of the status, and the
unique (campaign, patient) recipient row). Real threads, each its own connection."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

THREADS = 6
PATIENTS = 3


def scenario_campaign_sent_by_many_at_once(params):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.messaging import campaigns
    from confide.messaging.models import CampaignRecipient, Message
    from tests.consent.helpers import by_phone
    from tests.messaging.conftest import declare_processors
    from tests.messaging.email_helpers import EMAIL_DECLARED
    from tests.portal_world import create_patient

    world = new_world("campaign")
    declare_processors(world, EMAIL_DECLARED)
    for i in range(PATIENTS):
        patient = create_patient(world, given_name=f"Racer{i}", email=f"racer{i}@example.test")
        by_phone(world, patient.id, "marketing_email")
    staff = [StaffActor.from_membership(world.memberships[role]) for role in (Role.OWNER, Role.FRONT_DESK)]
    with tenant_context(practice_id=world.practice.id):
        campaign = campaigns.create_campaign(staff[0], name="Race", channel="email", body="News for everyone.")

    def start(i):
        with tenant_context(practice_id=world.practice.id):
            return campaigns.start_campaign(staff[i % 2], campaign.pk)[1]

    started = concurrently(params["n"], start)
    ran = concurrently(params["n"], lambda i: campaigns.run_campaign(campaign.pk, world.practice.id))
    with tenant_context(practice_id=world.practice.id):
        per_patient = sorted(Message.objects.filter(campaign_id=campaign.pk).values_list("patient_id", flat=True))
        recipients = CampaignRecipient.objects.filter(campaign_id=campaign.pk).count()
    return {
        "errors": [o.error for o in started + ran if not o.ok],
        "started": sorted(bool(o.value) for o in started),
        "written": sum(o.value or 0 for o in ran),
        "messages": len(per_patient),
        "distinct": len(set(per_patient)),
        "recipients": recipients,
    }


def test_msg2_a_campaign_sent_by_many_at_once_reaches_each_patient_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_campaign_sent_by_many_at_once, n=THREADS)
    assert result["errors"] == [], result
    assert result["started"].count(True) == 1, result
    assert result["messages"] == result["distinct"] == result["recipients"] == result["written"] == PATIENTS, result
