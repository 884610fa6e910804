"""Portal access to one record, as staff manage it from the chart (ACC5; HIPAA §164.502(g)).

    get_portal_access(actor, patient_id)     who holds access (the patient, parents or guardians), pending invitations
    do_invite_patient(actor, patient_id, email)
    do_invite_representative(actor, patient_id, email, relationship, basis, verified)
    do_end_access(actor, patient_id, link_id)
    do_withdraw_invitation(actor, patient_id, invitation_id)

Roles with the registration-write permission manage it (the people who register patients and
keep their contact details). The record is read through the chart door, for the role's chart
purpose, with only what this needs: the name, the date of birth (is the patient a minor?) and
the e-mail address the invitation is prefilled with. Identity and invitations live in accounts
(portal_invitations.py, portal_accounts.py); this module decides who may, and for which record.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from confide.access import policy
from confide.access.door import PORTAL_INVITE_JOB, open_chart
from confide.accounts import portal_accounts
from confide.accounts import portal_invitations as invites
from confide.accounts.models import LinkKind, PortalInvitation, PortalLink
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.models import Practice
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.records.chart import CHART_PURPOSE, HEADER, Header, _header

CATEGORIES = HEADER | {policy.EMAIL}
BASIS_CHOICES = invites.BASIS_CHOICES


@dataclass(frozen=True)
class Holder:
    link_id: uuid.UUID
    name: str  # the portal account's own display name
    kind: str
    relationship: str
    since: datetime.datetime

    @property
    def is_representative(self) -> bool:
        return self.kind == LinkKind.REPRESENTATIVE

    # As a link for records/_portal_link_document.html (a holder's link is open by definition).
    @property
    def id(self) -> uuid.UUID:
        return self.link_id

    is_active = True


@dataclass(frozen=True)
class Pending:
    id: uuid.UUID
    email: str
    kind: str
    relationship: str
    expires_at: datetime.datetime

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_representative(self) -> bool:
        return self.kind == LinkKind.REPRESENTATIVE


@dataclass(frozen=True)
class PortalAccess:
    header: Header
    email: str  # the chart's e-mail address: what "Invite to the portal" is prefilled with
    holders: list[Holder]
    pending: list[Pending]

    @property
    def has_own_access(self) -> bool:
        return any(not h.is_representative for h in self.holders)

    @property
    def may_invite_representative(self) -> bool:
        return self.header.is_minor


def _authorize(actor: StaffActor) -> None:
    if not actor.has(Perm.REGISTRATION_WRITE):
        raise Forbidden(Perm.REGISTRATION_WRITE)


def _open(actor: StaffActor, patient_id, request) -> tuple[Header, str]:
    with open_chart(actor, patient_id, CHART_PURPOSE[actor.role], categories=CATEGORIES, request=request) as chart:
        return _header(chart.patient), str(chart.patient.email or "")


def get_portal_access(actor: StaffActor, patient_id, *, request=None) -> PortalAccess:
    _authorize(actor)
    header, email = _open(actor, patient_id, request)
    links = PortalLink.objects.filter(patient_id=header.id, is_active=True).select_related("user").order_by("created_at")
    holders = [
        Holder(link_id=link.id, name=link.user.display_name, kind=link.kind, relationship=link.relationship, since=link.created_at)
        for link in links
    ]
    open_invitations = PortalInvitation.objects.filter(patient_id=header.id, used_at=None, revoked_at=None).order_by("-created_at")
    pending = [Pending(id=i.id, email=i.email, kind=i.kind, relationship=i.relationship, expires_at=i.expires_at) for i in open_invitations]
    return PortalAccess(header=header, email=email, holders=holders, pending=pending)


def do_invite_patient(*, actor: StaffActor, patient_id, email: str, request=None) -> PortalInvitation:
    """Invite the patient to their own portal account (the e-mail goes out after commit)."""
    _authorize(actor)
    with transaction.atomic():
        header, _ = _open(actor, patient_id, request)
        if PortalLink.objects.filter(patient_id=header.id, kind=LinkKind.SELF, is_active=True).exists():
            raise InvalidInput("This patient already has their own portal account. End that access first to invite another address.")
        invitation, _link = invites.issue_portal_invitation(
            practice_id=actor.practice_id, patient_id=header.id, email=email, kind=LinkKind.SELF,
            invited_by_id=actor.user_id, request=request,
        )  # fmt: skip
    return invitation


def do_invite_representative(
    *, actor: StaffActor, patient_id, email: str, relationship: str, basis: str, verified: bool, request=None
) -> PortalInvitation:
    """Invite a parent or guardian of a minor: the staff member confirms they verified the
    person's authority (recorded as `verified_by`, with the relationship and its basis). A
    patient who is not a minor by the date of birth on file is refused: adults hold their own."""
    _authorize(actor)
    if not verified:
        raise InvalidInput("Confirm that you checked this person is the patient's parent or guardian.")
    if basis not in invites.BASIS_LABELS:
        raise InvalidInput("Choose how you checked the parent's or guardian's authority.")
    with transaction.atomic():
        header, _ = _open(actor, patient_id, request)
        if header.date_of_birth is None:
            raise InvalidInput("There is no date of birth on file, so we cannot tell whether the patient is a minor. Add it first.")
        if not header.is_minor:
            raise InvalidInput(
                "This patient is an adult. A parent or guardian link is only for a patient under 18. "
                "Invite the patient to their own portal account instead."
            )
        invitation, _link = invites.issue_portal_invitation(
            practice_id=actor.practice_id, patient_id=header.id, email=email, kind=LinkKind.REPRESENTATIVE,
            relationship=relationship, verified_by_id=actor.user_id, invited_by_id=actor.user_id, request=request, basis=basis,
        )  # fmt: skip
    return invitation


def _uuid(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("portal access") from None


def do_end_access(*, actor: StaffActor, patient_id, link_id, request=None) -> PortalLink:
    """End one person's portal access to this record (audited; the holder is told by e-mail)."""
    _authorize(actor)
    link_id = _uuid(link_id)
    with transaction.atomic():
        header, _ = _open(actor, patient_id, request)
        return portal_accounts.do_end_portal_link(
            practice_id=actor.practice_id, patient_id=header.id, link_id=link_id, ended_by=actor, request=request
        )


