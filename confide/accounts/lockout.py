"""django-axes hooks."""


def username_for_lockout(request, credentials) -> str:
    """The sign-in identifier as the lockout counter sees it: trimmed and lower-cased, so case
    variations of one address cannot each get their own allowance of guesses."""
    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(raw).strip().lower()
