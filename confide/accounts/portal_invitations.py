"""Invitations to the patient portal: issue, withdraw, accept (ACC5; ACC2 and ACC6 for patients).

Built like the staff invitations (accounts/invitations.py, whose token helpers are reused): the
e-mailed link carries `<practice id>.<secret>`, only its SHA-256 is stored, the landing page
moves the token into the session (`SESSION_PORTAL_INVITATION`) and redirects, so the token
leaves the address bar. An invitation is bound to one record (`patient_id`) and one kind of
link: the patient's own (`self`), or a minor's for a parent or guardian (`representative`, with
the relationship and the staff member who verified it).

Accepting is single use, decided by the database: a conditional UPDATE of `used_at` (… WHERE
used_at IS NULL AND revoked_at IS NULL AND expires_at > now) whose row count decides, in the
same transaction as the account and the `PortalLink` it creates; of parallel accepts exactly
one wins (tests/concurrency/test_portal_invitations.py). Every refusal (expired, used, withdrawn,
a garbled or forwarded link, another account signed in, a staff session) writes nothing but
an audit entry with a reason code. Audit entries carry ids only, never the address or token.

Who may invite is decided by the caller (records/portal_access.py for staff, the CLI for
operators, the 18th-birthday job for the system): this module only checks the invitation.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from confide.accounts.invitations import _new_token, clean_email, session_reference, validate_new_account
from confide.accounts.locks import lock_user
from confide.accounts.models import LinkKind, PortalInvitation, PortalLink, User, UserKind
from confide.accounts.services import record_security_event
from confide.audit.chain import system_actor
from confide.audit.events import AuditEvent
from confide.core.actors import PatientActor
from confide.core.errors import InvalidInput
from confide.core.http import absolute_url
from confide.core.models import Practice
from confide.core.tenancy import tenant_context
from confide.core.text import single_line

SESSION_PORTAL_INVITATION = "confide_portal_invitation"  # {"practice": "<uuid>", "hash": "<sha-256 hex>"}
SYSTEM = system_actor("portal-invitations")

# How a parent's or guardian's authority was checked (the `basis` of a representative invitation).
BASIS_CHOICES = [
    ("birth-certificate", "Birth certificate or adoption papers"),
    ("court-order", "Court order (guardianship or custody)"),
    ("other-document", "Another legal document"),
]
BASIS_LABELS = dict(BASIS_CHOICES)

__all__ = [
    "SESSION_PORTAL_INVITATION", "BASIS_CHOICES", "PortalInvitationUnusable", "OpenPortalInvitation",
    "issue_portal_invitation", "portal_invitation_link", "session_reference", "get_open_portal_invitation",
    "check_accept_portal_invitation", "record_refusal", "do_revoke_portal_invitation",
]  # fmt: skip


# --- Links --------------------------------------------------------------------------------------
def portal_invitation_link(token: str) -> str:
    """The link the e-mail carries (and `confide portal invite` prints)."""
    return absolute_url(f"{reverse('portal:invitation')}?token={token}")


def _expiry() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=settings.CONFIDE_PORTAL_INVITE_DAYS)


# --- Why a link does not work -------------------------------------------------------------------
UNUSABLE = {
    "unknown": "This invitation link does not work. Check that you opened the whole link from the e-mail. Or ask the practice to send a new one.",
    "expired": "This invitation is too old. Ask the practice to send you a new one.",
    "used": "This invitation was used already. If it was you, sign in.",
    "revoked": "The practice withdrew this invitation. Ask them if you think this is a mistake.",
    "staff-address": "This e-mail address belongs to a practice staff account. The portal needs a different address. Ask the practice to invite another address.",
    "already-linked": "Your account can already see this record. Go to your portal.",
    "record-taken": "Someone else already holds the portal account for this record. Ask the practice.",
}


class PortalInvitationUnusable(InvalidInput):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(UNUSABLE[reason])


@dataclass(frozen=True)
class OpenPortalInvitation:
    """A usable invitation as the acceptance page shows it (no name of the patient: the page is
    public, and the link may have been forwarded)."""

    id: uuid.UUID
    practice_id: uuid.UUID
    practice_name: str
    patient_id: uuid.UUID
    kind: str
    relationship: str
    email: str
    account: str  # "none", "active" (a portal account: sign in), "inactive" (closed earlier: reopened), "staff"

    @property
    def is_representative(self) -> bool:
        return self.kind == LinkKind.REPRESENTATIVE


def _find(reference: dict | None) -> PortalInvitation:
    if not isinstance(reference, dict):
        raise PortalInvitationUnusable("unknown")
    try:
        practice_id = uuid.UUID(str(reference.get("practice")))
    except ValueError:
        raise PortalInvitationUnusable("unknown") from None
    token_hash = reference.get("hash")
    if not isinstance(token_hash, str) or len(token_hash) != 64 or any(c not in "0123456789abcdef" for c in token_hash):
        raise PortalInvitationUnusable("unknown")
    with tenant_context(practice_id=practice_id):
        invitation = PortalInvitation.objects.filter(token_hash=token_hash).first()
    if invitation is None:
        raise PortalInvitationUnusable("unknown")
    return invitation


def _account_state(email: str) -> str:
    user = User.objects.filter(email=email).first()
    if user is None:
        return "none"
    if user.kind != UserKind.PATIENT:
        return "staff"
    return "active" if user.is_active else "inactive"


def get_open_portal_invitation(reference: dict | None) -> OpenPortalInvitation:
    """The invitation the session points at, if it can still be accepted; else PortalInvitationUnusable."""
    invitation = _find(reference)
    if invitation.state != "pending":
        raise PortalInvitationUnusable(invitation.state)
    practice = Practice.objects.get(id=invitation.practice_id)
    return OpenPortalInvitation(
        id=invitation.id, practice_id=practice.id, practice_name=practice.name, patient_id=invitation.patient_id,
        kind=invitation.kind, relationship=invitation.relationship, email=invitation.email,
        account=_account_state(invitation.email),
    )  # fmt: skip


def record_refusal(reason: str, *, reference: dict | None = None, request=None, user: User | None = None) -> None:
    """A link that did not work, or a person it was not for: one audit entry, nothing else.
    On the practice's chain when the invitation is known, else on the platform chain."""
    practice_id = invitation_id = None
    try:
        invitation = _find(reference)
        practice_id, invitation_id = invitation.practice_id, invitation.id
    except PortalInvitationUnusable:
        pass
    detail = {"reason": reason}
    if invitation_id is not None:
        detail["invitation_id"] = str(invitation_id)
    with tenant_context(practice_id=practice_id):
        record_security_event(AuditEvent.PORTAL_INVITATION_REFUSED, request=request, user=user, practice_id=practice_id, detail=detail)


