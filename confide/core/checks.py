"""Deployment checks of core's settings (`confide check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_base_url(app_configs=None, **kwargs):
    """Links in e-mails need the address people reach the site at; the settings invent none
    for a deployment (confide/settings.py, CONFIDE_BASE_URL)."""
    base = settings.CONFIDE_BASE_URL
    if not base:
        return [
            Error(
                "CONFIDE_BASE_URL is not set: links in e-mails (password resets, break-the-glass alerts, notices) would have no address",
                hint="Set CONFIDE_BASE_URL to the address staff and patients reach this site at, e.g. https://confide.example.org",
                id="confide.E002",
            )
        ]
    if settings.HTTPS and not base.startswith("https://"):
        return [
            Warning(
                f"CONFIDE_BASE_URL ({base}) is not an https:// address although the site requires HTTPS",
                hint="Use the https:// address of the site.",
                id="confide.W002",
            )
        ]
    return []
