"""DSC2: the held notice of a compelled disclosure goes out once, even when several sweeps run at
once (`patient_notified_at` claimed by a conditional update before the letter is written)."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

SWEEPS = 4


def scenario_sweeps_race_for_one_held_notice(params):
    import datetime

    from django.utils import timezone

    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.disclosures.models import Disclosure
    from confide.disclosures.services import record_disclosure
    from confide.records.services import do_create_patient
    from confide.rights import disclosure_notices
    from confide.rights.models import Letter, LetterKind

    world = new_world("notice")
    practice = world.practice
    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=practice.id):
        patient = do_create_patient(actor=clinician, given_name="Notice", family_name="Race")
    made = record_disclosure(
        practice_id=practice.id, patient_id=patient.pk, basis="subpoena", source="compelled", recipient="Example LLP",
        description="Conditions", purpose="Subpoena 12", notice_forbidden=True,
        notice_forbidden_until=timezone.localdate() + datetime.timedelta(days=1),
    )  # fmt: skip
    later = timezone.now() + datetime.timedelta(days=3)
    outcomes = concurrently(params["n"], lambda i: disclosure_notices.send_notice(practice_id=practice.id, disclosure_id=made.pk, now=later) is not None)
    with tenant_context(practice_id=practice.id):
        return {
            "sent": sorted(bool(o.value) for o in outcomes if o.ok),
            "errors": [o.error for o in outcomes if not o.ok],
            "letters": Letter.objects.filter(kind=LetterKind.DISCLOSURE_NOTICE).count(),
            "notified": Disclosure.objects.get(pk=made.pk).patient_notified_at is not None,
        }


def test_dsc2_sweeps_racing_for_one_held_notice_send_it_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_sweeps_race_for_one_held_notice, n=SWEEPS)
    # SQLite may answer "database is locked" to a loser: it sent nothing, which is the point.
    assert all("locked" in e for e in result["errors"]), result["errors"]
    assert result["sent"].count(True) == 1
    assert result["letters"] == 1 and result["notified"] is True
