"""The privacy notice, rendered from the declaration in force (public), and its past versions."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from confide.core.decorators import route
from confide.core.public import public_practice_page
from confide.policy import services
from confide.policy.notice import build_notice


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
    return _render_notice(request, practice, version, current=False)
