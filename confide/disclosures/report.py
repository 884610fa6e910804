"""The accounting of disclosures a patient receives (DSC1, HIPAA §164.528; rules-and-deadlines
§1.3 D1–D9), as a page, a PDF and JSON.

    accounting = build_accounting(rows, since=…, until=…, include_excluded=…)   (pure)
    accounting = read_accounting(patient_id, since=…, until=…, include_excluded=…)
                 # inside an open chart (or a disclosure-job opening) granting operations.disclosures
    accounting_for_patient(practice_id=…, patient_id=…, …)   opens the disclosure job itself
    render_html(accounting, practice_name=…) / render_pdf(…) / as_json(accounting)

D1: six years before the request, or the shorter period the patient names (an earlier start is
cut to six years). D2: disclosures on an excluded basis (under the patient's authorization) are
left out of the patient's copy; the privacy officer's view (`include_excluded`) shows them,
marked. D4: each entry has the date, the recipient and their address if known, what was
disclosed and the purpose or basis. D5: several disclosures to the same recipient for the same
purpose appear once: the first in full, then how many there were and the date of the last.
Nothing here writes or audits: the opening that reads the rows is the audited step.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import timezone

from confide.disclosures.models import EXCLUDED_FROM_ACCOUNTING, Basis, Disclosure

# §164.528(a)(1): six years before the request (two days' slack for leap years).
SIX_YEARS = datetime.timedelta(days=6 * 365 + 2)
# A patient's accounting is short; this caps what one report reads (newest six years anyway).
MAX_ROWS = 5000


@dataclass(frozen=True)
class Entry:
    """One line of the accounting: the first disclosure of its group in full (D4), and for a
    group of several to the same recipient for the same purpose (D5) the count and last date."""

    id: uuid.UUID
    disclosed_at: datetime.datetime
    recipient: str
    recipient_address: str
    description: str
    purpose: str
    basis: str
    basis_label: str
    compelled: bool
    excluded: bool  # on an excluded basis: shown to the privacy officer only
    count: int = 1
    last_at: datetime.datetime | None = None


@dataclass(frozen=True)
class Accounting:
    entries: list[Entry]
    since: datetime.datetime
    until: datetime.datetime
    made_at: datetime.datetime
    include_excluded: bool
    disclosures: int  # how many disclosures the entries stand for

    @property
    def is_empty(self) -> bool:
        return not self.entries


def period(since: datetime.date | datetime.datetime | None, until: datetime.date | datetime.datetime | None, *, now=None):
    """The report's period as aware datetimes: at most six years back from now (D1)."""
    now = now or timezone.now()
    earliest = now - SIX_YEARS

    def aware(value, end: bool):
        if value is None:
            return None
        if not isinstance(value, datetime.datetime):
            value = datetime.datetime.combine(value, datetime.time.max if end else datetime.time.min)
        return timezone.make_aware(value) if timezone.is_naive(value) else value

    start = aware(since, False)
    end = aware(until, True)
    start = earliest if start is None or start < earliest else start
    end = now if end is None or end > now else end
    return start, end


def _key(row) -> tuple[str, str]:
    """Same recipient, same purpose (D5): compared without case or spacing differences."""
    return (" ".join(str(row.recipient).split()).casefold(), " ".join(str(row.purpose).split()).casefold())


def build_accounting(rows, *, since: datetime.datetime, until: datetime.datetime, include_excluded: bool, now=None) -> Accounting:
    """Group decrypted disclosure rows (oldest first) into the accounting's entries."""
    groups: dict[tuple[str, str], list] = {}
    order: list[tuple[str, str]] = []
    for row in rows:
        excluded = row.basis in EXCLUDED_FROM_ACCOUNTING
        if excluded and not include_excluded:
            continue
        key = (*_key(row), "excluded" if excluded else "")
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(row)
    entries = []
    for key in order:
        first, *rest = groups[key]
        entries.append(
            Entry(
                id=first.pk, disclosed_at=first.disclosed_at, recipient=str(first.recipient),
                recipient_address=str(first.recipient_address or ""), description=str(first.description), purpose=str(first.purpose),
                basis=first.basis, basis_label=Basis(first.basis).label, compelled=first.compelled,
                excluded=first.basis in EXCLUDED_FROM_ACCOUNTING, count=1 + len(rest), last_at=rest[-1].disclosed_at if rest else None,
            )  # fmt: skip
        )
    return Accounting(
        entries=entries, since=since, until=until, made_at=now or timezone.now(), include_excluded=include_excluded,
        disclosures=sum(e.count for e in entries),
    )  # fmt: skip


def read_accounting(patient_id, *, since=None, until=None, include_excluded: bool = False, now=None) -> Accounting:
    """Inside an open chart granting operations.disclosures (the caller's opening is the audit)."""
    start, end = period(since, until, now=now)
    rows = (
        Disclosure.objects.filter(patient_id=patient_id, disclosed_at__gte=start, disclosed_at__lte=end)
        .order_by("disclosed_at", "id")[:MAX_ROWS]
    )  # fmt: skip
    return build_accounting(list(rows), since=start, until=end, include_excluded=include_excluded, now=now)


def accounting_for_patient(*, practice_id, patient_id, since=None, until=None, include_excluded: bool = False, request=None) -> Accounting:
    """The patient's accounting read through the `disclosure-job` opening (audited): for callers
    that act for the patient (a rights request's answer, the portal after its own opening)."""
    from confide.access import policy
    from confide.access.door import DISCLOSURE_JOB, open_chart
    from confide.core.purposes import Purpose

    job = DISCLOSURE_JOB.for_practice(practice_id)
    with open_chart(job, patient_id, Purpose.PATIENT_REQUEST, categories={policy.DISCLOSURES}, request=request) as chart:
        return read_accounting(chart.patient.pk, since=since, until=until, include_excluded=include_excluded)


# --- the documents ------------------------------------------------------------------------------
def _context(accounting: Accounting, practice_name: str, patient_name: str) -> dict:
    return {"accounting": accounting, "practice_name": practice_name, "patient_name": patient_name}


def render_html(accounting: Accounting, *, practice_name: str, patient_name: str = "") -> str:
    """The printable document (also the PDF's source): styles in the template, nothing fetched."""
    return render_to_string("disclosures/accounting_document.html", _context(accounting, practice_name, patient_name))


def render_pdf(accounting: Accounting, *, practice_name: str, patient_name: str = "") -> bytes:
    from weasyprint import HTML

    return HTML(string=render_html(accounting, practice_name=practice_name, patient_name=patient_name), base_url=None).write_pdf()


def as_dict(accounting: Accounting) -> dict:
    return {
        "period": {"from": accounting.since.isoformat(), "to": accounting.until.isoformat()},
        "made_at": accounting.made_at.isoformat(),
        "disclosures": accounting.disclosures,
        "entries": [
            {
                "date": e.disclosed_at.isoformat(), "recipient": e.recipient, "recipient_address": e.recipient_address,
                "what": e.description, "purpose": e.purpose, "basis": e.basis, "basis_label": e.basis_label,
                "compelled": e.compelled, "count": e.count, "last_date": e.last_at.isoformat() if e.last_at else None,
                **({"excluded_from_patient_copy": True} if e.excluded else {}),
            }  # fmt: skip
            for e in accounting.entries
        ],
    }


def as_json(accounting: Accounting) -> bytes:
    return json.dumps(as_dict(accounting), indent=2, ensure_ascii=False).encode()
