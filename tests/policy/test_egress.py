"""PRC1, DSC3, MIN1: data leaves for a processor only through the egress gate, which allows only
declared processors, purposes and categories, PHI only under a BAA, and never a sale."""

from __future__ import annotations

import pytest

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.policy.egress import EgressRefused, check_egress
from tests.policy.conftest import EMAIL_WITH_BAA


def _check(world, **kwargs):
    args = {"practice_id": world.a.practice.id, "processor_id": "email", "purpose": "operations", "categories": {"contact.email"}}
    return check_egress(**(args | kwargs))


def _refusal(world, **kwargs) -> tuple[str, AuditEntry]:
    with pytest.raises(EgressRefused) as caught:
        _check(world, **kwargs)
    entry = AuditEntry.objects.filter(event=AuditEvent.POLICY_EGRESS_REFUSED).latest("id")
    assert (entry.outcome, entry.reason, entry.chain) == ("denied", caught.value.code, str(world.a.practice.id))
    return caught.value.code, entry


def test_prc1_phi_to_a_processor_without_a_baa_is_refused_and_audited(world):
    code, entry = _refusal(world, subject_ids=["p-1"])
    assert code == "no_baa"
    assert (entry.categories, entry.resource_ids, entry.detail["processor"]) == (["contact.email"], ["p-1"], "email")


def test_prc1_with_a_baa_on_file_the_same_flow_is_permitted_and_audited(world, publish):
    publish(EMAIL_WITH_BAA)
    permit = _check(world, subject_ids=["p-1"])
    assert (permit.processor.id, permit.purpose, permit.policy_version) == ("email", "operations", 2)
    entry = AuditEntry.objects.get(event=AuditEvent.POLICY_EGRESS_ALLOWED)
    assert (entry.categories, entry.resource_ids, entry.purpose) == (["contact.email"], ["p-1"], "operations")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"purpose": "sale"}, "unknown_purpose"),
        ({"purpose": "ai_training"}, "unknown_purpose"),
        ({"categories": {"contact.fax"}}, "unknown_category"),
        ({"categories": set()}, "nothing_declared"),
        ({"processor_id": "data-broker"}, "processor_not_declared"),
        ({"processor_id": "sms", "categories": {"contact.phone"}}, "processor_not_in_use"),
        ({"purpose": "analytics"}, "purpose_not_declared"),
        ({"categories": {"health.notes"}}, "category_not_declared"),
    ],
)
def test_dsc3_every_undeclared_flow_is_refused(world, publish, kwargs, code):
    publish(EMAIL_WITH_BAA)  # so a refusal is for the reason named, not for want of a BAA
    assert _refusal(world, **kwargs)[0] == code


def test_dsc3_sale_is_impossible_by_construction():
    """No purpose sells data or trains models, and no processor may train on it: not a rule that
    is checked at run time and could be switched off, but values the schema cannot hold."""
    from confide.core.purposes import Purpose
    from confide.policy.loader import load_default

    assert not {"sale", "sell", "share", "advertising", "ai_training", "train"} & {p.value for p in Purpose}
    assert all(p.trains_models is False for p in load_default().processors)


def test_non_phi_to_a_service_provider_needs_no_baa(world, publish):
    publish('[[processors]]\nid = "payments"\nin_use = true\n', in_force_now=True)  # a new processor: material
    assert _check(world, processor_id="payments", purpose="payment", categories={"financial.payment"}).processor.id == "payments"


def test_min1_a_childs_data_below_the_minimum_age_never_reaches_a_third_party(world, publish):
    publish(EMAIL_WITH_BAA)  # minimum age 18 by default
    assert _refusal(world, youngest_age=15)[0] == "child_below_minimum_age"
    assert _check(world, youngest_age=18).processor.id == "email"
    # The practice's own server is not a third party.
    assert _check(world, processor_id="hosting", purpose="treatment", categories={"health.notes"}, youngest_age=15).processor.id == "hosting"


def test_the_gate_reads_each_practices_own_declaration(world, publish):
    publish(EMAIL_WITH_BAA)  # practice A only
    _check(world)
    with pytest.raises(EgressRefused):
        _check(world, practice_id=world.b.practice.id)