def do_withdraw_invitation(*, actor: StaffActor, patient_id, invitation_id, request=None) -> PortalInvitation:
    _authorize(actor)
    invitation_id = _uuid(invitation_id)
    with transaction.atomic():
        header, _ = _open(actor, patient_id, request)
        return invites.do_revoke_portal_invitation(
            practice_id=actor.practice_id, invitation_id=invitation_id, revoked_by_id=actor.user_id, patient_id=header.id, request=request
        )


# --- the operator's invitation (`confide portal invite`) -------------------------------------------
def practice_of_patient(patient_id) -> Practice | None:
    """The practice whose register holds `patient_id` (an operator names only the record)."""
    from confide.records.models import Patient

    for practice in Practice.objects.order_by("slug"):
        with tenant_context(practice_id=practice.id):
            if Patient.objects.filter(pk=patient_id).exists():
                return practice
    return None


def do_operator_invite(*, patient_id, email: str | None = None) -> str:
    """Invite a patient to their own portal account for an operator (the demo, support): the
    address given, or the chart's (read by the portal-invite job, e-mail only). The e-mail is
    sent as from the practice; the link it carries is returned. Audited as the system."""
    patient_id = _uuid(patient_id)
    practice = practice_of_patient(patient_id)
    if practice is None:
        raise NotFound("patient")
    with transaction.atomic(), tenant_context(practice_id=practice.id):
        if not email:
            with open_chart(PORTAL_INVITE_JOB.for_practice(practice.id), patient_id, Purpose.OPERATIONS, categories={policy.EMAIL}) as chart:
                email = str(chart.patient.email or "")
            if not email:
                raise InvalidInput("The chart has no e-mail address: give one with --email.")
        if PortalLink.objects.filter(patient_id=patient_id, kind=LinkKind.SELF, is_active=True).exists():
            raise InvalidInput("This patient already has their own portal account.")
        _invitation, link = invites.issue_portal_invitation(practice_id=practice.id, patient_id=patient_id, email=email)
    return link