# --- Issuing ------------------------------------------------------------------------------------
def _clean_relationship(relationship: str) -> str:
    relationship = (relationship or "").strip()
    try:
        single_line(relationship)
    except ValidationError:
        raise InvalidInput("Write the relationship on one line, like “mother” or “legal guardian”.") from None
    if not relationship or len(relationship) > 60:
        raise InvalidInput("Say how this person is related to the patient (at most 60 characters), like “mother”.")
    return relationship


def issue_portal_invitation(
    *,
    practice_id: uuid.UUID,
    patient_id: uuid.UUID,
    email: str,
    kind: str = LinkKind.SELF,
    relationship: str = "",
    verified_by_id: int | None = None,
    invited_by_id: int | None = None,
    request=None,
    basis: str = "",
) -> tuple[PortalInvitation, str]:
    """Make an invitation to the portal for one record and e-mail its link after commit; returns
    the invitation and the absolute link (the one the e-mail carries). An open invitation of the
    same kind for the same record and address is withdrawn (its link stops working).

    The caller decided who may invite (staff: records/portal_access.py; the system: None as
    `invited_by_id`) and, for a representative, that the patient is a minor. Audited with ids."""
    email = clean_email(email)
    if kind not in LinkKind.values:
        raise InvalidInput("Choose whose access this is: the patient's own, or a parent's or guardian's.")
    if kind == LinkKind.REPRESENTATIVE:
        relationship = _clean_relationship(relationship)
        if verified_by_id is None:
            raise InvalidInput("Confirm that you checked this person is the patient's parent or guardian.")
        if basis and basis not in BASIS_LABELS:
            raise InvalidInput("Choose how the parent's or guardian's authority was checked.")
    else:
        relationship, verified_by_id, basis = "", None, ""
    practice = Practice.objects.get(id=practice_id)
    token, token_hash = _new_token(practice.id)
    now = timezone.now()
    with transaction.atomic(), tenant_context(practice_id=practice.id):
        replaced = list(
            PortalInvitation.objects.filter(
                patient_id=patient_id, kind=kind, email=email, used_at=None, revoked_at=None
            ).values_list("id", flat=True)
        )
        if replaced:
            PortalInvitation.objects.filter(id__in=replaced, used_at=None, revoked_at=None).update(revoked_at=now, updated_at=now)
        invitation = PortalInvitation.objects.create(
            practice=practice, patient_id=patient_id, kind=kind, relationship=relationship, basis=basis,
            verified_by_id=verified_by_id, email=email, token_hash=token_hash, expires_at=_expiry(),
            created_by_id=invited_by_id,
        )  # fmt: skip
        inviter = User.objects.filter(pk=invited_by_id).first() if invited_by_id is not None else None
        record_security_event(
            AuditEvent.PORTAL_INVITATION_SENT, request=request, actor=inviter or SYSTEM, practice_id=practice.id,
            detail={"invitation_id": str(invitation.id), "kind": kind, "replaced": [str(pk) for pk in replaced], "patient_id": str(patient_id)},
        )  # fmt: skip
    link = portal_invitation_link(token)
    _send_on_commit(invitation, practice, link)
    return invitation, link


