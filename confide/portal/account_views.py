"""The portal's account pages: the invitation link, the account page (password, authenticator),
closing the account, and the password reset by e-mail. Parse, call a service, render; the rules
are in confide/accounts (portal_invitations.py, portal_accounts.py, reset.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from confide.accounts import portal_accounts, reset
from confide.accounts import portal_invitations as invites
from confide.accounts import services as account_services
from confide.accounts.forms import NewPasswordForm, PasswordResetRequestForm
from confide.accounts.models import RecoveryCodeDevice
from confide.accounts.portal import SESSION_PORTAL_LINK
from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.portal.forms import ConfirmPasswordForm, NewPortalAccountForm, PortalPasswordChangeForm

SESSION_RESET_USER = "confide_portal_reset_user_id"
SESSION_RESET_TOKEN = "confide_portal_reset_token"


# --- the invitation link ------------------------------------------------------------------------
def _unusable(request: HttpRequest, reason: str, message: str, *, reference=None, status: int = 400, **context) -> HttpResponse:
    """One clear page for every link that does not work (or a person it is not for): nothing
    written but the audit entry saying why."""
    invites.record_refusal(reason, reference=reference, request=request, user=request.user if request.user.is_authenticated else None)
    if reason not in ("other-account", "staff-session"):
        request.session.pop(invites.SESSION_PORTAL_INVITATION, None)
    return render(request, "portal/invitation_unusable.html", {"message": message, "reason": reason, **context}, status=status)


@route("portal:invitation")
def invitation(request: HttpRequest) -> HttpResponse:
    """The link from the e-mail: the token leaves the address for the session, then a redirect
    (as the staff invitation and Django's password reset do): not left in the history or a Referer."""
    reference = invites.session_reference(request.GET.get("token", ""))
    if reference is None:
        return _unusable(request, "unknown", invites.UNUSABLE["unknown"])
    request.session[invites.SESSION_PORTAL_INVITATION] = reference
    return redirect("portal:invitation-accept")


@route("portal:invitation-accept")
def invitation_accept(request: HttpRequest) -> HttpResponse:
    reference = request.session.get(invites.SESSION_PORTAL_INVITATION)
    user = request.user
    if user.is_authenticated and not user.is_patient:
        return _unusable(
            request, "staff-session", "You are signed in to the practice's staff pages. Sign out of them first, then open the link again.",
            reference=reference, status=403,
        )  # fmt: skip
    try:
        opened = invites.get_open_portal_invitation(reference)
    except invites.PortalInvitationUnusable as exc:
        return _unusable(request, exc.reason, str(exc), reference=reference)
    if opened.account == "staff":
        return _unusable(request, "staff-address", invites.UNUSABLE["staff-address"], reference=reference)
    context = {"invitation": opened}
    if user.is_authenticated:
        if user.email != opened.email:
            # Patient B opened patient A's link: explain, offer to sign out; nothing linked.
            return _unusable(
                request, "other-account",
                "This invitation was sent to another e-mail address than the one you are signed in with. "
                "If it is for you, sign out and open it again.",
                reference=reference, status=403, other_account=True,
            )  # fmt: skip
        if account_services.portal_mfa_step_pending(user, request.portal) == "verify":
            # The second factor first: a password alone never adds a record to an account.
            return redirect(f"{reverse('portal:mfa-verify')}?next={reverse('portal:invitation-accept')}")
        form = ConfirmPasswordForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            return _accept(request, reference, form, user=user, password=form.cleaned_data["password"])
        return render(request, "portal/invitation_accept.html", {**context, "form": form, "add_link": True}, status=400 if form.errors else 200)
    if opened.account == "active":
        signin = f"{reverse('portal:signin')}?next={reverse('portal:invitation-accept')}"
        return render(request, "portal/invitation_accept.html", {**context, "sign_in": signin})
    form = NewPortalAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        return _accept(
            request, reference, form, password=data["password"], password_again=data["password_again"], display_name=data["display_name"]
        )
    return render(request, "portal/invitation_accept.html", {**context, "form": form, "new_account": True}, status=400 if form.errors else 200)


def _accept(request: HttpRequest, reference, form, **details) -> HttpResponse:
    try:
        user, link = invites.check_accept_portal_invitation(reference=reference, request=request, **details)
    except invites.PortalInvitationUnusable as exc:
        return _unusable(request, exc.reason, str(exc), reference=reference)
    except InvalidInput as exc:
        for field, problems in getattr(exc, "errors", {None: [str(exc)]}).items():
            for problem in problems:
                form.add_error(field if field in form.fields else None, problem)
        try:  # used meanwhile (an account made for the address at the same moment): say that instead
            opened = invites.get_open_portal_invitation(reference)
        except invites.PortalInvitationUnusable as spent:
            return _unusable(request, spent.reason, str(spent), reference=reference)
        context = {"invitation": opened, "form": form, ("add_link" if "user" in details else "new_account"): True}
        return render(request, "portal/invitation_accept.html", context, status=400)
    request.session.pop(invites.SESSION_PORTAL_INVITATION, None)
    if not request.user.is_authenticated:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome. Your portal account is ready.")
    else:
        messages.success(request, "The record was added to your account.")
    request.session[SESSION_PORTAL_LINK] = str(link.id)
    return redirect("portal:home")


# --- the account page ---------------------------------------------------------------------------
def _account_page(request: HttpRequest, form=None, status: int = 200) -> HttpResponse:
    user = request.user
    recovery = RecoveryCodeDevice.objects.filter(user=user, confirmed=True).first()
    context = {
        "portal_section": "account",
        "password_form": form or PortalPasswordChangeForm(user),
        "has_totp": account_services.confirmed_totp(user) is not None,
        "recovery_left": recovery.remaining() if recovery else None,
        "mfa_required": any(link.practice.portal_mfa_required for link in request.portal.links),
    }
    return render(request, "portal/account.html", context, status=status)


@route("portal:account")
def account(request: HttpRequest) -> HttpResponse:
    return _account_page(request)


@route("portal:password-change")
def password_change(request: HttpRequest) -> HttpResponse:
    form = PortalPasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        return _account_page(request, form, status=400)
    try:
        portal_accounts.check_change_password(
            request, old_password=form.cleaned_data["old_password"], new_password=form.cleaned_data["new_password1"]
        )
    except InvalidInput as exc:
        form.add_error("old_password", str(exc))
        return _account_page(request, form, status=400)
    messages.success(request, "Your password is changed. You are signed out everywhere else.")
    return redirect("portal:account")


@route("portal:mfa-remove")
def mfa_remove(request: HttpRequest) -> HttpResponse:
    """Remove the authenticator app: the route asks for a fresh confirmation first (ACC2)."""
    if request.method == "POST":
        try:
            portal_accounts.do_remove_authenticator(request)
        except InvalidInput as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "The authenticator app was removed from your account.")
        return redirect("portal:account")
    return render(request, "portal/mfa_remove.html", {"portal_section": "account"})


