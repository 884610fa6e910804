"""Account services: the only code that changes users, memberships, MFA devices and sessions.

Each public function takes the acting principal explicitly, authorizes, makes the change and
records the security event in one transaction; e-mail goes out only after commit.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
import uuid

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import login as otp_login
from django_otp import user_has_device

from confide.accounts.locks import lock_active_owners, lock_user
from confide.accounts.models import Membership, RecoveryCodeDevice, TOTPDevice, User
from confide.audit import chain as audit
from confide.audit import reports
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.audit.reports import EntryView
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.middleware import SESSION_AUTH_FRESH_AT, SESSION_PRACTICE, SESSION_STARTED_AT
from confide.core.models import Practice
from confide.core.permissions import Perm, Role, role_sees_phi
from confide.core.tenancy import tenant_context

SESSION_PENDING_REPLACE = "confide_replacing_authenticator"
# The id of the pending (unconfirmed) authenticator this session was shown: a pending secret
# belongs to the one session that started the set-up (ACC2).
SESSION_PENDING_TOTP = "confide_pending_totp_id"


# --- Security events --------------------------------------------------------------------------
def identifier_hash(identifier: str) -> str:
    """A keyed hash of a sign-in identifier: lets repeated attempts be correlated, not read."""
    normalised = identifier.strip().lower()
    return hmac.new(settings.SECRET_KEY.encode(), f"signin:{normalised}".encode(), hashlib.sha256).hexdigest()


# Attempts made before anyone is signed in: the account named is the target, not the actor.
_UNAUTHENTICATED_EVENTS = frozenset({
    AuditEvent.SIGNIN_FAILED, AuditEvent.SIGNIN_LOCKED_OUT, AuditEvent.PASSWORD_RESET_REQUESTED, AuditEvent.PASSKEY_SIGNIN_FAILED,
})  # fmt: skip


def record_security_event(
    kind: AuditEvent,
    *,
    request: HttpRequest | None = None,
    user: User | None = None,
    actor: User | StaffActor | None = None,
    practice_id: uuid.UUID | str | None = None,
    identifier: str | None = None,
    detail: dict | None = None,
    outcome: str = "ok",
) -> AuditEntry:
    """An account security event (ACC6) as an audit entry: on the practice's chain when it is
    tied to a practice, else on the platform chain. Ids only: the affected account goes into
    detail["user_id"], the one acting into the actor (the account itself unless someone else
    acted; nobody for a failed or locked-out sign-in), an unknown sign-in address only as a
    keyed hash (detail["identifier_hash"])."""
    kind = AuditEvent(kind)
    if actor is None and user is not None and kind not in _UNAUTHENTICATED_EVENTS:
        actor = user
    extra = dict(detail or {})
    if user is not None:
        extra["user_id"] = str(user.pk)
    if identifier:
        extra["identifier_hash"] = identifier_hash(identifier)
    return audit.record(kind, practice_id=practice_id, actor=actor, detail=extra, request=request, outcome=outcome)


def record_access_revoked(request: HttpRequest, *, practice_id: str) -> None:
    try:
        practice_uuid = uuid.UUID(practice_id)
    except ValueError:
        practice_uuid = None
    record_security_event(
        AuditEvent.ACCESS_REVOKED_MID_SESSION,
        request=request,
        user=request.user,
        practice_id=practice_uuid if Practice.objects.filter(id=practice_uuid).exists() else None,
    )


def record_idle_expiry(request: HttpRequest, *, practice_id) -> None:
    record_security_event(AuditEvent.SESSION_IDLE_EXPIRED, request=request, user=request.user, practice_id=practice_id)


def record_session_cap_reached(request: HttpRequest, *, practice_id) -> None:
    record_security_event(AuditEvent.SESSION_CAP_REACHED, request=request, user=request.user, practice_id=practice_id)


# --- Memberships ------------------------------------------------------------------------------
def list_active_memberships(user: User) -> list[Membership]:
    """The user's own active memberships across practices (row security admits them by user id)."""
    with tenant_context(practice_id=None, user_id=user.pk):
        return list(
            Membership.across_practices.filter(user=user, is_active=True)
            .select_related("practice")
            .order_by("practice__name")
        )