def _send_on_commit(invitation: PortalInvitation, practice: Practice, link: str) -> None:
    days = settings.CONFIDE_PORTAL_INVITE_DAYS
    if invitation.is_representative:
        what = f"{practice.name} invites you to its patient portal as a parent or guardian of one of its patients."
    else:
        what = f"{practice.name} invites you to its patient portal. There you can see your record and your privacy choices."
    body = (
        f"{what}\n\n"
        f"Open this link to set up your account. It works once, for {days} days:\n{link}\n\n"
        "You will choose a password. If you did not expect this e-mail, ignore it."
    )
    email = invitation.email
    transaction.on_commit(
        lambda: send_mail(subject=f"Your patient portal at {practice.name}", message=body, from_email=None, recipient_list=[email])
    )


def do_revoke_portal_invitation(*, practice_id: uuid.UUID, invitation_id: uuid.UUID, revoked_by_id: int | None, patient_id: uuid.UUID | None = None, request=None) -> PortalInvitation:
    """Withdraw an open invitation (the caller checked who may). The row count decides."""
    with transaction.atomic(), tenant_context(practice_id=practice_id):
        invitation = PortalInvitation.objects.filter(id=invitation_id, **({"patient_id": patient_id} if patient_id else {})).first()
        if invitation is None:
            from confide.core.errors import NotFound

            raise NotFound("invitation")
        now = timezone.now()
        if PortalInvitation.objects.filter(id=invitation.id, used_at=None, revoked_at=None).update(revoked_at=now, updated_at=now) != 1:
            raise InvalidInput("That invitation was already used or withdrawn.")
        by = User.objects.filter(pk=revoked_by_id).first() if revoked_by_id is not None else None
        record_security_event(
            AuditEvent.PORTAL_INVITATION_REVOKED, request=request, actor=by or SYSTEM, practice_id=practice_id,
            detail={"invitation_id": str(invitation.id), "kind": invitation.kind},
        )  # fmt: skip
    return invitation


# --- Accepting ----------------------------------------------------------------------------------
def validate_new_password(email: str, display_name: str, password: str, password_again: str, *, ask_name: bool = True) -> dict[str, list[str]]:
    """Every problem at once: {field: [messages]} (the staff invitation's checks, in the portal's words)."""
    return validate_new_account(
        email, display_name, password, password_again, ask_name=ask_name,
        name_missing="Enter your name.", passwords_differ="The two passwords are not the same.",
    )  # fmt: skip