@route("portal:recovery-codes")
def recovery_codes(request: HttpRequest) -> HttpResponse:
    if account_services.confirmed_totp(request.user) is None:
        messages.error(request, "Set up an authenticator app first.")
        return redirect("portal:account")
    codes = account_services.do_regenerate_recovery_codes(request)
    return render(request, "portal/recovery_codes.html", {"codes": codes, "regenerated": True})


# --- closing the account ------------------------------------------------------------------------
@route("portal:deactivate")
def deactivate(request: HttpRequest) -> HttpResponse:
    """Close the account (after a fresh confirmation): every session ends, the record stays."""
    if request.method == "POST":
        portal_accounts.do_deactivate_portal_account(request)
        practices = sorted({link.practice.name for link in request.portal.links})
        logout(request)
        request.session["confide_portal_closed_practices"] = practices
        return redirect("portal:closed")
    return render(request, "portal/deactivate.html", {"portal_section": "account"})


@route("portal:closed")
def closed(request: HttpRequest) -> HttpResponse:
    practices = request.session.pop("confide_portal_closed_practices", None)
    if not isinstance(practices, list):
        practices = []
    return render(request, "portal/closed.html", {"practices": [str(p) for p in practices][:10]})


# --- password reset by e-mail -------------------------------------------------------------------
@route("portal:password-reset")
def password_reset(request: HttpRequest) -> HttpResponse:
    form = PasswordResetRequestForm(request.POST or None)
    form.fields["email"].widget.attrs["autocomplete"] = "username"
    if request.method == "POST" and form.is_valid():
        try:
            reset.request_password_reset(request, form.cleaned_data["email"], portal=True)
        except reset.TooManyResetRequests as exc:
            return render(request, "portal/password_reset.html", {"form": form, "refused": str(exc)}, status=429)
        # The same page whether or not a portal account uses the address (a staff one included).
        return render(request, "portal/password_reset_sent.html", {"minutes": settings.PASSWORD_RESET_TIMEOUT // 60})
    return render(request, "portal/password_reset.html", {"form": form}, status=400 if form.errors else 200)


@route("portal:password-reset-link")
def password_reset_link(request: HttpRequest) -> HttpResponse:
    link = reset.parse_reset_link(request.GET.get("u"), request.GET.get("t"))
    if link is None:
        return _reset_link_not_valid(request)
    request.session[SESSION_RESET_USER] = link.user_id
    request.session[SESSION_RESET_TOKEN] = link.token
    return redirect("portal:password-reset-new")


@route("portal:password-reset-new")
def password_reset_new(request: HttpRequest) -> HttpResponse:
    user_id, token = request.session.get(SESSION_RESET_USER), request.session.get(SESSION_RESET_TOKEN)
    link = reset.ResetLink(user_id=user_id, token=token) if isinstance(user_id, int) and isinstance(token, str) else None
    user = reset.access_reset_user(link) if link else None
    if user is None or not user.is_patient:
        return _reset_link_not_valid(request)
    form = NewPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reset.check_reset_password(request, link, form.cleaned_data["new_password1"])
        except InvalidInput:
            return _reset_link_not_valid(request)
        logout(request)  # a clean session; a reset signs nobody in
        messages.success(request, "Your password is changed. Sign in with it.")
        return redirect("portal:signin")
    return render(request, "portal/password_reset_new.html", {"form": form}, status=400 if form.errors else 200)


def _reset_link_not_valid(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_RESET_USER, None)
    request.session.pop(SESSION_RESET_TOKEN, None)
    return render(request, "portal/password_reset_invalid.html", {"message": reset.link_not_valid()}, status=400)
