"""Publishing a version that is in force now, for tests that need one whatever its materiality.

A material change takes effect only CONFIDE_POLICY_MATERIAL_NOTICE_DAYS after it is published
(and materiality is computed from the change: confide/policy/materiality.py), so a test that
needs, say, a new processor in use today publishes it as the officer would have done that many
days ago: material, taking effect now."""

from __future__ import annotations

import datetime

import time_machine
from django.conf import settings
from django.utils import timezone


def publish_in_force(*, actor, override_toml: str, summary: str = "A change."):
    from confide.policy.services import do_publish_policy

    now = timezone.now()
    back = now - datetime.timedelta(days=settings.CONFIDE_POLICY_MATERIAL_NOTICE_DAYS, minutes=10)
    with time_machine.travel(back, tick=False):
        return do_publish_policy(actor=actor, override_toml=override_toml, effective_at=now - datetime.timedelta(minutes=5),
                                 material=True, summary=summary)  # fmt: skip
