"""Message templates the practice keeps ready ("Your forms are ready in the portal"): practice
text, never a patient's data, edited by whoever configures messaging (Perm.MESSAGING_CONFIGURE)
and inserted into a reply by the thread page's script (static/confide/inbox.js)."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.text import multi_line, single_line
from confide.messaging.models import BODY_MAX, MessageTemplate

NAME_MAX = 80


def _require(actor, perm: Perm = Perm.MESSAGING_CONFIGURE) -> None:
    if not isinstance(actor, StaffActor) or not actor.has(perm):
        raise Forbidden(perm)


def list_templates(actor: StaffActor) -> list[MessageTemplate]:
    """Everyone who replies sees them (to insert one); only configuring changes them."""
    if not isinstance(actor, StaffActor) or not (actor.has(Perm.MESSAGES_SEND) or actor.has(Perm.MESSAGING_CONFIGURE)):
        raise Forbidden(Perm.MESSAGES_SEND)
    return list(MessageTemplate.objects.filter(practice_id=actor.practice_id).order_by("name"))


def get_template(actor: StaffActor, template_id) -> MessageTemplate:
    _require(actor)
    try:
        pk = uuid.UUID(str(template_id))
    except ValueError:
        raise NotFound("template") from None
    found = MessageTemplate.objects.filter(pk=pk, practice_id=actor.practice_id).first()
    if found is None:
        raise NotFound("template")
    return found


def _clean(name, body) -> tuple[str, str]:
    name = (name if isinstance(name, str) else "").strip()
    body = (body if isinstance(body, str) else "").strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(f"Give the template a name of up to {NAME_MAX} characters.")
    if not body:
        raise InvalidInput("Write the template's text.")
    if len(body) > BODY_MAX:
        raise InvalidInput(f"A template holds at most {BODY_MAX:,} characters (one text message); this one has {len(body):,}.")
    try:
        single_line(name)
        multi_line(body)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from None
    return name, body


def do_save_template(actor: StaffActor, *, name, body, template_id=None) -> MessageTemplate:
    """Create a template, or change one (by id). Two templates never share a name."""
    _require(actor)
    name, body = _clean(name, body)
    template = get_template(actor, template_id) if template_id else MessageTemplate(practice_id=actor.practice_id, created_by_id=actor.user_id)
    template.name, template.body = name, body
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise InvalidInput("Another template has that name; choose another.") from None
    return template


def do_delete_template(actor: StaffActor, template_id) -> None:
    template = get_template(actor, template_id)
    MessageTemplate.objects.filter(pk=template.pk).delete()
