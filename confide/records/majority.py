"""The 18th birthday (HIPAA §164.502(g); MIN3): a parent's or guardian's portal access to a
record ends when its patient comes of age, and the adult is invited to an account of their own.

`end_representation_at_majority()` runs daily (confide/records/tasks.py, and `confide portal
age-check` for cron and the demo). For each practice it lists, through the chart door as the
registered system job `age-of-majority-job` (date of birth and e-mail, purpose operations: one
`records:patients:listed` entry per practice and run), the patients with an open representative
link, and for each one whose 18th birthday has come, in one transaction per patient:

* every open representative link to the record is ended (`ended_reason` "age_of_majority"),
  the links locked first (accounts/locks.py) so that two runs at once end each link once and
  only the run that ended them goes on;
* one `accounts:portal-link:ended` audit entry (the patient as subject, the links as resources,
  ids and counts only);
* each guardian is e-mailed after commit that the access ended because the person turned 18
  (no name, nothing clinical);
* the adult is invited to their own account at the e-mail on the chart
  (`confide.accounts.portal_invitations.issue_portal_invitation`), unless they already hold one;
  without an e-mail, the practice's owners are e-mailed to invite them in person (the chart's
  address in the practice, no name).

Run twice, the second run finds no open link and does nothing.

**When the 18th birthday has come** (`has_come_of_age`): on the day of the month and month of
birth, 18 years later, in the practice's calendar (`django.utils.timezone.localdate`, the
installation's time zone: UTC by default). Someone born on 29 February comes of age on
1 March in a year that is not a leap year (the day after 28 February: they are not 18 until
the 29 February that does not exist has passed), and on 29 February in a leap year.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from confide.access.door import AGE_OF_MAJORITY_JOB, open_patient_list
from confide.accounts import locks as account_locks
from confide.accounts.models import LinkKind, Membership, PortalLink
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput
from confide.core.models import Practice
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context

logger = logging.getLogger(__name__)

MAJORITY = 18
ENDED_REASON = "age_of_majority"


def age_on(born: datetime.date, day: datetime.date) -> int:
    """Completed years on `day`. A 29 February birthday counts as passed only from 1 March in
    a year without one (the tuple comparison (2, 28) < (2, 29))."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def has_come_of_age(born: datetime.date | None, today: datetime.date | None = None) -> bool:
    """Whether the 18th birthday has come (see the module docstring for 29 February). No date of
    birth: never by itself (the practice ends such a link by hand)."""
    if born is None:
        return False
    return age_on(born, today or timezone.localdate()) >= MAJORITY


@dataclass
class MajorityRun:
    """What a run did, in counts and ids (never names): for the command's output and the tests."""

    checked: int = 0
    came_of_age: list[uuid.UUID] = field(default_factory=list)
    links_ended: int = 0
    invited: int = 0
    practice_told: int = 0
    failed: int = 0  # patients left for the next run after an unexpected error (logged, ids only)


def end_representation_at_majority(today: datetime.date | None = None, *, practice_ids=None) -> MajorityRun:
    """One run over every practice, or those of `practice_ids` (idempotent; safe beside another run)."""
    today = today or timezone.localdate()
    run = MajorityRun()
    practices = Practice.objects.all() if practice_ids is None else Practice.objects.filter(pk__in=list(practice_ids))
    for practice_id in practices.order_by("pk").values_list("id", flat=True):
        _practice(practice_id, today, run)
    return run


def _practice(practice_id: uuid.UUID, today: datetime.date, run: MajorityRun) -> None:
    with tenant_context(practice_id=practice_id):
        patient_ids = list(
            PortalLink.objects.filter(kind=LinkKind.REPRESENTATIVE, is_active=True).values_list("patient_id", flat=True).distinct()
        )
    if not patient_ids:
        return  # no representative: no opening, no entry
    actor = AGE_OF_MAJORITY_JOB.for_practice(practice_id)
    with open_patient_list(actor, Purpose.OPERATIONS, patient_ids, categories=AGE_OF_MAJORITY_JOB.categories) as patients:
        due = [(p.pk, p.email or "") for p in patients if has_come_of_age(p.date_of_birth, today)]
    run.checked += len(patient_ids)
    for patient_id, email in due:
        try:
            with tenant_context(practice_id=practice_id):
                _end_for_patient(practice_id, patient_id, email, run)
        except Exception:  # one patient's failure (rolled back whole) never stops the others'
            run.failed += 1
            logger.error("age-of-majority check failed for one patient; retried on the next run", exc_info=True,
                         extra={"object_id": str(patient_id)})  # fmt: skip


