"""Merging two charts at once, in opposite directions (records/merge.py): both patients are
locked in pk order, so neither merge waits on the other forever; exactly one lands, the other is
told the chart left the register, and every item ends up in the one active chart. Undo pressed
twice at once undoes once."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario
from tests.concurrency.test_chart import new_patient


def _state(world, ids) -> dict:
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.chart import get_clinical
    from confide.records.models import Patient, PatientMerge

    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=world.practice.id):
        active = [str(pk) for pk in Patient.objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True)]
        meds = sorted(i.name for pk in active for i in get_clinical(clinician, pk).lists["medications"].items)
        merges = sorted(PatientMerge.objects.values_list("state", flat=True))
    return {"active": active, "medications": meds, "merges": merges}


def scenario_opposite_merges(params):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records import merge

    world = new_world("merge")
    a = new_patient(world, medications=[{"name": "Med A", "kind": "otc"}])
    b = new_patient(world, medications=[{"name": "Med B", "kind": "otc"}])
    actors = [StaffActor.from_membership(world.memberships[role]) for role in (Role.CLINICIAN, Role.OWNER)]
    pairs = [(a.id, b.id), (b.id, a.id)]

    def work(i: int):
        with tenant_context(practice_id=world.practice.id):
            done = merge.do_merge_patients(actor=actors[i], survivor_id=pairs[i][0], duplicate_id=pairs[i][1])
            return str(done.survivor_id)

    outcomes = concurrently(2, work)
    return {"values": [o.value for o in outcomes], "errors": [o.error for o in outcomes], **_state(world, [a.id, b.id])}


def test_two_opposite_merges_at_once_one_lands_and_nothing_is_lost(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_opposite_merges)
    landed = [v for v in result["values"] if v]
    refused = [e for e in result["errors"] if e]
    assert len(landed) == 1 and len(refused) == 1, result
    assert "active register" in refused[0] or "AccessRefused" in refused[0], refused
    assert result["active"] == landed and result["medications"] == ["Med A", "Med B"]
    assert result["merges"] == ["reversible"]


def scenario_undo_twice(params):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records import merge

    world = new_world("unmerge")
    a = new_patient(world, medications=[{"name": "Med A", "kind": "otc"}])
    b = new_patient(world, medications=[{"name": "Med B", "kind": "otc"}])
    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=world.practice.id):
        done = merge.do_merge_patients(actor=clinician, survivor_id=a.id, duplicate_id=b.id)

    def work(i: int):
        with tenant_context(practice_id=world.practice.id):
            return merge.do_undo_merge(actor=clinician, merge_id=done.pk).state

    outcomes = concurrently(params["n"], work)
    return {"values": [o.value for o in outcomes], "errors": [o.error for o in outcomes], **_state(world, [a.id, b.id])}


def test_undo_pressed_at_once_undoes_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_undo_twice, n=3)
    assert [v for v in result["values"] if v] == ["undone"], result
    assert all("already undone" in e for e in result["errors"] if e), result["errors"]
    assert len(result["active"]) == 2 and result["medications"] == ["Med A", "Med B"] and result["merges"] == ["undone"]
