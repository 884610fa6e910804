"""Invitations to join a practice: issue, resend, revoke, accept.

The link in the e-mail carries a random token; only its SHA-256 is stored (`Invitation.token_hash`).
The token names its practice in clear (`<practice id>.<secret>`): an invitation is tenant-owned
and row-level security shows a practice's rows only inside that practice's context, so the
practice is needed to look the hash up at all. The landing page moves the token out of the
address into the session (`SESSION_INVITATION`, the practice and the hash) and redirects, as
Django's password reset does, so the token does not stay in the address bar or a Referer.

Accepting is single use, decided by the database: a conditional UPDATE of `accepted_at` whose
row count decides, in the same transaction as the account and the membership it creates; of
parallel accepts exactly one finds the row still open (tests/concurrency/test_invitations.py).
Audit entries carry ids and the role, never the address or the token.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from confide.accounts.models import Invitation, Membership, User
from confide.accounts.services import record_security_event
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.models import Practice
from confide.core.permissions import Perm, Role
from confide.core.tenancy import tenant_context
from confide.core.text import single_line

SESSION_INVITATION = "confide_invitation"  # {"practice": "<uuid>", "hash": "<sha-256 hex>"}
_TOKEN = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{40,64})$")


# --- Tokens and links ---------------------------------------------------------------------------
def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(practice_id: uuid.UUID) -> tuple[str, str]:
    token = f"{practice_id.hex}.{secrets.token_urlsafe(32)}"
    return token, _hash(token)


def invitation_link(token: str) -> str:
    return f"{settings.CONFIDE_BASE_URL.rstrip('/')}{reverse('accounts:invitation')}?token={token}"


def _expiry() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(hours=settings.CONFIDE_INVITATION_HOURS)


def session_reference(token: str) -> dict | None:
    """What the landing page keeps in the session for a token of the right shape (None if not)."""
    match = _TOKEN.fullmatch(token or "")
    if match is None:
        return None
    return {"practice": str(uuid.UUID(match.group(1))), "hash": _hash(token)}


# --- Why a link does not work ---------------------------------------------------------------------
UNUSABLE = {
    "unknown": "This invitation link is not valid. Check that the whole link from the e-mail was opened, or ask the practice to send a new invitation.",
    "expired": "This invitation has expired. Ask the practice's owner to send it again.",
    "accepted": "This invitation has already been used. If you accepted it, sign in.",
    "revoked": "This invitation was withdrawn by the practice. Ask its owner if you think this is a mistake.",
}


class InvitationUnusable(InvalidInput):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(UNUSABLE[reason])


@dataclass(frozen=True)
class OpenInvitation:
    """A usable invitation as the acceptance page shows it."""

    id: uuid.UUID
    practice_id: uuid.UUID
    practice_name: str
    email: str
    role: str
    role_label: str
    has_account: bool


def get_open_invitation(reference: dict | None) -> OpenInvitation:
    """The invitation the session points at, if it can still be accepted; else InvitationUnusable."""
    invitation = _find(reference)
    if invitation.state != "pending":
        raise InvitationUnusable(invitation.state)
    practice = Practice.objects.get(id=invitation.practice_id)
    return OpenInvitation(
        id=invitation.id, practice_id=practice.id, practice_name=practice.name, email=invitation.email,
        role=invitation.role, role_label=Role(invitation.role).label, has_account=User.objects.filter(email=invitation.email).exists(),
    )  # fmt: skip


def _find(reference: dict | None) -> Invitation:
    if not isinstance(reference, dict):
        raise InvitationUnusable("unknown")
    try:
        practice_id = uuid.UUID(str(reference.get("practice")))
    except ValueError:
        raise InvitationUnusable("unknown") from None
    token_hash = reference.get("hash")
    if not isinstance(token_hash, str) or not re.fullmatch(r"[0-9a-f]{64}", token_hash):
        raise InvitationUnusable("unknown")
    with tenant_context(practice_id=practice_id):
        invitation = Invitation.objects.filter(token_hash=token_hash).first()
    if invitation is None:
        raise InvitationUnusable("unknown")
    return invitation


# --- Issuing --------------------------------------------------------------------------------------
def clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        single_line(email)
        validate_email(email)
    except ValidationError:
        raise InvalidInput("Enter a valid e-mail address.") from None
    if len(email) > 254:
        raise InvalidInput("Enter a valid e-mail address.")
    return email


def issue_invitation(*, practice: Practice, email: str, role: str, invited_by: User | None, actor=None, request: HttpRequest | None = None) -> Invitation:
    """Make an invitation and send its link after commit. The caller holds the transaction and
    has checked who may invite; `actor` is who the audit entry names (None: the operator)."""
    email = clean_email(email)
    if role not in Role.values:
        raise InvalidInput("Choose one of the listed roles.")
    token, token_hash = _new_token(practice.id)
    with tenant_context(practice_id=practice.id):
        invitation = Invitation.objects.create(
            practice=practice, email=email, role=role, token_hash=token_hash, expires_at=_expiry(), invited_by=invited_by
        )
        record_security_event(
            AuditEvent.INVITATION_SENT, request=request, actor=actor, practice_id=practice.id,
            detail={"invitation_id": str(invitation.id), "role": role},
        )  # fmt: skip
    _send_on_commit(invitation, practice, token, inviter=invited_by.display_name if invited_by else None)
    return invitation


def _send_on_commit(invitation: Invitation, practice: Practice, token: str, *, inviter: str | None) -> None:
    link = invitation_link(token)
    hours = settings.CONFIDE_INVITATION_HOURS
    who = f"{inviter} invited you" if inviter else "You are invited"
    role = Role(invitation.role).label
    body = (
        f"{who} to join {practice.name} on Confide as {role}.\n\n"
        f"Open this link to accept (it works once, for {hours} hours):\n{link}\n\n"
        "You will choose a password and set up an authenticator app. "
        "If you did not expect this invitation, ignore this e-mail."
    )
    email = invitation.email
    transaction.on_commit(
        lambda: send_mail(subject=f"Join {practice.name} on Confide", message=body, from_email=None, recipient_list=[email])
    )


@transaction.atomic
def do_invite(*, actor: StaffActor, email: str, role: str, request: HttpRequest | None = None) -> Invitation:
    if not actor.has(Perm.STAFF_INVITE):
        raise Forbidden(Perm.STAFF_INVITE)
    email = clean_email(email)
    if role not in Role.values:
        raise InvalidInput("Choose one of the listed roles.")
    if Membership.objects.filter(user__email=email, is_active=True).exists():
        raise InvalidInput("That person is already a member of this practice.")
    if Invitation.objects.filter(email=email, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()).exists():
        raise InvalidInput("That address already has an invitation waiting: resend it from the list below.")
    practice = Practice.objects.get(id=actor.practice_id)
    inviter = User.objects.get(pk=actor.user_id)
    return issue_invitation(practice=practice, email=email, role=role, invited_by=inviter, actor=actor, request=request)


def access_invitation_by_id(actor: StaffActor, invitation_id: uuid.UUID) -> Invitation:
    """An invitation of the actor's practice, or NotFound (the same for another practice's)."""
    invitation = Invitation.objects.filter(id=invitation_id, practice_id=actor.practice_id).first()
    if invitation is None:
        raise NotFound("invitation")
    return invitation


def list_pending_invitations(actor: StaffActor) -> list[Invitation]:
    """Invitations not accepted or revoked (expired ones too: they can be sent again)."""
    if not actor.has(Perm.STAFF_LIST):
        raise Forbidden(Perm.STAFF_LIST)
    return list(Invitation.objects.filter(accepted_at=None, revoked_at=None).select_related("invited_by").order_by("email"))


@transaction.atomic
def do_revoke_invitation(*, actor: StaffActor, invitation_id: uuid.UUID, request: HttpRequest | None = None) -> Invitation:
    if not actor.has(Perm.STAFF_INVITE):
        raise Forbidden(Perm.STAFF_INVITE)
    invitation = access_invitation_by_id(actor, invitation_id)
    # The row count decides: a revoke racing an accept (or another revoke) changes it once at most.
    revoked = Invitation.objects.filter(id=invitation.id, accepted_at=None, revoked_at=None).update(revoked_at=timezone.now())
    if revoked != 1:
        raise InvalidInput("That invitation was already accepted or withdrawn.")
    record_security_event(
        AuditEvent.INVITATION_REVOKED, request=request, actor=actor, practice_id=actor.practice_id,
        detail={"invitation_id": str(invitation.id), "role": invitation.role},
    )  # fmt: skip
    return invitation


@transaction.atomic
def do_resend_invitation(*, actor: StaffActor, invitation_id: uuid.UUID, request: HttpRequest | None = None) -> Invitation:
    """A new link with a new expiry; the old link stops working (its hash is replaced)."""
    if not actor.has(Perm.STAFF_INVITE):
        raise Forbidden(Perm.STAFF_INVITE)
    invitation = access_invitation_by_id(actor, invitation_id)
    token, token_hash = _new_token(invitation.practice_id)
    resent = Invitation.objects.filter(id=invitation.id, accepted_at=None, revoked_at=None).update(
        token_hash=token_hash, expires_at=_expiry(), updated_at=timezone.now()
    )
    if resent != 1:
        raise InvalidInput("That invitation was already accepted or withdrawn.")
    invitation.refresh_from_db()
    record_security_event(
        AuditEvent.INVITATION_RESENT, request=request, actor=actor, practice_id=actor.practice_id,
        detail={"invitation_id": str(invitation.id), "role": invitation.role},
    )  # fmt: skip
    practice = Practice.objects.get(id=actor.practice_id)
    _send_on_commit(invitation, practice, token, inviter=User.objects.get(pk=actor.user_id).display_name)
    return invitation


# --- Accepting ------------------------------------------------------------------------------------
def _claim(invitation_id: uuid.UUID, user: User | None) -> None:
    """Mark the invitation used, if it still is open. The row count decides (single use)."""
    now = timezone.now()
    claimed = Invitation.objects.filter(id=invitation_id, accepted_at=None, revoked_at=None, expires_at__gt=now).update(
        accepted_at=now, updated_at=now
    )
    if claimed != 1:
        raise InvitationUnusable(Invitation.objects.get(id=invitation_id).state)


def validate_new_account(
    email: str, display_name: str, password: str, password_again: str, *, ask_name: bool = True,
    name_missing: str = "Enter your name as colleagues should see it.", passwords_differ: str = "The two passwords differ.",
) -> dict[str, list[str]]:
    """Every problem with a new account's details at once: {field: [messages]} (the password
    validators of settings, ACC1). Staff and portal invitations both use it, with their own words."""
    errors: dict[str, list[str]] = {}
    display_name = (display_name or "").strip()
    if ask_name:
        if not display_name:
            errors["display_name"] = [name_missing]
        else:
            try:
                single_line(display_name)
            except ValidationError as exc:
                errors["display_name"] = list(exc.messages)
            if len(display_name) > 150:
                errors.setdefault("display_name", []).append("Use at most 150 characters.")
    try:
        password_validation.validate_password(password or "", User(email=email, display_name=display_name))
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if (password or "") != (password_again or ""):
        errors["password_again"] = [passwords_differ]
    return errors


def check_accept_as_new_account(*, reference: dict | None, display_name: str, password: str, password_again: str, request: HttpRequest | None = None) -> User:
    """A new person: their account (password checked by the same validators as everywhere) and
    membership, and the invitation used, in one transaction. Raises InvalidInput with
    `.errors` ({field: [messages]}) for bad details, InvitationUnusable when the link is spent."""
    opened = get_open_invitation(reference)
    if opened.has_account:
        raise InvalidInput("An account with this e-mail address exists already: sign in to accept the invitation.")
    errors = validate_new_account(opened.email, display_name, password, password_again)
    if errors:
        exc = InvalidInput("Correct the fields marked below.")
        exc.errors = errors
        raise exc
    try:
        with transaction.atomic():
            with tenant_context(practice_id=opened.practice_id):
                _claim(opened.id, None)
                user = User.objects.create_user(opened.email, password, display_name=display_name.strip())
                membership = Membership.objects.create(user=user, practice_id=opened.practice_id, role=opened.role)
                Invitation.objects.filter(id=opened.id).update(accepted_by=user)
                _record_accepted(request, user, opened, membership, new_account=True)
    except IntegrityError:
        # The address got an account meanwhile (another invitation accepted at the same moment):
        # everything above rolled back, this invitation included.
        raise InvalidInput("An account with this e-mail address exists already: sign in to accept the invitation.") from None
    return user


def check_accept_as_member(*, reference: dict | None, user: User, request: HttpRequest | None = None) -> Membership:
    """Someone who already has an account, signed in with password and second factor, adds the
    membership (or has a former one made active again, with the invitation's role)."""
    opened = get_open_invitation(reference)
    if opened.email != user.email:
        raise InvalidInput("This invitation is for another e-mail address. Sign out, then open the link again.")
    with transaction.atomic(), tenant_context(practice_id=opened.practice_id, user_id=user.pk):
        existing = Membership.objects.filter(user=user).first()
        if existing is not None and existing.is_active:
            raise InvalidInput(f"You are already a member of {opened.practice_name}.")
        _claim(opened.id, user)
        Invitation.objects.filter(id=opened.id).update(accepted_by=user)
        if existing is None:
            membership = Membership.objects.create(user=user, practice_id=opened.practice_id, role=opened.role)
        else:
            Membership.objects.filter(id=existing.id).update(is_active=True, role=opened.role, updated_at=timezone.now())
            membership = existing
        _record_accepted(request, user, opened, membership, new_account=False)
    return membership


def _record_accepted(request, user: User, opened: OpenInvitation, membership: Membership, *, new_account: bool) -> None:
    record_security_event(
        AuditEvent.INVITATION_ACCEPTED, request=request, user=user, practice_id=opened.practice_id,
        detail={"invitation_id": str(opened.id), "membership_id": str(membership.id), "role": opened.role, "new_account": new_account},
    )  # fmt: skip