def access_membership_by_id(actor: StaffActor, membership_id: uuid.UUID) -> Membership:
    """A membership of the actor's practice, or NotFound (the same for another practice's)."""
    try:
        return Membership.objects.select_related("user").get(id=membership_id, practice_id=actor.practice_id)
    except Membership.DoesNotExist:
        raise NotFound("membership") from None


def list_memberships(actor: StaffActor) -> list[Membership]:
    if not actor.has(Perm.STAFF_LIST):
        raise Forbidden(Perm.STAFF_LIST)
    return list(Membership.objects.select_related("user").order_by("user__email"))


def list_practice_security_events(actor: StaffActor, limit: int = 200) -> list[EntryView]:
    """Security events of this practice's audit chain, plus the platform-chain ones (sign-ins,
    lockouts, MFA) of its members: the privacy officer needs to see who signed in, not only
    what happened inside."""
    return reports.practice_security_events(actor, limit)


def list_own_security_events(user: User, limit: int = 20) -> list[EntryView]:
    """The user's own recent security events, by them or about them, on any chain."""
    return reports.own_security_events(user, limit)


def do_switch_practice(request: HttpRequest, practice_id: str) -> Membership:
    membership = next((m for m in request.memberships if str(m.practice_id) == practice_id), None)
    if membership is None:
        raise NotFound("practice")
    request.session[SESSION_PRACTICE] = str(membership.practice_id)
    record_security_event(
        AuditEvent.PRACTICE_SWITCHED, request=request, user=request.user, practice_id=membership.practice_id
    )
    return membership


@transaction.atomic
def check_change_role(*, actor: StaffActor, membership_id: uuid.UUID, role: str, request: HttpRequest) -> Membership:
    if not actor.has(Perm.STAFF_CHANGE_ROLE):
        raise Forbidden(Perm.STAFF_CHANGE_ROLE)
    membership = access_membership_by_id(actor, membership_id)
    if role not in Role.values:
        raise InvalidInput("Choose one of the listed roles.")
    if membership.role == role:
        return membership
    # Under a lock on the owners' rows: two owners demoting each other at once are serialised.
    if membership.role == Role.OWNER and not [pk for pk in lock_active_owners(actor.practice_id) if pk != membership.id]:
        raise InvalidInput("A practice needs at least one owner: make someone else owner first.")
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    record_security_event(
        AuditEvent.ROLE_CHANGED,
        request=request,
        user=membership.user,
        actor=actor,
        practice_id=actor.practice_id,
        detail={"membership_id": str(membership.id), "from": previous, "to": role},
    )
    return membership


@transaction.atomic
def check_reset_mfa(*, actor: StaffActor, membership_id: uuid.UUID, request: HttpRequest) -> Membership:
    """An owner clears a member's authenticator and recovery codes (lost phone). The member
    enrols again at next sign-in; the reset is recorded and the member is told by e-mail."""
    if not actor.has(Perm.STAFF_RESET_MFA):
        raise Forbidden(Perm.STAFF_RESET_MFA)
    membership = access_membership_by_id(actor, membership_id)
    if membership.user_id == actor.user_id:
        raise InvalidInput("Use “Replace authenticator” on your own security page to change your own MFA.")
    target = membership.user
    removed = TOTPDevice.objects.filter(user=target).delete()[0] + RecoveryCodeDevice.objects.filter(user=target).delete()[0]
    record_security_event(
        AuditEvent.MFA_RESET,
        request=request,
        user=target,
        actor=actor,
        practice_id=actor.practice_id,
        detail={"membership_id": str(membership.id), "devices_removed": removed},
    )
    practice_name = membership.practice.name
    transaction.on_commit(lambda: _send_mfa_reset_notice(target.email, practice_name))
    return membership


def _send_mfa_reset_notice(email: str, practice_name: str) -> None:
    send_mail(
        subject="Your Confide sign-in security was reset",
        message=(
            f"An owner of {practice_name} reset the multi-factor authentication on your Confide account.\n\n"
            "The next time you sign in you will be asked to set up an authenticator app again.\n"
            "If you did not ask for this, contact your practice's owner or privacy officer now."
        ),
        from_email=None,
        recipient_list=[email],
    )


# --- MFA --------------------------------------------------------------------------------------
def mfa_required_for(memberships: list[Membership]) -> bool:
    """ACC2: enrolment is required if any practice the user works in requires it for their role."""
    return any(m.practice.mfa_required and role_sees_phi(m.role) for m in memberships)