def _claim(invitation_id: uuid.UUID, user: User) -> None:
    """Mark the invitation used, if it still is open. The row count decides (single use)."""
    now = timezone.now()
    claimed = PortalInvitation.objects.filter(
        id=invitation_id, used_at=None, revoked_at=None, expires_at__gt=now
    ).update(used_at=now, used_by=user, updated_at=now)
    if claimed != 1:
        raise PortalInvitationUnusable(PortalInvitation.objects.get(id=invitation_id).state)


def check_accept_portal_invitation(
    *,
    reference: dict | None,
    user: User | None = None,
    password: str,
    password_again: str = "",
    display_name: str = "",
    request=None,
) -> tuple[User, PortalLink]:
    """Accept the invitation the session points at: in one transaction, the invitation claimed,
    the account (new, or a closed one reopened with the new password; or `user`, the signed-in
    portal account, after its password is confirmed) and the `PortalLink` of the invitation's kind.

    Raises PortalInvitationUnusable (nothing written; the caller records the refusal) or
    InvalidInput with `.errors` ({field: [messages]}) for bad details."""
    opened = get_open_portal_invitation(reference)
    if opened.account == "staff":
        raise PortalInvitationUnusable("staff-address")
    if user is not None:
        if not user.is_patient or user.email != opened.email:
            raise InvalidInput("This invitation is for another e-mail address.")
        if not user.check_password(password or ""):
            exc = InvalidInput("That password is not right.")
            exc.errors = {"password": ["That password is not right."]}
            raise exc
        account = "existing"
    elif opened.account == "active":
        raise InvalidInput("You already have a portal account. Sign in, then open the link again.")
    else:
        errors = validate_new_password(opened.email, display_name, password, password_again)
        if errors:
            exc = InvalidInput("Correct the fields marked below.")
            exc.errors = errors
            raise exc
        account = "reactivated" if opened.account == "inactive" else "new"
    try:
        with transaction.atomic(), tenant_context(practice_id=opened.practice_id):
            if account == "new":
                user = User.objects.create_user(opened.email, password, display_name=display_name.strip(), kind=UserKind.PATIENT)
            elif account == "reactivated":
                user = User.objects.get(email=opened.email, kind=UserKind.PATIENT)
                lock_user(user.pk)
            _claim(opened.id, user)
            if account == "reactivated":
                # Closed earlier (deactivated): opened again with the password just chosen.
                user.set_password(password)
                user.display_name = display_name.strip()
                user.is_active = True
                user.save(update_fields=["password", "display_name", "is_active"])
            if PortalLink.objects.filter(user=user, patient_id=opened.patient_id, is_active=True).exists():
                raise PortalInvitationUnusable("already-linked")
            if opened.kind == LinkKind.SELF and PortalLink.objects.filter(patient_id=opened.patient_id, kind=LinkKind.SELF, is_active=True).exists():
                raise PortalInvitationUnusable("record-taken")
            invitation = PortalInvitation.objects.get(id=opened.id)
            link = PortalLink.objects.create(
                practice_id=opened.practice_id, user=user, patient_id=opened.patient_id, kind=opened.kind,
                relationship=invitation.relationship, verified_by_id=invitation.verified_by_id,
            )  # fmt: skip
            actor = PatientActor(
                practice_id=opened.practice_id, patient_id=opened.patient_id, user_id=user.pk, link_id=link.id,
                representative=link.is_representative,
            )  # fmt: skip
            record_security_event(
                AuditEvent.PORTAL_INVITATION_ACCEPTED, request=request, user=user, actor=actor, practice_id=opened.practice_id,
                detail={"invitation_id": str(opened.id), "link_id": str(link.id), "kind": opened.kind, "account": account},
            )  # fmt: skip
    except IntegrityError:
        # The address got an account, or the record a holder, at the same moment: all rolled back.
        raise PortalInvitationUnusable("used") from None
    return user, link
