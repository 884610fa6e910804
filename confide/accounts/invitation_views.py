"""The invitation link's pages (public): the landing page that moves the token into the session,
and the page that accepts it (a new account, or a signed-in account adding the membership)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from confide.accounts import invitations, services
from confide.accounts.staff_forms import NewAccountForm
from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.middleware import SESSION_PRACTICE


def _unusable(request: HttpRequest, exc: invitations.InvitationUnusable) -> HttpResponse:
    request.session.pop(invitations.SESSION_INVITATION, None)
    return render(request, "accounts/invitation_unusable.html", {"message": str(exc), "reason": exc.reason}, status=400)


@route("accounts:invitation")
def invitation(request: HttpRequest) -> HttpResponse:
    """The link from the e-mail: the token leaves the address for the session, then a redirect
    (as Django's password reset does), so it is not left in the address bar, history or a Referer."""
    reference = invitations.session_reference(request.GET.get("token", ""))
    if reference is None:
        return _unusable(request, invitations.InvitationUnusable("unknown"))
    request.session[invitations.SESSION_INVITATION] = reference
    return redirect("accounts:invitation-accept")


@route("accounts:invitation-accept")
def invitation_accept(request: HttpRequest) -> HttpResponse:
    reference = request.session.get(invitations.SESSION_INVITATION)
    try:
        opened = invitations.get_open_invitation(reference)
    except invitations.InvitationUnusable as exc:
        return _unusable(request, exc)
    user = request.user
    context = {"invitation": opened}
    if user.is_authenticated:
        if user.email != opened.email:
            return render(request, "accounts/invitation_accept.html", {**context, "other_account": True}, status=403 if request.method == "POST" else 200)
        pending = services.mfa_step_pending(user, request.memberships)
        if pending == "verify":
            return redirect(f"{reverse('accounts:mfa-verify')}?next={reverse('accounts:invitation-accept')}")
        if request.method == "POST":
            return _join(request, reference, opened)
        return render(request, "accounts/invitation_accept.html", {**context, "join": True})
    if opened.has_account:
        if request.method == "POST":
            return redirect(f"{reverse('accounts:login')}?next={reverse('accounts:invitation-accept')}")
        return render(request, "accounts/invitation_accept.html", {**context, "sign_in": True})
    form = NewAccountForm(request.POST or None)
    if request.method == "POST":
        # Every problem at once: the password rules are checked even when the name is missing.
        form.is_valid()
        problems = invitations.validate_new_account(
            opened.email, request.POST.get("display_name", ""), request.POST.get("password", ""), request.POST.get("password_again", "")
        )
        for field, messages_ in problems.items():
            if field not in form.errors:
                for problem in messages_:
                    form.add_error(field, problem)
    if request.method == "POST" and not form.errors:
        data = form.cleaned_data
        try:
            new_user = invitations.check_accept_as_new_account(
                reference=reference, display_name=data["display_name"], password=data["password"],
                password_again=data["password_again"], request=request,
            )  # fmt: skip
        except invitations.InvitationUnusable as exc:
            return _unusable(request, exc)
        except InvalidInput as exc:
            for field, problems in getattr(exc, "errors", {None: [str(exc)]}).items():
                for problem in problems:
                    form.add_error(field, problem)
        else:
            request.session.pop(invitations.SESSION_INVITATION, None)
            # Signed in with the password just chosen; the second factor is still to come: the
            # enrolment page is next, and no staff page opens before it is done (ACC2).
            login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
            request.session[SESSION_PRACTICE] = str(opened.practice_id)
            return redirect("accounts:mfa-enrol")
    return render(request, "accounts/invitation_accept.html", {**context, "form": form, "new_account": True}, status=400 if form.errors else 200)


def _join(request: HttpRequest, reference: dict, opened: invitations.OpenInvitation) -> HttpResponse:
    try:
        invitations.check_accept_as_member(reference=reference, user=request.user, request=request)
    except invitations.InvitationUnusable as exc:
        return _unusable(request, exc)
    except InvalidInput as exc:
        request.session.pop(invitations.SESSION_INVITATION, None)
        return render(request, "accounts/invitation_unusable.html", {"message": str(exc), "reason": "member"}, status=400)
    request.session.pop(invitations.SESSION_INVITATION, None)
    request.session[SESSION_PRACTICE] = str(opened.practice_id)
    messages.success(request, f"You joined {opened.practice_name} as {opened.role_label}.")
    return redirect("core:dashboard")
