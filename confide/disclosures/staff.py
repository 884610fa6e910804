"""What staff do with the accounting of disclosures (DSC1, DSC2).

    get_patient_disclosures(actor=StaffActor, patient_id=…, since=…, until=…)  ->  PatientDisclosures
    do_record_disclosure(actor=StaffActor, patient_id=…, basis=…, recipient=…, …)  ->  Disclosure
    check_produce_compelled(actor=StaffActor, patient_id=…, basis=…, reference=…, …)  ->  Package

Reading: the staff member opens the chart themselves (purpose patient_request; the owner and
the privacy officer are granted the name, date of birth and `operations.disclosures` for it,
nothing clinical), so the audit entry names the person who looked; the privacy officer sees the
excluded bases too (D2), marked.

Recording by hand (a paper release, a call to public health): validated by
`services.record_disclosure` (every field, the basis from the list, no future date), after the
staff member's own opening proves the patient is in their practice (else 404, nothing written).

A compelled disclosure (subpoena, court order, law enforcement, otherwise required by law): the
owner opens the chart for purpose `legal` with the categories the order asks for (the owner's
legal grant is the clinical record less psychotherapy notes, which are never selectable), the
package is rendered as a PDF from that opening, and the disclosure is recorded, all in one
transaction: a package is never produced without its entry. The patient's notice (DSC2) is
written by the rights layer when the entry is recorded (`signals.disclosure_recorded`; see
confide/rights/disclosure_notices.py), unless the order forbids telling the patient.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from pydantic import BaseModel, ValidationError

from confide.access import policy
from confide.access.door import open_chart
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.disclosures import report, services
from confide.disclosures.models import COMPELLED_BASES, Basis, Disclosure, Source

HEADER = frozenset({policy.NAME, policy.DOB})
# What a compelled package may contain, as the order asks: the clinical lists of the record.
# Never psychotherapy notes (not here, and outside every role's legal grant); never progress
# notes or files in this first version (a court asking for those gets them by hand, recorded
# with "Record a disclosure").
PACKAGE_LISTS: dict[str, str] = {
    policy.MEDICATIONS: "medications",
    policy.ALLERGIES: "allergies",
    policy.CONDITIONS: "conditions",
    policy.LAB_RESULTS: "lab_results",
    policy.IMMUNIZATIONS: "immunizations",
    policy.ENCOUNTERS: "encounters",
}
PACKAGE_CATEGORIES = frozenset(PACKAGE_LISTS)
# Categories a hand-recorded disclosure may name (what was disclosed): the whole taxonomy but
# the working categories of the practice itself.
RECORDABLE_CATEGORIES = frozenset(c for c in policy.KNOWN_CATEGORIES if c.split(".")[0] in {"identifiers", "contact", "health", "financial", "scheduling"})
REFERENCE_MAX = 200


def category_label(name: str) -> str:
    from confide.policy.loader import load_default

    found = load_default().categories.get(name)
    return found.label if found else name


def category_choices(names) -> list[tuple[str, str]]:
    return sorted(((n, category_label(n)) for n in names), key=lambda pair: pair[1])


def _staff(actor, perm: Perm) -> StaffActor:
    if not isinstance(actor, StaffActor) or not actor.has(perm):
        raise Forbidden(perm)
    return actor


def _name(patient) -> str:
    return " ".join(p for p in (str(patient.given_name or ""), str(patient.family_name or "")) if p) or "[no name]"


@dataclass(frozen=True)
class PatientDisclosures:
    patient_id: object
    patient_name: str
    date_of_birth: datetime.date | None
    accounting: report.Accounting
    held_notices: int  # compelled disclosures whose notice the law still forbids


def get_patient_disclosures(*, actor, patient_id, since=None, until=None, request=None) -> PatientDisclosures:
    """The patient's disclosures for the staff page and its downloads: one opening as the staff
    member (audited), excluded bases included for the privacy officer and the owner."""
    actor = _staff(actor, Perm.DISCLOSURES_RECORD)
    with open_chart(actor, patient_id, Purpose.PATIENT_REQUEST, categories=HEADER | {policy.DISCLOSURES}, request=request) as chart:
        accounting = report.read_accounting(chart.patient.pk, since=since, until=until, include_excluded=True)
        held = Disclosure.objects.filter(
            patient_id=chart.patient.pk, compelled=True, notice_forbidden=True, patient_notified_at__isnull=True
        ).count()
        dob = chart.patient.date_of_birth
        return PatientDisclosures(
            patient_id=chart.patient.pk, patient_name=_name(chart.patient),
            date_of_birth=dob if isinstance(dob, datetime.date) else None, accounting=accounting, held_notices=held,
        )  # fmt: skip


def get_patient_name(*, actor, patient_id, request=None) -> str:
    """The header of the forms (who the disclosure is about): name only, audited."""
    actor = _staff(actor, Perm.DISCLOSURES_RECORD)
    with open_chart(actor, patient_id, Purpose.PATIENT_REQUEST, categories={policy.NAME}, request=request) as chart:
        return _name(chart.patient)


def _disclosed_at(value) -> datetime.datetime:
    if value is None or value == "":
        return timezone.now()
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        if value == timezone.localdate():
            return timezone.now()
        return timezone.make_aware(datetime.datetime.combine(value, datetime.time(12, 0)))
    raise InvalidInput("Enter the date of the disclosure.")


def _until(notice_forbidden: bool, until) -> datetime.date | None:
    if not notice_forbidden or until in (None, ""):
        return None
    if not isinstance(until, datetime.date):
        raise InvalidInput("Enter the date until which the patient may not be told, or leave it empty.")
    if until <= timezone.localdate():
        raise InvalidInput("The date until which the patient may not be told must be in the future.")
    return until


def do_record_disclosure(
    *, actor, patient_id, basis, recipient, description, purpose, categories=(), disclosed_on=None, recipient_address="",
    notice_forbidden: bool = False, notice_forbidden_until=None, request=None,
) -> Disclosure:  # fmt: skip
    """Record a disclosure staff made by hand (source `manual`); validated first, nothing
    written on bad input. A compelled basis is a compelled disclosure: its notice follows."""
    actor = _staff(actor, Perm.DISCLOSURES_RECORD)
    categories = set(categories or ())
    if categories - RECORDABLE_CATEGORIES:
        raise InvalidInput("Choose what was disclosed from the list.")
    when = _disclosed_at(disclosed_on)
    until = _until(bool(notice_forbidden), notice_forbidden_until)
    with transaction.atomic():
        # The staff member's own opening: the patient is in their practice (else 404).
        with open_chart(actor, patient_id, Purpose.PATIENT_REQUEST, categories={policy.DISCLOSURES}, request=request) as chart:
            pk = chart.patient.pk
        return services.record_disclosure(
            practice_id=actor.practice_id, patient_id=pk, basis=basis, source=Source.MANUAL, recipient=recipient,
            recipient_address=recipient_address, description=description, purpose=purpose, categories=sorted(categories),
            disclosed_at=when, notice_forbidden=bool(notice_forbidden), notice_forbidden_until=until,
            recorded_by_id=actor.user_id, request=request,
        )  # fmt: skip


# --- the compelled package ---------------------------------------------------------------------
@dataclass(frozen=True)
class Package:
    disclosure: Disclosure
    pdf: bytes
    filename: str


def _item_lines(item: BaseModel) -> tuple[str, list[str]]:
    """A clinical list item as a title and "label: value" lines (every non-empty plain field)."""
    data = item.model_dump(mode="json", exclude_none=True)
    title = ""
    for key in ("name", "substance", "vaccine", "kind"):
        if isinstance(data.get(key), str) and data[key]:
            title = data.pop(key)
            break
    lines = []
    for key, value in data.items():
        if value in ("", [], {}) or isinstance(value, (dict, list)):
            continue
        lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return title, lines


def _sections(patient, categories: frozenset[str]) -> list[dict]:
    from confide.records import clinical

    sections = []
    for category in sorted(categories & PACKAGE_CATEGORIES, key=category_label):
        field = PACKAGE_LISTS[category]
        names = [field] + (["procedures"] if field == "encounters" else [])
        items = []
        for name in names:
            for raw in getattr(patient, name) or []:
                try:
                    item = clinical.LISTS[name].model_validate(raw)
                except ValidationError:
                    continue
                if getattr(item, "status", "") != "entered-in-error":
                    items.append(_item_lines(item))
        sections.append({"label": category_label(category), "items": items})
    return sections


def check_produce_compelled(
    *, actor, patient_id, basis, reference, recipient, recipient_address="", purpose="", categories=(), disclosed_on=None,
    notice_forbidden: bool = False, notice_forbidden_until=None, practice_name: str = "", request=None,
) -> Package:  # fmt: skip
    """Validate, then produce the package the law compels and record its disclosure, in one
    transaction (owner only; purpose `legal`)."""
    actor = _staff(actor, Perm.DISCLOSURES_COMPELLED)
    try:
        checked = Basis(str(basis))
    except ValueError:
        raise InvalidInput("Choose the legal basis from the list.") from None
    if checked not in COMPELLED_BASES:
        raise InvalidInput("Choose the legal basis from the list.")
    reference = services._text(reference, "The document's reference", REFERENCE_MAX, multiline=False)
    wanted = set(categories or ())
    if not wanted:
        raise InvalidInput("Choose what the order asks for.")
    if wanted - PACKAGE_CATEGORIES:
        raise InvalidInput("Choose what the order asks for from the list.")
    when = _disclosed_at(disclosed_on)
    until = _until(bool(notice_forbidden), notice_forbidden_until)
    opened = frozenset(wanted) | HEADER
    labels = [category_label(c) for c in sorted(wanted, key=category_label)]
    description = "Name, date of birth; " + "; ".join(labels).lower()
    extra = (purpose if isinstance(purpose, str) else "").strip()
    stated = f"{checked.label}, reference {reference}" + (f". {extra}" if extra else "")
    from weasyprint import HTML

    with transaction.atomic():
        with open_chart(actor, patient_id, Purpose.LEGAL, categories=opened, request=request) as chart:
            patient = chart.patient
            dob = patient.date_of_birth
            html = render_to_string("disclosures/compelled_package.html", {
                "practice_name": practice_name, "patient_name": _name(patient),
                "date_of_birth": dob if isinstance(dob, datetime.date) else None,
                "sections": _sections(patient, chart.categories), "basis": checked.label, "reference": reference,
                "recipient": recipient, "made_at": when,
            })  # fmt: skip
            pk = patient.pk
        made = services.record_disclosure(
            practice_id=actor.practice_id, patient_id=pk, basis=checked, source=Source.COMPELLED, recipient=recipient,
            recipient_address=recipient_address, description=description, purpose=stated, categories=sorted(wanted | HEADER),
            disclosed_at=when, notice_forbidden=bool(notice_forbidden), notice_forbidden_until=until,
            recorded_by_id=actor.user_id, request=request,
        )  # fmt: skip
        pdf = HTML(string=html, base_url=None).write_pdf()
    return Package(disclosure=made, pdf=pdf, filename=f"compelled-disclosure-{timezone.localdate(when):%Y-%m-%d}.pdf")


def practice_name(practice_id) -> str:
    from confide.core.models import Practice

    return Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or ""
