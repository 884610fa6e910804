"""MIN3 at the 18th birthday: two workers running the job at once end each guardian link once,
write one audit entry, invite the adult once and tell each guardian once."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, forget_user_on_cleanup, new_world, run_scenario

WORKERS = 4


def scenario_two_workers_at_the_birthday(params):
    from django.core import mail

    from confide.accounts import portal_invitations
    from confide.accounts.models import LinkKind, PortalLink
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.tenancy import tenant_context
    from confide.records.majority import end_representation_at_majority
    from tests.portal_world import create_patient, link, make_portal_user, years_ago

    world = new_world("majority")
    teen = create_patient(world, given_name="Tess", family_name="Race", preferred_name="", date_of_birth=years_ago(18), email="tess@race.test")
    guardians = [make_portal_user(f"guardian{i}-{world.practice.slug}@race.test", f"G{i}") for i in range(2)]
    for user in guardians:
        forget_user_on_cleanup(user)
        link(user, teen, kind=LinkKind.REPRESENTATIVE, relationship="parent", verified_by=world.owner)
    invited = []
    portal_invitations.issue_portal_invitation = lambda **kwargs: invited.append(str(kwargs["patient_id"]))
    mail.outbox = []

    outcomes = concurrently(params["n"], lambda i: end_representation_at_majority(practice_ids=[world.practice.id]).links_ended)
    with tenant_context(practice_id=world.practice.id):
        active = PortalLink.objects.filter(patient_id=teen.pk, is_active=True).count()
        ended = PortalLink.objects.filter(patient_id=teen.pk, ended_reason="age_of_majority").count()
    return {
        "errors": [o.error for o in outcomes if not o.ok],
        "links_ended": sorted(o.value for o in outcomes if o.ok),
        "active": active,
        "ended": ended,
        "entries": AuditEntry.objects.filter(event=AuditEvent.PORTAL_LINK_ENDED, practice_id=world.practice.id).count(),
        "invited": invited,
        "mails": sorted(m.to[0] for m in mail.outbox if m.subject == "Your portal access has changed"),
        "guardians": sorted(u.email for u in guardians),
    }


def test_min3_workers_running_the_birthday_job_at_once_end_each_link_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_two_workers_at_the_birthday, n=WORKERS)
    assert result["errors"] == []
    assert sum(result["links_ended"]) == 2 and result["links_ended"].count(0) == WORKERS - 1
    assert (result["active"], result["ended"], result["entries"]) == (0, 2, 1)
    assert len(result["invited"]) == 1
    assert result["mails"] == result["guardians"]
