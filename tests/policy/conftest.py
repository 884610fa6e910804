"""Helpers for the policy tests: staff actors and an override publisher."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from tests.policy.helpers import publish_in_force

EMAIL_WITH_BAA = '[[processors]]\nid = "email"\nbaa_on_file = true\n'


@pytest.fixture
def officer(world):
    return StaffActor.from_membership(world.a.memberships[Role.PRIVACY_OFFICER])


@pytest.fixture
def publish(officer):
    """publish(override, days=0, material=False, actor=officer) -> the new PolicyVersion.
    in_force_now=True: a material change published long enough ago to be in force now."""
    from confide.policy.services import do_publish_policy

    def make(override: str, *, days: float = 0, material: bool = False, actor=None, summary: str = "A change.", in_force_now: bool = False):
        if in_force_now:
            return publish_in_force(actor=actor or officer, override_toml=override, summary=summary)
        return do_publish_policy(
            actor=actor or officer, override_toml=override, effective_at=timezone.now() + datetime.timedelta(days=days),
            material=material, summary=summary,
        )  # fmt: skip

    return make
