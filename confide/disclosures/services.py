"""Recording disclosures and reading a patient's accounting (DSC1).

    record_disclosure(practice_id=…, patient_id=…, basis=…, source=…, recipient=…,
                      description=…, purpose=…, categories=…, …)   ->  Disclosure
    accounting_entries(practice_id=…, patient_id=…, since=…)      ->  list[AccountingEntry]

`record_disclosure` is called by the code that discloses, in the same transaction as the
disclosure where it has one (a records release link created, a compelled package produced), so
no disclosure leaves without its entry (ARCHITECTURE rule 8: disclosure logs typed by hand get
skipped). It opens the chart as the `disclosure-job` system job, which may touch nothing but
`operations.disclosures`, and writes one `disclosures:disclosure:recorded` audit entry (ids,
basis and source; never the recipient). A source id records a source once (a unique constraint):
recording the same release twice returns the first entry.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from confide.access import policy
from confide.access.door import DISCLOSURE_JOB, open_chart
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.disclosures.signals import disclosure_recorded
from confide.disclosures.models import COMPELLED_BASES, EXCLUDED_FROM_ACCOUNTING, Basis, Disclosure, Source

RECIPIENT_MAX = 300
TEXT_MAX = 2000


def _text(value, label: str, limit: int, *, required: bool = True, multiline: bool = True) -> str:
    from confide.core.text import multi_line, single_line

    text = (value if isinstance(value, str) else "").strip()
    if required and not text:
        raise InvalidInput(f"{label} is required.")
    if len(text) > limit:
        raise InvalidInput(f"{label}: at most {limit} characters.")
    try:
        (multi_line if multiline else single_line)(text)
    except ValidationError as exc:
        raise InvalidInput(f"{label}: {' '.join(exc.messages)}") from None
    return text


def record_disclosure(
    *, practice_id, patient_id, basis, source, recipient: str, description: str, purpose: str,
    categories=(), disclosed_at: datetime.datetime | None = None, recipient_address: str = "",
    notice_forbidden: bool = False, notice_forbidden_until: datetime.date | None = None,
    source_id: uuid.UUID | None = None, recorded_by_id=None, request=None,
) -> Disclosure:  # fmt: skip
    """Validate, then record one disclosure (idempotent per `source_id`)."""
    try:
        checked_basis, checked_source = Basis(basis), Source(source)
    except ValueError:
        raise InvalidInput("Choose the basis of the disclosure from the list.") from None
    fields = dict(
        recipient=_text(recipient, "Recipient", RECIPIENT_MAX, multiline=False),
        recipient_address=_text(recipient_address, "Recipient's address", TEXT_MAX, required=False) or None,
        description=_text(description, "What was disclosed", TEXT_MAX),
        purpose=_text(purpose, "Purpose", TEXT_MAX),
    )
    unknown = set(categories) - policy.KNOWN_CATEGORIES
    if unknown:
        raise InvalidInput("Unknown categories of information: " + ", ".join(sorted(unknown)))
    when = disclosed_at or timezone.now()
    if when > timezone.now() + datetime.timedelta(minutes=5):
        raise InvalidInput("A disclosure cannot be dated in the future.")
    compelled = checked_basis in COMPELLED_BASES
    if source_id is not None:
        with tenant_context(practice_id=practice_id):
            existing = Disclosure.objects.filter(source=checked_source, source_id=source_id).first()
        if existing is not None:
            return existing
    job = DISCLOSURE_JOB.for_practice(practice_id)
    purpose_of_opening = Purpose.LEGAL if compelled else Purpose.PATIENT_REQUEST
    try:
        with open_chart(job, patient_id, purpose_of_opening, categories={policy.DISCLOSURES}, request=request, for_update=True) as chart:
            with transaction.atomic():
                made = Disclosure.objects.create(
                    practice_id=practice_id, patient_id=chart.patient.pk, disclosed_at=when, basis=checked_basis,
                    source=checked_source, compelled=compelled, notice_forbidden=bool(notice_forbidden and compelled),
                    notice_forbidden_until=notice_forbidden_until if compelled else None, recorded_by_id=recorded_by_id,
                    categories=sorted(set(categories)), source_id=source_id, **fields,
                )  # fmt: skip
            record(
                AuditEvent.DISCLOSURE_RECORDED, practice_id=practice_id, actor=system_actor(job.name), purpose=purpose_of_opening.value,
                subject_id=chart.patient.pk, resource_ids=[made.pk], categories=[policy.DISCLOSURES],
                detail={"basis": checked_basis.value, "source": checked_source.value, "compelled": compelled}, request=request,
            )  # fmt: skip
            # The notice of a compelled disclosure (DSC2) joins this transaction (signals.py).
            disclosure_recorded.send(sender=Disclosure, disclosure=made, request=request)
    except IntegrityError:  # the same source recorded concurrently: the first one stands
        with tenant_context(practice_id=practice_id):
            return Disclosure.objects.get(source=checked_source, source_id=source_id)
    return made


@dataclass(frozen=True)
class AccountingEntry:
    id: uuid.UUID
    disclosed_at: datetime.datetime
    recipient: str
    recipient_address: str
    description: str
    purpose: str
    basis: str
    basis_label: str
    compelled: bool


def accounting_entries(*, practice_id, patient_id, since: datetime.datetime | None = None, request=None, include_excluded: bool = False) -> list[AccountingEntry]:
    """The patient's disclosures since `since` (default: six years back, §164.528(a)(1)), oldest
    first, read through the disclosure job's opening (audited). Disclosures the accounting
    excludes (under the patient's authorization) are left out unless `include_excluded`."""
    since = since or timezone.now() - datetime.timedelta(days=6 * 365 + 2)
    job = DISCLOSURE_JOB.for_practice(practice_id)
    with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories={policy.DISCLOSURES}, request=request):
        rows = Disclosure.objects.filter(patient_id=patient_id, disclosed_at__gte=since).order_by("disclosed_at", "id")
        if not include_excluded:
            rows = rows.exclude(basis__in=[b.value for b in EXCLUDED_FROM_ACCOUNTING])
        return [
            AccountingEntry(
                id=row.pk, disclosed_at=row.disclosed_at, recipient=row.recipient, recipient_address=row.recipient_address or "",
                description=row.description, purpose=row.purpose, basis=row.basis, basis_label=Basis(row.basis).label,
                compelled=row.compelled,
            )  # fmt: skip
            for row in rows
        ]