def _end_for_patient(practice_id: uuid.UUID, patient_id: uuid.UUID, email: str, run: MajorityRun) -> None:
    from confide.accounts import portal_invitations

    now = timezone.now()
    with transaction.atomic():
        links = account_locks.lock_active_representative_links(patient_id)
        ended = [
            link for link in links
            if PortalLink.objects.filter(pk=link.pk, is_active=True)
            .update(is_active=False, ended_at=now, ended_reason=ENDED_REASON, updated_at=now)
        ]  # fmt: skip
        if not ended:
            return  # another run ended them first
        has_own_account = PortalLink.objects.filter(patient_id=patient_id, kind=LinkKind.SELF, is_active=True).exists()
        invited = told_practice = False
        if not has_own_account and email:
            try:
                with transaction.atomic():  # a savepoint: a refused invitation leaves the rest standing
                    portal_invitations.issue_portal_invitation(
                        practice_id=practice_id, patient_id=patient_id, email=email, kind=LinkKind.SELF, invited_by_id=None
                    )
                invited = True
            except InvalidInput:  # an address the invitation refuses: the practice invites them in person
                told_practice = True
        elif not has_own_account:
            told_practice = True
        record(
            AuditEvent.PORTAL_LINK_ENDED, practice_id=practice_id, actor=system_actor(AGE_OF_MAJORITY_JOB.name),
            purpose=Purpose.OPERATIONS.value, subject_id=patient_id, resource_ids=[link.pk for link in ended],
            reason=ENDED_REASON,
            detail={"links": len(ended), "guardians_told": len(ended), "adult_invited": invited, "practice_told": told_practice},
        )  # fmt: skip
        practice_name = Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or "your practice"
        guardian_emails = [link.user.email for link in ended]
        owners = _owner_emails() if told_practice else []
        transaction.on_commit(lambda: _tell_guardians(guardian_emails, practice_name))
        if told_practice:
            transaction.on_commit(lambda: _tell_practice(owners, practice_id, patient_id))
    run.came_of_age.append(patient_id)
    run.links_ended += len(ended)
    run.invited += int(invited)
    run.practice_told += int(told_practice)


def guardian_message(practice_name: str) -> str:
    """The guardian's e-mail: that the access ended and why; no name, nothing clinical."""
    return (
        f"Hello,\n\nYour portal access to a record you looked after at {practice_name} has ended, because the person "
        "it belongs to turned 18. From now on they decide who sees their record.\n\n"
        "Your own record, if you have one, is not affected. If the person wants you to keep helping, they can tell "
        "the practice.\n"
    )


def _tell_guardians(emails: list[str], practice_name: str) -> None:
    for address in emails:  # one message each: guardians never see each other's address
        send_mail(subject="Your portal access has changed", message=guardian_message(practice_name), from_email=None,
                  recipient_list=[address])  # fmt: skip


def _owner_emails() -> list[str]:
    return sorted(
        Membership.objects.filter(role=Role.OWNER, is_active=True, user__is_active=True).values_list("user__email", flat=True)
    )


def _tell_practice(owners: list[str], practice_id, patient_id) -> None:
    if not owners:
        logger.warning("a patient came of age without an e-mail and the practice has no owner to tell")
        return
    chart = f"{settings.CONFIDE_BASE_URL}{reverse('records:chart', args=[patient_id])}"
    send_mail(
        subject="Confide: invite a patient to the portal in person",
        message=(
            "A patient turned 18, so their parent's or guardian's portal access ended today. We could not invite them "
            "to their own portal account: their chart has no e-mail address. Please invite them in person.\n\n"
            f"Their chart: {chart}\n"
        ),
        from_email=None,
        recipient_list=owners,
    )
