"""A practice's audit chain begins when the practice does: its genesis entry is written by this
post_save receiver, inside `Practice.save`'s transaction (confide/core/models.py), so neither
exists without the other."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from confide.audit import chain
from confide.core.models import Practice


@receiver(post_save, sender=Practice, dispatch_uid="audit-chain-genesis")
def _start_chain(sender, instance: Practice, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        chain.start_chain(instance.pk)
