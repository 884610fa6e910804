"""Patient identity in the portal: which records a signed-in portal account may act on, and the
one record it acts on now. Decided once per request (`PortalContext`, set by the practice
middleware as `request.portal`) and read by the portal's views and templates.

A portal account holds one or more `PortalLink`s: its own record and, for a parent or guardian,
the records of the minors it represents (one login, a switcher). The current record is kept in
the session by link id; a link ended since (a guardian at the child's 18th birthday, a
deactivation) simply disappears from the list, and the request falls back to the first link
still open — or to none, and the portal says there is nothing to show."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.http import HttpRequest

from confide.accounts.models import LinkKind, PortalLink, User
from confide.core.actors import PatientActor
from confide.core.errors import NotFound
from confide.core.tenancy import tenant_context

SESSION_PORTAL_LINK = "confide_portal_link"
# The ids of the account's open links as the last request saw them, and the links ended since at
# the patient's 18th birthday whose one-time notice the portal has yet to show
# (confide/portal/middleware.py): ids only, never a name.
SESSION_PORTAL_KNOWN = "confide_portal_known_links"
SESSION_PORTAL_ENDED = "confide_portal_ended_links"
AGE_OF_MAJORITY = "age_of_majority"  # PortalLink.ended_reason of a link ended at 18 (records/majority.py)


def list_active_links(user: User) -> list[PortalLink]:
    """The account's open links across practices, its own record first (row security admits an
    account's own links by user id, as it admits a member's own memberships)."""
    with tenant_context(practice_id=None, user_id=user.pk):
        links = list(PortalLink.across_practices.filter(user=user, is_active=True).select_related("practice"))
    return sorted(links, key=lambda link: (link.kind != LinkKind.SELF, link.created_at))


@dataclass
class PortalContext:
    user: User
    links: list[PortalLink] = field(default_factory=list)
    current: PortalLink | None = None

    @property
    def practice(self):
        return self.current.practice if self.current else None

    @property
    def practice_id(self) -> uuid.UUID | None:
        return self.current.practice_id if self.current else None

    @property
    def acting_for_someone_else(self) -> bool:
        return bool(self.current and self.current.is_representative)

    @property
    def actor(self) -> PatientActor | None:
        """Who acts, for the services and the chart door; None when no record is open to the account."""
        link = self.current
        if link is None:
            return None
        return PatientActor(
            practice_id=link.practice_id,
            patient_id=link.patient_id,
            user_id=self.user.pk,
            link_id=link.id,
            representative=link.is_representative,
        )


def _note_ended_links(request: HttpRequest, user: User, links: list[PortalLink]) -> None:
    """Links this session saw open that have since ended at the patient's 18th birthday: queued
    for the portal's one-time notice. One small query, only on the request after a link vanished."""
    open_ids = sorted(str(link.id) for link in links)
    known = request.session.get(SESSION_PORTAL_KNOWN)
    if known == open_ids:
        return
    vanished = sorted(set(known or ()) - set(open_ids))
    if vanished:
        with tenant_context(practice_id=None, user_id=user.pk):
            ended = [
                str(pk) for pk in PortalLink.across_practices.filter(
                    id__in=vanished, user=user, is_active=False, ended_reason=AGE_OF_MAJORITY
                ).values_list("id", flat=True)
            ]  # fmt: skip
        if ended:
            request.session[SESSION_PORTAL_ENDED] = sorted(set(request.session.get(SESSION_PORTAL_ENDED, [])) | set(ended))
    request.session[SESSION_PORTAL_KNOWN] = open_ids


def portal_context(request: HttpRequest, user: User) -> PortalContext:
    links = list_active_links(user)
    _note_ended_links(request, user, links)
    wanted = request.session.get(SESSION_PORTAL_LINK)
    current = next((link for link in links if str(link.id) == wanted), None)
    if current is None and links:
        current = links[0]
        request.session[SESSION_PORTAL_LINK] = str(current.id)
    return PortalContext(user=user, links=links, current=current)


def do_switch_record(request: HttpRequest, link_id: str) -> PortalLink:
    """Act on another of the account's records (own, or a child's): only a link it holds."""
    link = next((link for link in request.portal.links if str(link.id) == str(link_id)), None)
    if link is None:
        raise NotFound("record")
    request.session[SESSION_PORTAL_LINK] = str(link.id)
    return link
