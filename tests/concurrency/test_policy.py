"""POL2 under parallel publishers: whether a change is material is judged against the version
that is latest when the change is written (under its row lock), so two officers publishing at
once can never land a material change marked as not material.

Half the threads shorten backups to 14 days, half to 20 days, all as "not material". Against
version 1 (30 days) both are shorter; once 14 days is published, 20 days is *longer* (material)
and must be refused. Whatever the order, every published version's change from its predecessor
is either not material or marked material."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

PUBLISHERS = 8
SHORTER = ('[[retention]]\nid = "backups"\nperiod = "14d"\n', '[[retention]]\nid = "backups"\nperiod = "20d"\n')


def scenario_parallel_publishers(params):
    import datetime

    from django.utils import timezone

    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.policy import services
    from confide.policy.models import PolicyVersion

    world = new_world("policy")
    officer = StaffActor.from_membership(world.memberships[Role.PRIVACY_OFFICER])
    effective = timezone.now() + datetime.timedelta(days=1)
    services.latest_version(world.practice.id)  # version 1, committed before the race

    def publish(i: int):
        version = services.do_publish_policy(
            actor=officer, override_toml=SHORTER[i % 2], effective_at=effective, material=False, summary=f"Backups, take {i}.",
        )  # fmt: skip
        return version.number

    outcomes = concurrently(params["n"], publish)
    with tenant_context(practice_id=world.practice.id):
        versions = list(PolicyVersion.objects.order_by("number"))
    unmarked_material = [
        cur.number for prev, cur in zip(versions, versions[1:])
        if not cur.material and services.material_changes(services.declaration_of(prev), services.declaration_of(cur))
    ]  # fmt: skip
    return {
        "published": sorted(o.value for o in outcomes if o.ok),
        "refusals": sorted({o.error.split(":", 1)[0] for o in outcomes if not o.ok}),
        "periods": [v.resolved["retention"][[r["id"] for r in v.resolved["retention"]].index("backups")]["period"] for v in versions],
        "unmarked_material": unmarked_material,
    }


def test_pol2_parallel_publishers_never_land_a_material_change_marked_not_material(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_parallel_publishers, n=PUBLISHERS)
    assert result["unmarked_material"] == []
    assert result["refusals"] == ["PublishRefused"]  # the same text again, or 20 days after 14
    assert result["periods"] in (["30d", "14d"], ["30d", "20d", "14d"])
    assert result["published"] == list(range(2, len(result["periods"]) + 1))
