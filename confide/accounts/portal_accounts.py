"""A portal account looking after itself (ACC5, ACC6 and ACC2 for patients): change the password,
remove the authenticator app, close the account; and ending one link (staff, "End access").

Each function changes the account, writes its audit entries (ids only) in the same transaction
and sends the confirmation e-mail after commit. Closing an account ends every one of its
`PortalLink`s and makes the account inactive — Django refuses an inactive user on every request,
so every session of it ends — and leaves the medical record as it is (the practice keeps it for
its retention period); the practice may invite the person again (accounts/portal_invitations.py
reopens the account with a new password).
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from django.contrib.auth import update_session_auth_hash
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from confide.accounts.locks import lock_user
from confide.accounts.models import PortalLink, RecoveryCodeDevice, TOTPDevice, User
from confide.accounts.services import SESSION_PENDING_TOTP, record_security_event
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput, NotFound
from confide.core.tenancy import tenant_context

DEACTIVATED = "deactivated"
ENDED_BY_PRACTICE = "ended-by-practice"


def _mail_on_commit(email: str, subject: str, body: str) -> None:
    transaction.on_commit(lambda: send_mail(subject=subject, message=body, from_email=None, recipient_list=[email]))


def check_change_password(request: HttpRequest, *, old_password: str, new_password: str) -> None:
    """The old password checked (the form did), the new one set; this session stays signed in
    (`update_session_auth_hash`), every other session of the account ends (Django keeps a hash of
    the password in each session and refuses one whose hash no longer matches)."""
    user = request.user
    if not user.check_password(old_password or ""):
        raise InvalidInput("Your current password is not right.")
    with transaction.atomic():
        lock_user(user.pk)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        record_security_event(AuditEvent.PASSWORD_CHANGED, request=request, user=user, practice_id=request.portal.practice_id if request.portal else None)
        _mail_on_commit(
            user.email, "Your portal password was changed",
            "The password of your patient portal account was just changed.\n\n"
            "If you did this, you need to do nothing.\n"
            "If you did not, reset your password now from the portal's sign-in page, and tell the practice.",
        )  # fmt: skip
    update_session_auth_hash(request, user)


def do_remove_authenticator(request: HttpRequest) -> int:
    """Remove the account's authenticator app and its recovery codes (after a fresh
    confirmation: the route asks for it). Returns how many devices went."""
    user = request.user
    with transaction.atomic():
        lock_user(user.pk)
        removed = TOTPDevice.objects.filter(user=user, confirmed=True).count() + RecoveryCodeDevice.objects.filter(user=user).count()
        TOTPDevice.objects.filter(user=user).delete()  # a pending set-up too
        RecoveryCodeDevice.objects.filter(user=user).delete()
        if not removed:
            raise InvalidInput("There is no authenticator app on your account.")
        record_security_event(
            AuditEvent.MFA_REMOVED, request=request, user=user, practice_id=request.portal.practice_id if request.portal else None,
            detail={"devices_removed": removed},
        )  # fmt: skip
        _mail_on_commit(
            user.email, "The authenticator app was removed from your portal account",
            "The authenticator app was removed from your patient portal account.\n\n"
            "If you did not do this, reset your password now and tell the practice.",
        )  # fmt: skip
    request.session.pop(SESSION_PENDING_TOTP, None)
    return removed


def do_deactivate_portal_account(request: HttpRequest) -> int:
    """Close the signed-in portal account: inactive (all its sessions end), every link ended
    ("deactivated"), the records untouched. One audit entry on each practice's chain that
    held a link. Returns how many links were ended."""
    user = request.user
    if not user.is_patient:
        raise InvalidInput("Only a portal account can be closed here.")
    now = timezone.now()
    ended = 0
    with transaction.atomic():
        lock_user(user.pk)
        User.objects.filter(pk=user.pk).update(is_active=False)
        by_practice: dict[str, list[str]] = defaultdict(list)
        with tenant_context(practice_id=None, user_id=user.pk):
            for link_id, practice_id in PortalLink.across_practices.filter(user=user, is_active=True).values_list("id", "practice_id"):
                by_practice[str(practice_id)].append(str(link_id))
        for practice_id in sorted(by_practice) or [None]:
            links = by_practice.get(practice_id, []) if practice_id else []
            with tenant_context(practice_id=practice_id, user_id=user.pk):
                if links:
                    ended += PortalLink.objects.filter(id__in=links, is_active=True).update(
                        is_active=False, ended_at=now, ended_reason=DEACTIVATED, updated_at=now
                    )
                record_security_event(
                    AuditEvent.PORTAL_ACCOUNT_DEACTIVATED, request=request, user=user, practice_id=practice_id,
                    detail={"links_ended": sorted(links)},
                )  # fmt: skip
        _mail_on_commit(
            user.email, "Your patient portal account is closed",
            "You closed your patient portal account. You can no longer sign in.\n\n"
            "Your medical record is kept by the practice, as the law asks. Closing the account did not delete it.\n"
            "If you want to use the portal again, ask the practice to invite you.\n"
            "If you did not close the account, tell the practice now.",
        )  # fmt: skip
    user.is_active = False
    return ended


def do_end_portal_link(*, practice_id: uuid.UUID, patient_id: uuid.UUID, link_id: uuid.UUID, ended_by, reason: str = ENDED_BY_PRACTICE, request=None) -> PortalLink:
    """End one link to a record (the caller, records/portal_access.py, checked who may): the
    holder can no longer open that record (the door re-reads the link); the holder is told."""
    now = timezone.now()
    with transaction.atomic(), tenant_context(practice_id=practice_id):
        link = PortalLink.objects.select_related("user").filter(id=link_id, patient_id=patient_id).first()
        if link is None:
            raise NotFound("link")
        if PortalLink.objects.filter(id=link.id, is_active=True).update(is_active=False, ended_at=now, ended_reason=reason, updated_at=now) != 1:
            raise InvalidInput("That access has already ended.")
        record_security_event(
            AuditEvent.PORTAL_LINK_ENDED, request=request, user=link.user, actor=ended_by, practice_id=practice_id,
            detail={"link_id": str(link.id), "kind": link.kind, "reason": reason},
        )  # fmt: skip
        from confide.core.models import Practice

        practice_name = Practice.objects.get(id=practice_id).name
        _mail_on_commit(
            link.user.email, f"Your portal access at {practice_name} changed",
            f"{practice_name} ended your access to one record in its patient portal.\n\n"
            "If you think this is a mistake, contact the practice.",
        )  # fmt: skip
    return link
