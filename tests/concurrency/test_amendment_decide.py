"""RTS3: two reviewers decide the same amendment at once (a clinician accepts, the owner accepts
too, from pages showing the same version): exactly one decision lands, one addendum is written,
one outcome letter set is kept; the other is told the request changed meanwhile. A records
release created twice at once from two pages: two links, each with exactly its own disclosure."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario
from tests.concurrency.test_chart import new_patient


def _signed_note_and_request(world):
    import datetime

    from django.utils import timezone

    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records import notes
    from confide.rights import amendments
    from confide.rights.models import RightsRequest

    patient = new_patient(world)
    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=world.practice.id):
        note = notes.do_create_note(actor=clinician, patient_id=patient.pk, content={"subjective": "Smokes daily"})
        notes.do_sign_note(actor=clinician, note_id=note.pk, patient_id=patient.pk)
        now = timezone.now()
        req = RightsRequest.objects.create(
            practice_id=world.practice.id, patient_id=patient.pk, kind="correct", received_at=now,
            due_on=timezone.localdate(now) + datetime.timedelta(days=60), verification="staff",
        )  # fmt: skip
    amendments.start_amendment(actor=clinician, request_id=req.pk, target=f"note:{note.pk}", asked="I do not smoke", expected_version=1)
    return patient, note, req


def scenario_two_reviewers(params):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.models import Addendum
    from confide.rights import amendments
    from confide.rights.models import Amendment, Letter, RightsRequest

    world = new_world("amend")
    patient, note, req = _signed_note_and_request(world)
    actors = [StaffActor.from_membership(world.memberships[role]) for role in (Role.CLINICIAN, Role.OWNER)]

    def work(i: int):
        with tenant_context(practice_id=world.practice.id):
            done = amendments.accept_amendment(actor=actors[i], request_id=req.pk, expected_version=2, text=f"Wording {i}")
            return str(done.amendment.reviewer_id)

    outcomes = concurrently(2, work)
    with tenant_context(practice_id=world.practice.id):
        amendment = Amendment.objects.get(request_id=req.pk)
        row = RightsRequest.objects.get(pk=req.pk)
        return {
            "values": [o.value for o in outcomes], "errors": [o.error for o in outcomes], "status": amendment.status,
            "reviewer": str(amendment.reviewer_id), "request_status": row.status, "version": row.version,
            "addenda": Addendum.objects.filter(note_id=note.pk).count(),
            "letters": Letter.objects.filter(request_id=req.pk, kind="amendment_outcome").count(),
        }  # fmt: skip


def test_rts3_two_reviewers_deciding_at_once_make_one_decision(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_two_reviewers)
    landed = [v for v in result["values"] if v]
    refused = [e for e in result["errors"] if e]
    assert len(landed) == 1 and len(refused) == 1, result
    assert "changed since you opened it" in refused[0] or "decided meanwhile" in refused[0], refused
    assert result["status"] == "accepted" and result["reviewer"] == landed[0] and result["request_status"] == "done"
    assert result["addenda"] == 1 and result["letters"] == 1 and result["version"] == 3


def scenario_two_releases(params):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.disclosures.models import Disclosure
    from confide.rights import release
    from confide.rights.models import ReleaseLink

    world = new_world("release")
    patient = new_patient(world)
    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])

    def work(i: int):
        with tenant_context(practice_id=world.practice.id):
            link, _ = release.create_release(actor=clinician, patient_id=patient.pk, recipient=f"Dr {i}", basis="attorney",
                                             categories=["health.notes"])  # fmt: skip
            return str(link.pk)

    outcomes = concurrently(params["n"], work)
    with tenant_context(practice_id=world.practice.id):
        links = sorted(str(pk) for pk in ReleaseLink.objects.values_list("pk", flat=True))
        sources = sorted(str(s) for s in Disclosure.objects.filter(source="release").values_list("source_id", flat=True))
    return {"values": [o.value for o in outcomes], "errors": [o.error for o in outcomes], "links": links, "sources": sources}


def test_dsc1_releases_created_at_once_each_record_exactly_their_disclosure(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_two_releases, n=3)
    assert result["errors"] == [None, None, None], result
    assert result["links"] == sorted(result["values"]) and result["sources"] == result["links"]
