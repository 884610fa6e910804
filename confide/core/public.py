"""Public pages of one practice (`/p/<practice_slug>/…`): the privacy notice, the consultation
form, the privacy choices. No sign-in; the practice comes from the URL's slug, and the view runs
in that practice's tenant context so its scoped queries (and row-level security) apply."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse

from confide.core.models import Practice
from confide.core.tenancy import tenant_context


def practice_for_slug(slug: str) -> Practice:
    practice = Practice.objects.filter(slug=slug).first()
    if practice is None:
        raise Http404("practice")
    return practice


def public_practice_page(view: Callable) -> Callable:
    """`view(request, practice, **kwargs)`: resolves `practice_slug` (404 when unknown) and runs
    the view inside the practice's context. `request.public_practice` is set for templates."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, practice_slug: str, **kwargs) -> HttpResponse:
        practice = getattr(request, "public_practice", None)  # resolved already by PrivacySignalsMiddleware
        if practice is None or practice.slug != practice_slug:
            practice = practice_for_slug(practice_slug)
        request.public_practice = practice
        with tenant_context(practice_id=practice.id):
            return view(request, practice, **kwargs)

    return wrapped
