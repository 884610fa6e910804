"""django-axes hooks: the lockout counts failed sign-ins per (typed address, IP) without keeping
the address, and without the browser string it never uses (issue 11, ACC6).

What django-axes stores, and for how long (declared as "technical.signin_attempts" in
confide/policy/default.toml):

* `AccessAttempt` — one row per (address, IP): a keyed hash of the address (the same HMAC as a
  failed sign-in's `identifier_hash` in the audit log), the IP address, a failure count and the
  time of the last failure; deleted once the cool-off (AXES_COOLOFF_TIME) has passed since that
  last failure: by django-axes at every sign-in, failure and sign-out, and by the
  `prune_signin_attempts` task scheduled after each failure (confide/accounts/tasks.py).
* `AccessLog` / `AccessFailureLog` — not written (AXES_DISABLE_ACCESS_LOG,
  AXES_ENABLE_ACCESS_FAILURE_LOG off): sign-ins, failures and lockouts are audited instead.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler


def username_for_lockout(request, credentials) -> str:
    """The sign-in identifier as the lockout counter sees it: a keyed hash of the trimmed,
    lower-cased address, so case variations of one address share one allowance of guesses and
    the address typed (a patient's, a mistyped one) is never stored."""
    from confide.accounts.services import identifier_hash

    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return identifier_hash(str(raw))


def typed_identifier(request) -> str:
    """The address typed at sign-in, for our own signal handlers (axes passes only the hash)."""
    credentials = getattr(request, "axes_credentials", None) or {}
    return str(credentials.get("username") or (request.POST.get("username", "") if request is not None else ""))


class MinimalDatabaseHandler(AxesDatabaseHandler):
    """django-axes' database handler, minus the request details the lockout does not count by:
    it would keep the browser's User-Agent and Accept headers in every attempt row."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is not None:
            request.axes_user_agent = ""
            request.axes_http_accept = ""
        return super().user_login_failed(sender, credentials, request, **kwargs)
