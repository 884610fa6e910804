"""Audit entries for events announced by layers below the audit log (the vault)."""

from __future__ import annotations

from django.dispatch import receiver

from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.vault.signals import KeyEvent, key_event


@receiver(key_event, dispatch_uid="confide.audit.receivers.record_key_event")
def record_key_event(sender, *, event: KeyEvent, practice_id, detail: dict, **kwargs) -> None:
    record(AuditEvent(event.value), practice_id=practice_id, actor=system_actor("vault-rotation"), detail=detail)
