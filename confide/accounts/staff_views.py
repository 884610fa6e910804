"""Staff management pages for owners: the member list with pending invitations, inviting,
revoking and resending invitations, ending a member's access. (Changing a role and resetting
MFA are in views.py.) Thin: parse, one service call, render."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from confide.accounts import invitations, staff
from confide.accounts.staff_forms import InviteForm
from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.permissions import Perm, Role


def _staff_page(request: HttpRequest, invite_form: InviteForm | None = None, status: int = 200) -> HttpResponse:
    actor = request.actor
    context = {
        "rows": staff.list_staff(actor),
        "invitations": invitations.list_pending_invitations(actor),
        "roles": Role.choices,
        "can_manage": actor.has(Perm.STAFF_CHANGE_ROLE),
        "can_invite": actor.has(Perm.STAFF_INVITE),
        "can_deactivate": actor.has(Perm.STAFF_DEACTIVATE),
        "invite_form": invite_form or InviteForm(),
        "invitation_hours": settings.CONFIDE_INVITATION_HOURS,
    }
    return render(request, "accounts/staff_list.html", context, status=status)


@route("accounts:staff-list")
def staff_list(request: HttpRequest) -> HttpResponse:
    return _staff_page(request)


@route("accounts:staff-invite")
def staff_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = invitations.do_invite(actor=request.actor, email=form.cleaned_data["email"], role=form.cleaned_data["role"], request=request)
        except InvalidInput as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("accounts:staff-list")
    return _staff_page(request, form, status=400)


@route("accounts:invitation-revoke")
def invitation_revoke(request: HttpRequest, invitation_id: uuid.UUID) -> HttpResponse:
    try:
        invitations.do_revoke_invitation(actor=request.actor, invitation_id=invitation_id, request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Invitation withdrawn: its link no longer works.")
    return redirect("accounts:staff-list")


@route("accounts:invitation-resend")
def invitation_resend(request: HttpRequest, invitation_id: uuid.UUID) -> HttpResponse:
    try:
        invitation = invitations.do_resend_invitation(actor=request.actor, invitation_id=invitation_id, request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"A new invitation link was sent to {invitation.email}; the earlier link no longer works.")
    return redirect("accounts:staff-list")


@route("accounts:staff-deactivate")
def staff_deactivate(request: HttpRequest, membership_id: uuid.UUID) -> HttpResponse:
    try:
        membership = staff.check_deactivate_member(actor=request.actor, membership_id=membership_id, request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user.display_name} no longer has access; their sessions here were ended.")
    return redirect("accounts:staff-list")
