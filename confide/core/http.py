"""Small request helpers shared by the views."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def local_path(request: HttpRequest, candidate: str | None, *, under: str = "/") -> str | None:
    """`candidate` when it is a path on this site (starting with `under`), else None: the only
    kind of place a `next` field or parameter may send the browser. Anything else (another host,
    `//host`, a backslash, a control character, or a bare word that `redirect()` would try to
    reverse as a view name and fail on) is refused, and the caller falls back to its default."""
    if not candidate or not candidate.startswith(under) or candidate.startswith("//") or "\\" in candidate:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in candidate):
        return None
    if not url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return None
    return candidate
