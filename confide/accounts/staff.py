"""Staff management for owners: the member list as people read it, and ending a member's access.

Invitations (adding people) are `accounts/invitations.py`; a role change and an MFA reset are
`accounts/services.py`. Ending access deactivates the membership (the row stays: the audit log
keeps naming the former member) and ends, at once, every session of that person that is in
this practice; if they have no other practice, every session of theirs.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils import timezone

from confide.accounts.locks import lock_active_owners
from confide.accounts.models import Membership, TOTPDevice
from confide.accounts.services import access_membership_by_id, record_security_event
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.middleware import SESSION_PRACTICE
from confide.core.permissions import Perm, Role
from confide.core.tenancy import tenant_context


@dataclass(frozen=True)
class StaffRow:
    membership_id: uuid.UUID
    name: str
    email: str
    role: str
    role_label: str
    mfa_enrolled: bool
    last_sign_in: datetime.datetime | None
    active: bool
    is_me: bool


def list_staff(actor: StaffActor) -> list[StaffRow]:
    """Everyone with a membership, active or not; two queries whatever the practice's size."""
    if not actor.has(Perm.STAFF_LIST):
        raise Forbidden(Perm.STAFF_LIST)
    memberships = list(Membership.objects.select_related("user").order_by("-is_active", "user__display_name", "user__email"))
    enrolled = set(
        TOTPDevice.objects.filter(user_id__in=[m.user_id for m in memberships], confirmed=True).values_list("user_id", flat=True)
    )
    return [
        StaffRow(
            membership_id=m.id, name=m.user.display_name, email=m.user.email, role=m.role, role_label=Role(m.role).label,
            mfa_enrolled=m.user_id in enrolled, last_sign_in=m.user.last_login, active=m.is_active, is_me=m.user_id == actor.user_id,
        )  # fmt: skip
        for m in memberships
    ]


def end_sessions_in_practice(user_id: int, practice_id: uuid.UUID) -> int:
    """Delete the user's sessions that are in this practice (or, when the user is left with no
    active membership anywhere, all of theirs). Sessions are rows of the database session store;
    a session names its user and its current practice. Returns how many were ended."""
    # Their other practices are read as row security admits a user's own memberships.
    with tenant_context(practice_id=None, user_id=user_id):
        with_others = Membership.across_practices.filter(user_id=user_id, is_active=True).exclude(practice_id=practice_id).exists()
    ended = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        data = session.get_decoded()
        if str(data.get(SESSION_KEY)) != str(user_id):
            continue
        if not with_others or data.get(SESSION_PRACTICE) == str(practice_id):
            ended.append(session.session_key)
    return Session.objects.filter(session_key__in=ended).delete()[0] if ended else 0


# Sent inside the deactivation's transaction, after the membership is inactive (kwargs:
# membership, actor, request). A receiver that calls out (Google) does so on commit.
membership_deactivated = Signal()


@transaction.atomic
def check_deactivate_member(*, actor: StaffActor, membership_id: uuid.UUID, request: HttpRequest | None = None) -> Membership:
    """End a member's access to the practice: the membership deactivated, their sessions here
    ended at once, an audit entry (ids only). An owner cannot remove themselves, and the last
    active owner cannot be removed."""
    if not actor.has(Perm.STAFF_DEACTIVATE):
        raise Forbidden(Perm.STAFF_DEACTIVATE)
    membership = access_membership_by_id(actor, membership_id)
    if membership.user_id == actor.user_id:
        raise InvalidInput("You cannot remove yourself. Another owner can.")
    owners = lock_active_owners(actor.practice_id)
    if membership.role == Role.OWNER and not [pk for pk in owners if pk != membership.id]:
        raise InvalidInput("A practice needs at least one owner: make someone else owner first.")
    # The row count decides: of two removals at once, one deactivates and records it.
    if Membership.objects.filter(id=membership.id, is_active=True).update(is_active=False, updated_at=timezone.now()) != 1:
        raise InvalidInput("That member's access had already ended.")
    membership.is_active = False
    ended = end_sessions_in_practice(membership.user_id, actor.practice_id)
    # Layers above accounts end what they hold for this member (e.g. scheduling revokes their
    # Google Calendar link, SCH3), in this transaction; accounts does not import them.
    membership_deactivated.send(sender=Membership, membership=membership, actor=actor, request=request)
    record_security_event(
        AuditEvent.MEMBER_DEACTIVATED, request=request, user=membership.user, actor=actor, practice_id=actor.practice_id,
        detail={"membership_id": str(membership.id), "role": membership.role, "sessions_ended": ended},
    )  # fmt: skip
    return membership
