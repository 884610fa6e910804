"""Sign-in, failure, lockout and sign-out land in the audit log (ACC6)."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from confide.accounts.lockout import typed_identifier
from confide.accounts.models import User
from confide.accounts.services import mark_auth_fresh, mark_session_started, record_security_event
from confide.accounts.tasks import schedule_signin_attempt_pruning
from confide.audit.events import AuditEvent


@receiver(user_logged_in)
def _on_signed_in(sender, request, user, **kwargs):
    if request is not None:
        mark_session_started(request)
        mark_auth_fresh(request)
    record_security_event(AuditEvent.SIGNIN_SUCCEEDED, request=request, user=user)


@receiver(user_login_failed)
def _on_signin_failed(sender, credentials, request=None, **kwargs):
    identifier = credentials.get("username") or credentials.get("email") or ""
    known = User.objects.filter(email__iexact=identifier.strip()).first() if identifier else None
    record_security_event(AuditEvent.SIGNIN_FAILED, request=request, user=known, identifier=identifier)
    schedule_signin_attempt_pruning()


@receiver(user_locked_out)
def _on_locked_out(sender, request, username, ip_address, **kwargs):
    # `username` is the keyed hash the lockout counts by (accounts/lockout.py): the account is
    # found from what was typed.
    identifier = typed_identifier(request)
    known = User.objects.filter(email__iexact=identifier.strip()).first() if identifier else None
    record_security_event(AuditEvent.SIGNIN_LOCKED_OUT, request=request, user=known, identifier=identifier)


@receiver(user_logged_out)
def _on_signed_out(sender, request, user, **kwargs):
    if user is not None:
        record_security_event(AuditEvent.SIGNED_OUT, request=request, user=user)
