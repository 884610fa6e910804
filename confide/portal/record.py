""""My record" (RTS1): what the practice shares with the patient, read through the chart door as
the patient actor for purpose `patient_request`, in ONE opening with exactly the categories the
page shows that the portal grant allows (access/policy.py PORTAL_GRANT: never psychotherapy
notes, never the staff's notes; for a parent or guardian, less what the practice leaves to the
minor).

    get_my_record(actor=request.portal.actor)      → MyRecord (the page, and the PDF summary)
    open_my_document(actor=…, document_id=…)       → records.files.Download (streamed by the view)

The values are the chart's own (`records.clinical` validates each item as the staff chart does;
`records.values` writes names, phone numbers and units), shown in plain words: no codes, no ids.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field

from django.conf.locale import LANG_INFO
from pydantic import ValidationError

from confide.access import policy
from confide.access.door import open_chart
from confide.core.actors import PatientActor
from confide.core.errors import NotFound
from confide.core.purposes import Purpose
from confide.records import clinical
from confide.records.files import EXTENSIONS, KINDS, Download
from confide.records.values import display_name, phone_for_display
from confide.vault.files import EncryptedStorage

# What the page shows, when the portal grant allows it. Not the record number (an office code),
# not the government ID (not in the portal grant), not the consultations' answers (the
# patient's own words, shown where they were given).
PAGE_CATEGORIES = frozenset({
    policy.NAME, policy.DOB, policy.DEMOGRAPHICS, policy.EMAIL, policy.PHONE, policy.ADDRESS, policy.EMERGENCY_CONTACT,
    policy.GUARDIAN, policy.MEDICATIONS, policy.ALLERGIES, policy.CONDITIONS, policy.LAB_RESULTS, policy.IMMUNIZATIONS,
    policy.ENCOUNTERS, policy.INSURANCE, policy.DOCUMENTS,
})  # fmt: skip
# What the downloads hold: everything the portal grant allows (the FHIR file carries the record
# number and the consultations too); the door narrows it for a representative.
EXPORT_CATEGORIES = policy.PORTAL_GRANT


def granted(actor: PatientActor) -> frozenset[str]:
    """What the door would grant this patient actor for `patient_request` (the portal grant, less
    the minor's own categories for a representative): the page asks for no more, so it is never
    refused for a category a parent may not see — that section is simply not there."""
    withheld: frozenset[str] = frozenset()
    if actor.representative:
        from confide.policy.services import declaration_in_force

        declaration = declaration_in_force(actor.practice_id)
        withheld = frozenset(getattr(declaration, "minor_controlled_categories", lambda: ())())
    return policy.portal_categories(Purpose.PATIENT_REQUEST, representative=actor.representative, withheld=withheld)


def language_name(code) -> str:
    """"es" → "Spanish"; a language typed in words stays as typed."""
    code = str(code or "").strip()
    info = LANG_INFO.get(code.lower()) or LANG_INFO.get(code.lower().split("-")[0])
    return info["name"] if info and "name" in info else code


def _items(patient, name: str) -> list:
    """The list's items as the chart validates them, newest first; an item entered in error is
    not part of the record the patient reads, and one that no longer validates is left out."""
    out = []
    for raw in getattr(patient, name) or []:
        try:
            item = clinical.LISTS[name].model_validate(raw)
        except ValidationError:
            continue
        if getattr(item, "status", "") != "entered-in-error":
            out.append(item)
    out.reverse()
    return out


@dataclass(frozen=True)
class Person:
    name: str
    relationship: str
    phone: str
    email: str


def _person(value) -> Person | None:
    if not value:
        return None
    return Person(name=str(value.get("name") or ""), relationship=str(value.get("relationship") or ""),
                  phone=phone_for_display(value.get("phone")), email=str(value.get("email") or ""))  # fmt: skip


@dataclass(frozen=True)
class SharedDocument:
    id: uuid.UUID
    title: str
    added: datetime.datetime
    size: int
    kind: str  # "PDF", "Image"


@dataclass(frozen=True)
class MyRecord:
    shown: frozenset[str]  # the categories opened: a section appears only for these
    name: str
    date_of_birth: datetime.date | None
    pronouns: str = ""
    language: str = ""
    gender_identity: str = ""
    email: str = ""
    phones: list[str] = field(default_factory=list)
    address: list[str] = field(default_factory=list)  # its lines, as on an envelope
    emergency_contact: Person | None = None
    guardian: Person | None = None
    insurance: dict | None = None
    lists: dict[str, list] = field(default_factory=dict)  # list name → items (clinical.LISTS), newest first
    documents: list[SharedDocument] = field(default_factory=list)

    @property
    def show(self) -> dict[str, bool]:
        c = self.shown
        return {
            "about": bool(c & {policy.DOB, policy.DEMOGRAPHICS}), "contact": bool(c & {policy.EMAIL, policy.PHONE, policy.ADDRESS}),
            "people": bool(c & {policy.EMERGENCY_CONTACT, policy.GUARDIAN}), "medications": policy.MEDICATIONS in c,
            "allergies": policy.ALLERGIES in c, "conditions": policy.CONDITIONS in c, "results": policy.LAB_RESULTS in c,
            "immunizations": policy.IMMUNIZATIONS in c, "visits": policy.ENCOUNTERS in c, "insurance": policy.INSURANCE in c,
            "documents": policy.DOCUMENTS in c, "guardian": policy.GUARDIAN in c, "emergency": policy.EMERGENCY_CONTACT in c,
        }  # fmt: skip


def _address_lines(value) -> list[str]:
    if not value:
        return []
    lines = [str(line) for line in value.get("lines") or [] if line]
    town = " ".join(part for part in (value.get("city"), value.get("state"), value.get("postal_code")) if part)
    return [*lines, *([town] if town else []), *([str(value["country"])] if value.get("country") else [])]


def _documents(patient_pk) -> list[SharedDocument]:
    rows = KINDS["document"].objects.filter(patient_id=patient_pk).order_by("-created_at", "-id")
    return [SharedDocument(id=r.pk, title=str(r.title), added=r.created_at, size=r.size,
                           kind="PDF" if r.content_type == "application/pdf" else "Image") for r in rows]  # fmt: skip


def read_record(patient, categories: frozenset[str]) -> MyRecord:
    """Inside an open door granting `categories`: the record as the portal shows it."""
    c = categories

    def value(name: str, category: str):
        return getattr(patient, name) if category in c else None

    given, family, preferred = (str(value(n, policy.NAME) or "") for n in ("given_name", "family_name", "preferred_name"))
    dob = value("date_of_birth", policy.DOB)
    insurance = value("insurance", policy.INSURANCE)
    list_categories = {name: patient._meta.get_field(name).category for name in clinical.LISTS if name != "intake_answers"}
    return MyRecord(
        shown=c,
        name=display_name(given, family, preferred),
        date_of_birth=dob if isinstance(dob, datetime.date) else None,
        pronouns=str(value("pronouns", policy.DEMOGRAPHICS) or ""),
        language=language_name(value("language", policy.DEMOGRAPHICS)),
        gender_identity=str(value("gender_identity", policy.DEMOGRAPHICS) or ""),
        email=str(value("email", policy.EMAIL) or ""),
        phones=[phone_for_display(p) for p in (value("phone", policy.PHONE), value("phone_other", policy.PHONE)) if p],
        address=_address_lines(value("address", policy.ADDRESS)),
        emergency_contact=_person(value("emergency_contact", policy.EMERGENCY_CONTACT)),
        guardian=_person(value("guardian", policy.GUARDIAN)),
        insurance=dict(insurance) if insurance else None,
        lists={name: _items(patient, name) for name, category in list_categories.items() if category in c},
        documents=_documents(patient.pk) if policy.DOCUMENTS in c else [],
    )


def get_my_record(*, actor: PatientActor, request=None) -> MyRecord:
    """The record page: one opening, `records:chart:opened` listing the categories shown."""
    categories = PAGE_CATEGORIES & granted(actor)
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories=categories, request=request) as chart:
        return read_record(chart.patient, chart.categories)


def open_my_document(*, actor: PatientActor, document_id, request=None, storage: EncryptedStorage | None = None) -> Download:
    """One shared document of the actor's current record, for the view to stream. The id is
    looked up within that record only: another record's document, another practice's, or no
    such id is the same NotFound. The door records the opening (naming the document) before a
    byte is read; the stream is handed over open, as records.files.open_file_for_download does."""
    model = KINDS["document"]
    try:
        pk = uuid.UUID(str(document_id))
    except ValueError:
        raise NotFound("document") from None
    storage = storage or EncryptedStorage()
    if model.CATEGORY not in granted(actor):
        raise NotFound("document")
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={model.CATEGORY}, request=request) as chart:
        row = model.objects.filter(pk=pk, patient_id=chart.patient.pk).first()
        if row is None:
            raise NotFound("document")
        stream = storage.open_decrypted(row.stored_name, practice_id=row.practice_id, subject_id=row.patient_id, category=model.CATEGORY)
    if stream.content_type not in EXTENSIONS:
        stream.close()
        raise NotFound("document")
    return Download(id=row.pk, kind="document", content_type=stream.content_type, size=stream.size, stream=stream)
