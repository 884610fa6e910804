"""MIN3's per-category exceptions (HIPAA §164.502(g)(3)): the declaration lists the data categories
a minor controls in this practice; a parent or guardian's portal link never opens them, the
patient's own account still does; the notice says so in plain words; a category that is not in
the taxonomy stops the override with a message naming it."""

from __future__ import annotations

import pytest

from confide.access import policy
from confide.access.door import open_chart
from confide.access.errors import AccessRefused
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.policy import loader, materiality
from confide.policy.loader import PolicyError
from confide.policy.notice import _age_text
from confide.policy.services import declaration_in_force
from tests.policy.helpers import publish_in_force
from tests.portal_world import PortalPerson, actor_for, link, make_portal_user, portal_world

MINOR_CONTROLS = '[age]\nminor_controls = ["health.encounters", "health.documents"]\n'


@pytest.fixture
def pw(world):
    return portal_world(world.a)


def _officer(world):
    return StaffActor.from_membership(world.a.memberships[Role.PRIVACY_OFFICER])


def _open(actor, patient_id, categories):
    with tenant_context(practice_id=actor.practice_id):
        with open_chart(actor, patient_id, Purpose.PATIENT_REQUEST, categories=categories) as chart:
            return chart.categories


def test_min3_the_default_leaves_the_decision_to_the_practice_and_withholds_nothing(world, pw):
    assert declaration_in_force(world.a.practice.id).minor_controlled_categories() == frozenset()
    assert _open(pw.child_actor, pw.child.pk, None) == policy.PORTAL_GRANT


def test_min3_a_representative_is_refused_a_category_the_minor_controls(world, pw):
    publish_in_force(actor=_officer(world), override_toml=MINOR_CONTROLS, summary="Minors' own care.")
    assert declaration_in_force(world.a.practice.id).minor_controlled_categories() == {"health.encounters", "health.documents"}
    with pytest.raises(AccessRefused):
        _open(pw.child_actor, pw.child.pk, [policy.ENCOUNTERS])
    # …everything else of the portal grant still opens, and "all you may" leaves those two out
    assert _open(pw.child_actor, pw.child.pk, None) == policy.PORTAL_GRANT - {policy.ENCOUNTERS, policy.DOCUMENTS}
    assert _open(pw.child_actor, pw.child.pk, [policy.MEDICATIONS]) == {policy.MEDICATIONS}


def test_min3_the_minor_with_an_own_account_opens_the_category_they_control(world, pw):
    publish_in_force(actor=_officer(world), override_toml=MINOR_CONTROLS, summary="Minors' own care.")
    user = make_portal_user(f"kit@{world.a.practice.slug}.portal.test", "Kit")
    own = PortalPerson(user, pw.child, link(user, pw.child))
    assert _open(actor_for(own.link), pw.child.pk, [policy.ENCOUNTERS]) == {policy.ENCOUNTERS}


def test_min3_an_unknown_category_in_an_override_is_refused_with_its_name_and_line():
    with pytest.raises(PolicyError) as caught:
        loader.resolve('[age]\nminor_controls = ["health.mental"]\n')
    assert "'health.mental' is not a data category" in caught.value.message
    assert "age.minor_controls.0" in caught.value.message
    assert caught.value.line == 2


def test_min3_a_category_named_twice_is_refused():
    with pytest.raises(PolicyError, match="named twice"):
        loader.resolve('[age]\nminor_controls = ["health.encounters", "health.encounters"]\n')


def test_min3_the_notice_says_in_plain_words_what_a_parent_does_not_see():
    default = loader.load_default()
    assert "does not see" not in _age_text(default)
    declared = loader.resolve(MINOR_CONTROLS)
    text = _age_text(declared)
    assert "A parent or guardian who uses the portal for a patient under 18 does not see these parts of the record" in text
    assert text.endswith("does not see these parts of the record: visits and procedures, documents.")


def test_min3_dropping_a_minor_controlled_category_is_a_material_change():
    before = loader.resolve(MINOR_CONTROLS)
    after = loader.resolve('[age]\nminor_controls = ["health.documents"]\n')
    assert "age.parents_see_more" in [c.rule for c in materiality.material_changes(before, after)]
    assert "age.parents_see_more" not in [c.rule for c in materiality.material_changes(after, before)]  # parents see less: not this


def test_min3_the_settings_guide_shows_the_minor_controls(world):
    from confide.policy.guide import build_guide

    assert build_guide(loader.resolve(MINOR_CONTROLS)).minor_controls == ("health.encounters", "health.documents")
