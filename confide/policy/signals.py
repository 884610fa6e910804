"""Every new practice starts with version 1 of its privacy declaration: the shipped default (so
there is always a version in force to render, to cite in a consent record, and to diff a
practice's first change against); and what the policy tells the layers above it."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

from confide.core.models import Practice


@receiver(post_save, sender=Practice, dispatch_uid="policy-first-version")
def _first_version(sender, instance: Practice, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        from confide.policy.services import create_first_version

        # A practice saved with `first_policy_override` set starts with those choices (confide demo).
        create_first_version(instance.pk, override_toml=getattr(instance, "first_policy_override", ""))


# Sent after a material version commits (kwargs: version_id, practice_id). The job that tells
# everyone it affects reads patients' addresses through the chart door, above this package:
# confide/records/policy_notices.py receives it and enqueues that job.
material_version_published = Signal()
