"""Part "intake" (issue 17 item 5): the portal's request form offers the new kinds (accounting,
the opt-outs, an appeal) and a parent still files for their minor child (MIN3)."""

from __future__ import annotations

from confide.portal.forms import RightsRequestForm
from confide.rights import services


def test_the_portal_form_offers_every_kind_a_patient_may_ask_for():
    offered = {value for value, _ in RightsRequestForm.base_fields["kind"].choices}
    assert {"accounting", "opt_out_sale", "limit_sensitive", "opt_out_profiling", "shine_the_light", "delete"} <= offered
    # An appeal names the decision it appeals: "Appeal this decision" beside it, not a free choice here.
    assert "appeal" not in offered


def test_min3_a_parent_asks_for_the_accounting_of_a_minors_disclosures_in_the_portal(portal):
    made = services.check_open_request(actor=portal.child_actor, kind="accounting")
    assert made.by_representative and made.patient_id == portal.child.pk and made.kind == "accounting"
    assert made.verification == "session" and made.regimes == ["hipaa"]