def confirmed_totp(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def mfa_step_pending(user: User, memberships: list[Membership]) -> str | None:
    """"verify" when the user has an authenticator but has not used it this session, "enrol"
    when they have none and must have one, None when nothing stands in the way."""
    if user.is_verified():
        return None
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return "verify"
    if mfa_required_for(memberships):
        return "enrol"
    return None


def portal_mfa_step_pending(user: User, portal) -> str | None:
    """The portal's second-factor step: "verify" when the account has a second factor (an
    authenticator app or a passkey) not yet used this session, "enrol" when a practice holding
    one of its records requires one and it has none, None otherwise. Offered to every patient,
    required only where the practice says so (Practice.portal_mfa_required)."""
    if user.is_verified():
        return None
    if user_has_device(user, confirmed=True):
        return "verify"
    if portal is not None and any(link.practice.portal_mfa_required for link in portal.links):
        return "enrol"
    return None


class EnrolmentReplaced(InvalidInput):
    """The pending secret this session was shown is gone: another sign-in started a set-up (or
    an owner reset the account's MFA, or another sign-in finished one)."""


ENROLMENT_REPLACED = (
    "This set-up was replaced: the authenticator for your account was set up or started again "
    "from another sign-in (or reset by an owner), so the secret shown here no longer works. "
    "Start again to get a new secret. If that was not you, tell your practice's owner."
)


def _session_pending_device(request: HttpRequest) -> TOTPDevice | None:
    device_id = request.session.get(SESSION_PENDING_TOTP)
    if not isinstance(device_id, int):
        return None
    return TOTPDevice.objects.filter(pk=device_id, user=request.user, confirmed=False).first()


def start_totp_enrolment(request: HttpRequest) -> TOTPDevice | None:
    """This session's pending authenticator: the same one on reload; a new secret when the session
    has none, which replaces any other session's pending one (someone who has only the password
    must never see the secret the real user is about to confirm, nor confirm one the user was
    shown). None when the account already has a confirmed authenticator (set up meanwhile)."""
    user = request.user
    with transaction.atomic():
        lock_user(user.pk)
        device = _session_pending_device(request)
        if device is not None:
            return device
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            return None
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice(user=user, name="Authenticator app", confirmed=False)
        device.set_secret(secrets.token_bytes(20))
        device.save()
    request.session[SESSION_PENDING_TOTP] = device.pk
    return device


# The check_* functions below are deliberately not one transaction: a failed attempt must leave
# its throttling increment and its security event behind, not roll them back with the error.
def check_confirm_enrolment(request: HttpRequest, token: str) -> list[str]:
    user = request.user
    device = _session_pending_device(request)
    if device is None:
        raise _enrolment_replaced(request)
    throttled = _throttled_message(device)
    if throttled or not device.verify_token(token):
        if not TOTPDevice.objects.filter(pk=device.pk).exists():  # replaced while the code was checked
            raise _enrolment_replaced(request)
        record_security_event(AuditEvent.MFA_FAILED, request=request, user=user, detail={"stage": "enrol"})
        raise InvalidInput(throttled or WRONG_CODE)
    with transaction.atomic():
        lock_user(user.pk)
        # Confirmed only if it is still this session's pending secret and the account has no
        # authenticator yet: a confirmation never replaces one that another sign-in set up.
        confirmed = not TOTPDevice.objects.filter(user=user, confirmed=True).exists() and (
            TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(confirmed=True) == 1
        )
        if confirmed:
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            recovery, _ = RecoveryCodeDevice.objects.get_or_create(user=user, defaults={"name": "Recovery codes", "confirmed": True})
            codes = recovery.regenerate()
            record_security_event(AuditEvent.MFA_ENROLLED, request=request, user=user)
    if not confirmed:
        raise _enrolment_replaced(request)
    device.confirmed = True
    otp_login(request, device)
    mark_auth_fresh(request)
    request.session.pop(SESSION_PENDING_REPLACE, None)
    request.session.pop(SESSION_PENDING_TOTP, None)
    return codes


def _enrolment_replaced(request: HttpRequest) -> EnrolmentReplaced:
    """Recorded as a failed attempt (a sign of someone else holding the password), then raised."""
    request.session.pop(SESSION_PENDING_TOTP, None)
    record_security_event(AuditEvent.MFA_FAILED, request=request, user=request.user, detail={"stage": "enrol", "replaced": True})
    return EnrolmentReplaced(ENROLMENT_REPLACED)


WRONG_CODE = "That code did not match. Codes change every 30 seconds and each works only once."


def _throttled_message(device) -> str | None:
    allowed, data = device.verify_is_allowed()
    if allowed:
        return None
    seconds = math.ceil((data["locked_until"] - timezone.now()).total_seconds()) if data and data.get("locked_until") else 1
    return f"Too many wrong codes. Wait {wait_phrase(seconds)}, then try again."


def wait_phrase(seconds: float) -> str:
    """ "1 second", "8 seconds", "2 minutes": the wait, rounded up, in words people read."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _verify_second_factor(user: User, token: str) -> tuple[object | None, str, str | None]:
    """(device that accepted the token or None, "totp"/"recovery", throttling message or None)."""
    token = (token or "").strip()
    totp = confirmed_totp(user)
    if totp is not None and token.replace(" ", "").isdigit():
        throttled = _throttled_message(totp)
        if throttled:
            return None, "totp", throttled
        return (totp if totp.verify_token(token) else None), "totp", None
    recovery = RecoveryCodeDevice.objects.filter(user=user, confirmed=True).first()
    if recovery is not None and token:
        throttled = _throttled_message(recovery)
        if throttled:
            return None, "recovery", throttled
        if recovery.verify_token(token):
            return recovery, "recovery", None
    return None, "recovery", None


def check_verify_mfa(request: HttpRequest, token: str) -> None:
    user = request.user
    device, kind, throttled = _verify_second_factor(user, token)
    if device is None:
        record_security_event(AuditEvent.MFA_FAILED, request=request, user=user, detail={"stage": "signin"})
        raise InvalidInput(throttled or WRONG_CODE)
    otp_login(request, device)
    mark_auth_fresh(request)
    record_security_event(AuditEvent.MFA_VERIFIED, request=request, user=user, detail={"method": kind})
    if kind == "recovery":
        record_security_event(
            AuditEvent.MFA_RECOVERY_CODE_USED, request=request, user=user,
            detail={"remaining": device.remaining()},
        )


def check_reauth(request: HttpRequest, password: str, token: str) -> None:
    """Fresh proof for sensitive actions: the password again and, if enrolled, a second factor."""
    user = request.user
    ok = authenticate(request, username=user.email, password=password) is not None
    throttled = None
    if ok and (confirmed_totp(user) or RecoveryCodeDevice.objects.filter(user=user).exists()):
        device, _kind, throttled = _verify_second_factor(user, token)
        ok = device is not None
    if not ok:
        record_security_event(AuditEvent.REAUTH_FAILED, request=request, user=user)
        raise InvalidInput(throttled or "The password or code was not right.")
    mark_auth_fresh(request)
    record_security_event(AuditEvent.REAUTH_SUCCEEDED, request=request, user=user)


def mark_auth_fresh(request: HttpRequest) -> None:
    request.session[SESSION_AUTH_FRESH_AT] = int(time.time())


def mark_session_started(request: HttpRequest) -> None:
    """At sign-in: the absolute session cap counts from here (core.middleware.session_cap_reached)."""
    request.session[SESSION_STARTED_AT] = int(time.time())


def auth_is_fresh(request: HttpRequest) -> bool:
    at = request.session.get(SESSION_AUTH_FRESH_AT)
    return at is not None and time.time() - at <= settings.CONFIDE_RECENT_AUTH_MINUTES * 60


@transaction.atomic
def do_regenerate_recovery_codes(request: HttpRequest) -> list[str]:
    user = request.user
    recovery, _ = RecoveryCodeDevice.objects.get_or_create(user=user, defaults={"name": "Recovery codes", "confirmed": True})
    codes = recovery.regenerate()
    record_security_event(AuditEvent.MFA_RECOVERY_CODES_REGENERATED, request=request, user=user)
    return codes


@transaction.atomic
def do_replace_authenticator(request: HttpRequest) -> None:
    """Drop the current authenticator; the user is sent straight to enrol a new one."""
    user = request.user
    TOTPDevice.objects.filter(user=user).delete()  # a pending secret of any session included
    request.session.pop(SESSION_PENDING_TOTP, None)
    request.session[SESSION_PENDING_REPLACE] = True
    record_security_event(AuditEvent.MFA_RESET, request=request, user=user, detail={"self_service": True})
