"""The privacy notice, rendered from the declaration in force (public), and its past versions;
the owner's and privacy officer's policy settings page (preview, publish, the report); and
"I have read it". Thin: parse with a form, call confide/policy/services.py or
acknowledgements.py, render."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from confide.accounts import services as account_services
from confide.core.actors import StaffActor
from confide.core.decorators import route
from confide.core.http import local_path
from confide.core.public import public_practice_page
from confide.policy import acknowledgements, services
from confide.policy.forms import AcknowledgeForm, PolicyChangeForm, mark_errors
from confide.policy.loader import PolicyError
from confide.policy.notice import build_notice


# --- the public notice ---------------------------------------------------------------------------
def _render_notice(request: HttpRequest, practice, version, *, current: bool) -> HttpResponse:
    versions = services.list_versions(practice.id)
    published = [v for v in versions if v.effective_at <= timezone.now() or v.number <= version.number]
    notice = build_notice(
        practice,
        version,
        services.declaration_of(version),
        last_updated=max(v.created_at for v in published),
        upcoming=services.upcoming_versions(practice.id) if current else (),
    )
    context = {
        "notice": notice,
        "versions": versions,
        "current": current,
        "in_force": services.version_in_force(practice.id),
        "now": timezone.now(),
    }
    return render(request, "policy/notice.html", context)


def _member_of(request: HttpRequest, practice) -> StaffActor | None:
    """The signed-in visitor as a staff member of `practice`, if they are one (password and
    second factor both done); None for anyone else, anonymous visitors included."""
    if not request.user.is_authenticated:
        return None
    membership = next((m for m in request.memberships if m.practice_id == practice.id), None)
    if membership is None or account_services.mfa_step_pending(request.user, request.memberships) is not None:
        return None
    return StaffActor.from_membership(membership)


@route("policy:notice")
@public_practice_page
def notice(request: HttpRequest, practice) -> HttpResponse:
    return _render_notice(request, practice, services.version_in_force(practice.id), current=True)


@route("policy:notice-version")
@public_practice_page
def notice_version(request: HttpRequest, practice, number: int) -> HttpResponse:
    version = services.get_version(practice.id, number)
    if version is None:
        raise Http404("version")
    member = _member_of(request, practice)
    if member is not None:
        acknowledgements.record_seen(actor=member, version=version)
    return _render_notice(request, practice, version, current=False)


# --- the policy settings page ----------------------------------------------------------------------
def _render_settings(request: HttpRequest, form: PolicyChangeForm, *, preview=None, policy_error: PolicyError | None = None, status: int = 200) -> HttpResponse:
    mark_errors(form)
    error_line = None
    if policy_error is not None and policy_error.line:
        lines = (form.data.get("override_toml") or "").replace("\r\n", "\n").splitlines()
        error_line = lines[policy_error.line - 1] if policy_error.line <= len(lines) else None
    context = {
        "overview": services.get_policy_overview(actor=request.actor),
        "report": acknowledgements.notice_report(actor=request.actor),
        "form": form,
        "preview": preview,
        "policy_error": policy_error,
        "error_line": error_line,
        "notice_days": settings.CONFIDE_POLICY_MATERIAL_NOTICE_DAYS,
        "auth_fresh": account_services.auth_is_fresh(request),
        "now": timezone.now(),
    }
    return render(request, "policy/settings.html", context, status=status)


@route("policy:settings")
def policy_settings(request: HttpRequest) -> HttpResponse:
    """GET: the page, the override starting from the latest version's. POST: Preview."""
    if request.method == "GET":
        latest = services.latest_version(request.actor.practice_id)
        # The next full hour: soon enough for a change that is not material, and not yet past
        # when the officer has finished typing.
        next_hour = timezone.now().replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
        return _render_settings(request, PolicyChangeForm(initial={"override_toml": latest.override_toml, "effective_at": next_hour}))
    form = PolicyChangeForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, form, status=400)
    try:
        preview = services.preview_policy(actor=request.actor, **form.cleaned_data)
    except PolicyError as exc:
        form.add_error("override_toml", str(exc))
        return _render_settings(request, form, policy_error=exc, status=400)
    return _render_settings(request, form, preview=preview)


@route("policy:publish")
def policy_publish(request: HttpRequest) -> HttpResponse:
    form = PolicyChangeForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, form, status=400)
    try:
        version = services.do_publish_policy(actor=request.actor, request=request, **form.cleaned_data)
    except PolicyError as exc:
        form.add_error("override_toml", str(exc))
        return _render_settings(request, form, policy_error=exc, status=400)
    except services.PublishRefused as exc:
        form.add_error(exc.field, str(exc))
        return _render_settings(request, form, status=400)
    text = f"Version {version.number} is published. It takes effect on {version.effective_at:%B %-d, %Y at %H:%M} UTC."
    if version.material:
        text += " Everyone it affects is being e-mailed, and staff see a banner until they say they have read it."
    messages.success(request, text)
    return redirect("policy:settings")


# --- "I have read it" ------------------------------------------------------------------------------
@route("policy:acknowledge")
def acknowledge(request: HttpRequest, version_id) -> HttpResponse:
    form = AcknowledgeForm(request.POST)
    form.is_valid()  # one optional field: an unusable `next` just means the dashboard
    version = acknowledgements.do_accept_notice(actor=request.actor, version_id=version_id)
    messages.success(request, f"Thank you: it is recorded that you have read version {version.number} of the privacy notice.")
    return redirect(local_path(request, form.cleaned_data.get("next")) or "core:dashboard")
