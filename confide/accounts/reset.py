"""Password reset for staff by e-mail (issue 12, item 3; ACC1–ACC3).

Django's token flow (PasswordResetTokenGenerator: a keyed hash of the account's password hash,
last sign-in and the time, so a link stops working once the password changes and after
CONFIDE_PASSWORD_RESET_MINUTES), in this codebase's shape:

* Asking (`request_password_reset`) gives the same answer, and does the same work, for a known
  and an unknown address: both are counted against the limits (per address and per client
  address, in the database: accounts/throttle.py), both are one audit entry (the account's id,
  or for an unknown address only a keyed hash of it: never an e-mail address in the log) and
  both queue one task. The e-mail is built and sent by the task worker, so the time an SMTP
  server takes never shows in the answer.
* The link carries the account's id and the token in its query (not in its path: the access
  log records paths); opening it moves both into the session and redirects to a page without
  them (as Django's own view does), so they leave no trace in the Referer or the history.
* Setting the password (`check_reset_password`) locks the account's row and checks the token
  again inside that transaction: of parallel submits of one link exactly one sets a password;
  the others find the password changed, the token with it, and are refused.
* A reset does not sign anyone in. Every session of the account ends (Django keeps a hash of the
  password in each session and refuses a session whose hash no longer matches), and the next
  sign-in asks for the new password and then the authenticator, as before: a mailbox alone never
  gets past MFA. The account's sign-in lockout is lifted: the mailbox proved who asked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from confide.accounts.locks import lock_user
from confide.accounts.models import User
from confide.accounts.services import identifier_hash, record_security_event, wait_phrase
from confide.accounts.throttle import client_key, count_attempt
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput
from confide.core.http import absolute_url, client_ip

WINDOW = timedelta(hours=1)
LINK_NOT_VALID = (
    "This reset link does not work any more: it was used already, a newer one was sent, or it is "
    "older than {minutes} minutes. Ask for a new one."
)


class TooManyResetRequests(InvalidInput):
    """Over the limit per address or per client: the same answer whether the address is known."""


def link_not_valid() -> str:
    return LINK_NOT_VALID.format(minutes=settings.PASSWORD_RESET_TIMEOUT // 60)


def request_password_reset(request: HttpRequest, email: str, *, portal: bool = False) -> None:
    """Count the request, record it, queue the e-mail: the same steps whether or not an account
    uses `email`. Raises TooManyResetRequests over either limit (nothing else is done then).
    `portal`: asked on the patient portal's page: only a portal account is sent a link (a
    staff address gets the same answer and nothing), and the link opens the portal's pages."""
    email = email.strip().lower()
    if not count_attempt(client_key("reset-ip", client_ip(request)), limit=settings.CONFIDE_PASSWORD_RESET_PER_IP_HOUR, window=WINDOW):
        raise TooManyResetRequests(_too_many())
    if not count_attempt(client_key("reset-address", email), limit=settings.CONFIDE_PASSWORD_RESET_PER_ADDRESS_HOUR, window=WINDOW):
        raise TooManyResetRequests(_too_many())
    from confide.accounts.tasks import send_password_reset

    with transaction.atomic():
        user = User.objects.filter(email=email).first()
        if portal and user is not None and not user.is_patient:
            user = None  # the same answer and work as for an unknown address
        record_security_event(
            AuditEvent.PASSWORD_RESET_REQUESTED, request=request, user=user, identifier=None if user else email,
        )  # fmt: skip
        user_id = user.pk if user else None
        # Queued for an unknown address too (the task finds no account and sends nothing): the
        # same rows written, the same time taken.
        if portal:
            transaction.on_commit(lambda: send_password_reset.enqueue(user_id, portal=True))
        else:
            transaction.on_commit(lambda: send_password_reset.enqueue(user_id))


def _too_many() -> str:
    window = WINDOW.total_seconds()
    left = window - time.time() % window  # the counts start again with the next window (clock hour)
    return f"Too many reset requests from here or for this address. Wait {wait_phrase(left)}, then ask again."


def reset_link(user: User, *, portal: bool = False) -> str:
    """The link for `user`'s e-mail: the account's id and a fresh token in the query."""
    query = urlencode({"u": urlsafe_base64_encode(force_bytes(user.pk)), "t": default_token_generator.make_token(user)})
    name = "portal:password-reset-link" if portal else "accounts:password-reset-link"
    return absolute_url(f"{reverse(name)}?{query}")


def send_reset_email(user_id: int | None, *, portal: bool = False) -> bool:
    """Called by the task worker. Sends nothing for an unknown, deactivated or passwordless
    account, nor, for a portal request, for a staff account."""
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id is not None else None
    if user is None or not user.has_usable_password() or (portal and not user.is_patient):
        return False
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    if portal:
        send_mail(
            subject="Reset your patient portal password",
            message=(
                "Someone, we hope you, asked to reset the password of your patient portal account.\n\n"
                f"To choose a new password, open this link within {minutes} minutes. It works once:\n"
                f"{reset_link(user, portal=True)}\n\n"
                "If you did not ask for this, ignore this e-mail. Your password stays as it is."
            ),
            from_email=None,
            recipient_list=[user.email],
        )
        return True
    send_mail(
        subject="Reset your Confide password",
        message=(
            "Someone, hopefully you, asked to reset the password of your Confide account.\n\n"
            f"To choose a new password, open this link within {minutes} minutes. It works once:\n"
            f"{reset_link(user)}\n\n"
            "After that, sign in with the new password; your authenticator app is still asked for.\n"
            "If you did not ask for this, ignore this e-mail: your password stays as it is. If it keeps\n"
            "happening, tell your practice's owner or privacy officer."
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    return True


@dataclass(frozen=True)
class ResetLink:
    user_id: int
    token: str


def parse_reset_link(uidb64: object, token: object) -> ResetLink | None:
    """The link's account and token, if the token is still good for that account; else None."""
    if not isinstance(uidb64, str) or not isinstance(token, str) or len(uidb64) > 64 or len(token) > 128:
        return None
    try:
        user_id = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return ResetLink(user_id=user.pk, token=token)


def access_reset_user(link: ResetLink) -> User | None:
    """The account a (still valid) link is for: what the new-password form checks against."""
    user = User.objects.filter(pk=link.user_id, is_active=True).first()
    return user if user is not None and default_token_generator.check_token(user, link.token) else None


def check_reset_password(request: HttpRequest, link: ResetLink, password: str) -> User:
    """Set the new password if the link is still good, once: the account's row is locked and the
    token checked again inside the transaction, so of parallel submits exactly one succeeds."""
    hashed = make_password(password)  # outside the lock: hashing is the slow part
    with transaction.atomic():
        lock_user(link.user_id)
        user = User.objects.filter(pk=link.user_id, is_active=True).first()
        if user is None or not default_token_generator.check_token(user, link.token):
            raise InvalidInput(link_not_valid())
        user.password = hashed
        user.save(update_fields=["password"])
        _lift_signin_lockout(user)
        record_security_event(AuditEvent.PASSWORD_RESET, request=request, user=user)
    return user


def _lift_signin_lockout(user: User) -> None:
    """The lockout counts failed sign-ins per (keyed hash of the address, IP): the rows for this
    account go, from every address. The guesses they counted were at the old password."""
    from axes.models import AccessAttempt

    AccessAttempt.objects.filter(username=identifier_hash(user.email)).delete()
