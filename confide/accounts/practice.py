"""The practice as its members see it: choosing which practice to work in, and the owner's
settings of it (the only code that changes a Practice). Here rather than in core: changing a
practice is a member's act, checked against their role and recorded as a security event."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from confide.accounts.services import record_security_event
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.models import Practice
from confide.core.permissions import Perm


@transaction.atomic
def do_update_practice_settings(*, actor: StaffActor, changes: dict, request=None) -> Practice:
    if not actor.has(Perm.PRACTICE_SETTINGS_EDIT):
        raise Forbidden(Perm.PRACTICE_SETTINGS_EDIT)
    for name, value in changes.items():
        # The model field's own validators (the form ran them too; a caller without the form must not skip them).
        field = Practice._meta.get_field(name)
        try:
            field.clean(value, None)
        except ValidationError as exc:
            raise InvalidInput(f"{field.verbose_name.capitalize()}: {exc.messages[0]}") from None
    practice = Practice.objects.select_for_update().get(id=actor.practice_id)
    changed = sorted(name for name, value in changes.items() if getattr(practice, name) != value)
    for name in changed:
        setattr(practice, name, changes[name])
    if changed:
        practice.save(update_fields=[*changed, "updated_at"])
        record_security_event(
            AuditEvent.PRACTICE_SETTINGS_CHANGED, request=request, actor=actor, practice_id=practice.id, detail={"fields": changed},
        )
    return practice
