"""Small request helpers shared by the views."""

from __future__ import annotations

import ipaddress

from django.conf import settings
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


def client_ip(request: HttpRequest) -> str:
    """The client's address: the one place it is read (the consultation limit, audit entries,
    consent evidence, the lockout all call this), so they all agree on who a client is.

    With `CONFIDE_TRUSTED_PROXY_COUNT` = 0 (the default: gunicorn faces the clients itself) it is
    REMOTE_ADDR, and X-Forwarded-For is ignored: anyone can send that header. Behind N trusted
    proxies, each appends the address it received the request from to X-Forwarded-For, so the
    N-th entry from the right is what the outermost trusted proxy saw: the client. Entries to its
    left were written by the client and are never believed. A request with fewer entries than
    proxies did not come through them, and an entry that is not a bare IP address is not one: in
    both cases REMOTE_ADDR (the proxy), which at worst makes clients share one limit, never lets
    a client pick its own address."""
    remote = request.META.get("REMOTE_ADDR") or ""
    trusted = settings.CONFIDE_TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < trusted:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-trusted]))  # one spelling per address
    except ValueError:
        return remote


def absolute_url(path: str) -> str:
    """`path` on this site as people reach it (settings.CONFIDE_BASE_URL), for links in e-mails.
    Refuses to make a link without the base address rather than send one that goes nowhere
    (a deployment that did not set it fails `confide check --deploy`, confide.E002)."""
    from django.core.exceptions import ImproperlyConfigured

    base = settings.CONFIDE_BASE_URL.rstrip("/")
    if not base:
        raise ImproperlyConfigured("CONFIDE_BASE_URL is not set: a link in an e-mail needs the site's address")
    return f"{base}{path}"


def streamed_file(stream, *, content_type: str, size: int, filename: str, attachment: bool = True):
    """A decrypting file stream as the response body, 64 KiB at a time: memory stays flat
    whatever the file's size, and the stream is closed when the response is done (or abandoned).
    Shared by the chart's documents, the portal's downloads and message attachments."""
    from django.http import StreamingHttpResponse

    def chunks():
        try:
            while block := stream.read(64 * 1024):
                yield block
        finally:
            stream.close()

    response = StreamingHttpResponse(chunks(), content_type=content_type)
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = f'{"attachment" if attachment else "inline"}; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    # A file is never a page of ours: no scripts, no plugins, no framing, whatever it holds.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"  # django-csp leaves a set header alone
    return response
