"""Answering a request for an accounting of disclosures (DSC1; §164.528, rules-and-deadlines §1.3).

    fee_due(practice_id=…, patient_id=…, now=…)  ->  int (cents)
    do_prepare_accounting(actor=StaffActor, request_id=…, expected_version=…)  ->  Letter

The accounting is the patient's copy (six years, excluded bases left out, repeats aggregated:
confide/disclosures/report.py), read through the disclosure job's audited opening; it is kept
with the request as its answer (a Letter of kind fulfilment whose sealed body is the accounting,
D9: the written accounting given is kept), and the request is closed (status done) by a
conditional update on its version, in the same transaction: two officers pressing the button at
once produce one answer. D8: the first accounting in any 12 months is free; a later one carries
the practice's fee (CONFIDE_ACCOUNTING_FEE_CENTS, 0 by default), stated in the answer and kept
on the request.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.tenancy import tenant_context
from confide.rights.letters import keep_letter
from confide.rights.models import Letter, LetterKind, LetterStatus, RequestKind, RequestStatus, RightsRequest
from confide.rights.services import transition

TEMPLATE = "rights/letters/accounting.txt"
FREE_EVERY = datetime.timedelta(days=365)
PREPARABLE = (RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS)


def practice_fee_cents() -> int:
    return int(getattr(settings, "CONFIDE_ACCOUNTING_FEE_CENTS", 0) or 0)


def fee_due(*, practice_id, patient_id, now: datetime.datetime | None = None) -> int:
    """D8: 0 for the first accounting answered in the last 12 months, else the practice's fee."""
    now = now or timezone.now()
    with tenant_context(practice_id=practice_id):
        earlier = RightsRequest.objects.filter(
            patient_id=patient_id, kind=RequestKind.ACCOUNTING, status=RequestStatus.DONE, decided_at__gte=now - FREE_EVERY
        ).exists()
    return practice_fee_cents() if earlier else 0


def do_prepare_accounting(*, actor, request_id, expected_version: int, request=None) -> Letter:
    """Generate the accounting, keep it with the request and close the request."""
    from confide.disclosures.report import accounting_for_patient

    if not isinstance(actor, StaffActor) or not actor.has(Perm.RIGHTS_QUEUE_VIEW):
        raise Forbidden(Perm.RIGHTS_QUEUE_VIEW)
    with tenant_context(practice_id=actor.practice_id):
        row = RightsRequest.objects.filter(pk=request_id).first()
    if row is None:
        raise NotFound("rights request")
    if row.kind != RequestKind.ACCOUNTING:
        raise InvalidInput("This request is not for an accounting of disclosures.")
    if row.patient_id is None:
        raise InvalidInput("Confirm who is asking before preparing the accounting.")
    if row.status not in PREPARABLE:
        raise InvalidInput("This request is already answered.")
    now = timezone.now()
    fee = fee_due(practice_id=actor.practice_id, patient_id=row.patient_id, now=now)
    with transaction.atomic():
        closed = transition(
            practice_id=actor.practice_id, request_id=row.pk, expected_version=expected_version, allowed_from=PREPARABLE,
            status=RequestStatus.DONE, decided_at=now, decided_by_id=actor.user_id, fee_cents=fee,
        )  # fmt: skip
        accounting = accounting_for_patient(practice_id=actor.practice_id, patient_id=row.patient_id, request=request)
        return keep_letter(
            practice_id=actor.practice_id, request_row=closed, kind=LetterKind.FULFILMENT, template=TEMPLATE,
            context={"accounting": accounting, "fee_cents": fee, "fee": f"{fee / 100:.2f}", "answered_on": timezone.localdate(now)},
            status=LetterStatus.TO_PRINT, channel="post", stored_context_keys=("fee_cents", "answered_on"), request=request,
        )  # fmt: skip
