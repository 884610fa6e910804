"""The portal's one-time notice when a parent's or guardian's access ended at the patient's 18th
birthday (MIN3; records/majority.py): on the next request after the link ended, "Your access to
Kit's record ended because they turned 18", once, through Django's messages (so it survives a
redirect). The chart door already refuses the ended link on every opening, and the portal falls
back to the account's other records (accounts/portal.py); this only says why.

The first name is the one the guardian saw until then, read through the door as the registered
system job `portal-ended-notice-job` (identifiers.name, purpose operations: one audited opening
per notice); nothing else of the record is read or shown."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import HttpRequest

from confide.access.door import PORTAL_ENDED_NOTICE_JOB, open_chart
from confide.access.errors import AccessRefused
from confide.accounts.models import PortalLink
from confide.accounts.portal import SESSION_PORTAL_ENDED
from confide.core.errors import NotFound
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context

logger = logging.getLogger(__name__)


def ended_access_message(first_name: str) -> str:
    if not first_name:
        return "Your access to a record you looked after ended because the person turned 18."
    return f"Your access to {first_name}'s record ended because they turned 18."


def _first_name(link: PortalLink) -> str:
    actor = PORTAL_ENDED_NOTICE_JOB.for_practice(link.practice_id)
    with tenant_context(practice_id=link.practice_id, user_id=link.user_id):
        try:
            with open_chart(actor, link.patient_id, Purpose.OPERATIONS, categories=PORTAL_ENDED_NOTICE_JOB.categories) as chart:
                return str(chart.patient.preferred_name or chart.patient.given_name or "").split(" ")[0]
        except (NotFound, AccessRefused):
            return ""


def show_ended_access_notices(request: HttpRequest) -> None:
    pending = request.session.pop(SESSION_PORTAL_ENDED, None)
    if not pending:
        return
    with tenant_context(practice_id=None, user_id=request.user.pk):
        links = list(PortalLink.across_practices.filter(id__in=pending, user_id=request.user.pk, is_active=False))
    for link in links:
        try:
            name = _first_name(link)
        except Exception as exc:  # the notice is a courtesy: it never breaks the page
            # The kind of error only: a traceback's values could carry what the log must not.
            logger.warning("ended-access notice without a name (%s)", type(exc).__name__)
            name = ""
        messages.warning(request, ended_access_message(name))


class EndedAccessNoticeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if getattr(request, "portal", None) is not None and request.session.get(SESSION_PORTAL_ENDED):
            show_ended_access_notices(request)
        return self.get_response(request)
