"""The chart as staff see it: six tabs, each shown through one door opening with exactly its
categories (ACC3 on screen).

    TABS                  name → Tab(label, route, permission, categories, optional, purpose)
    CHART_PURPOSE         role → the purpose its chart openings name
    visible_tabs(actor)   what the tab bar shows
    get_overview(actor, patient_id) · get_clinical · get_notes · get_documents · get_consultations · get_privacy

A tab's route opens the door with `HEADER | tab.categories | (tab.optional ∩ grant)`, for the
role's purpose. A role whose grant lacks the tab's categories is refused by the door itself (an
`access:denied` entry, then 403), whatever the tab bar showed: the bar only leaves out what the
door would refuse, using the same rule (`tab_allowed`). Every function here only reads; the
changes are in services.py, notes.py and files.py.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field

from django.utils import timezone
from pydantic import BaseModel, ValidationError

from confide.access import policy
from confide.access.door import open_chart, open_psychotherapy_notes
from confide.core.purposes import Purpose
from confide.audit.events import AuditEvent, event_label
from confide.audit.reports import patient_access_page
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, NotFound
from confide.core.permissions import Perm, Role, role_has
from confide.records import clinical
from confide.records.files import KINDS
from confide.records.models import Addendum, NoteStatus, NoteTemplate, Patient, ProgressNote
from confide.records.values import display_name, phone_for_display
from confide.records.services import CARE_REASONS, CARE_STATUSES, ITEM_STATUS_CHANGES, current_versions, item_version, version_token
from confide.records.notes import SOAP_SECTIONS, check_editable, check_signable, verify_signed

# Every chart page names the patient it is about: their name and date of birth (which also
# tells whether they are a minor). Every tab's opening includes these.
HEADER = frozenset({policy.NAME, policy.DOB})
BREAK_GLASS_MINUTES = policy.BREAK_GLASS_MINUTES
# The age below which a patient is a minor and a parent or guardian acts for them.
AGE_OF_MAJORITY = 18

# Which purpose a role's chart openings name: clinicians and the owner open a chart to treat,
# the front desk to run the practice (registration, scheduling), billing to be paid. The
# privacy tab is oversight, operations, for everyone (Tab.purpose below).
CHART_PURPOSE: dict[Role, Purpose] = {
    Role.OWNER: Purpose.TREATMENT,
    Role.CLINICIAN: Purpose.TREATMENT,
    Role.FRONT_DESK: Purpose.OPERATIONS,
    Role.BILLING: Purpose.PAYMENT,
    Role.PRIVACY_OFFICER: Purpose.OPERATIONS,
}

REGISTRATION_FIELDS = (
    "given_name", "family_name", "preferred_name", "date_of_birth", "sex", "gender_identity", "pronouns", "language",
    "medical_record_number", "drivers_licence", "email", "phone", "phone_other", "address", "emergency_contact", "guardian",
)  # fmt: skip
CLINICAL_LISTS = ("medications", "allergies", "conditions", "lab_results", "immunizations", "encounters", "procedures")


def category_of(field_name: str) -> str:
    return Patient._meta.get_field(field_name).category


REGISTRATION = frozenset(category_of(name) for name in REGISTRATION_FIELDS)
CLINICAL = frozenset({policy.BACKGROUND} | {category_of(name) for name in CLINICAL_LISTS})


@dataclass(frozen=True)
class Tab:
    name: str
    label: str
    route: str  # its URL name; ROUTE_POLICY gives it `perm` (a test holds the two equal)
    perm: Perm
    categories: frozenset[str]  # what the tab exists to show: all of it, or the tab is refused
    optional: frozenset[str] = frozenset()  # shown as well where the role's grant has it
    purpose: Purpose | None = None  # None: the role's CHART_PURPOSE


TABS: dict[str, Tab] = {
    tab.name: tab
    for tab in (
        Tab("overview", "Overview", "records:chart", Perm.CONTACT_READ, frozenset(), optional=REGISTRATION | {policy.INSURANCE}),
        Tab("clinical", "Clinical", "records:chart-clinical", Perm.CONTACT_READ, CLINICAL),
        Tab("notes", "Notes", "records:chart-notes", Perm.CONTACT_READ, frozenset({policy.NOTES})),
        # …and the documents kept with a parent's or guardian's portal link (contact.guardian).
        Tab("documents", "Documents", "records:chart-documents", Perm.CONTACT_READ, frozenset({policy.DOCUMENTS}),
            optional=frozenset({policy.PHOTOS, policy.GUARDIAN})),
        # Online consultations accepted into the chart, as asked and answered (records/intake.py).
        Tab("consultations", "Consultations", "records:chart-consultations", Perm.CONTACT_READ, frozenset({policy.INTAKE})),
        Tab("privacy", "Privacy", "records:chart-privacy", Perm.CHART_READ, frozenset(), purpose=Purpose.OPERATIONS),
    )
}  # fmt: skip
# The author's own psychotherapy notes: a tab of their own, kept apart from the record (HIPAA),
# opened by their own door (`open_psychotherapy_notes(with_header=True)`: the header and the
# notes in one opening), shown to every role that writes them whether or not it has any.
PSYCHOTHERAPY_TAB = Tab("psychotherapy", "Psychotherapy notes", "records:chart-psychotherapy", Perm.CHART_WRITE, frozenset())


def tab_opening(role: Role, tab: Tab) -> tuple[Purpose, frozenset[str]]:
    """The purpose and exact categories the tab's route opens the door with, for this role."""
    purpose = tab.purpose or CHART_PURPOSE[Role(role)]
    granted = policy.categories_for(role, purpose)
    return purpose, HEADER | tab.categories | (tab.optional & granted)


def tab_allowed(role: Role, tab: Tab) -> bool:
    """Whether the route admits the role (its permission) and the door would open the tab."""
    purpose, categories = tab_opening(role, tab)
    return role_has(role, tab.perm) and categories <= policy.categories_for(role, purpose)


def visible_tabs(actor: StaffActor) -> list[Tab]:
    tabs = [tab for tab in TABS.values() if tab_allowed(actor.role, tab)]
    if writes_psychotherapy_notes(actor):
        tabs.insert(tabs.index(TABS["notes"]) + 1 if TABS["notes"] in tabs else len(tabs), PSYCHOTHERAPY_TAB)
    return tabs


def tab_named(name: str) -> Tab:
    return PSYCHOTHERAPY_TAB if name == PSYCHOTHERAPY_TAB.name else TABS[name]


@dataclass(frozen=True)
class Glass:
    """How a refused tab is to be opened under break-the-glass: with a newly typed `reason`, or
    continuing (`continues`: the BreakGlassReason id) an opening of the last BREAK_GLASS_MINUTES."""

    reason: str | None = None
    continues: uuid.UUID | str | None = None


def _open_tab(actor: StaffActor, patient_id, tab: Tab, request, glass: Glass | None = None):
    if not isinstance(actor, StaffActor) or not actor.has(tab.perm):
        raise Forbidden(tab.perm)
    purpose, categories = tab_opening(actor.role, tab)
    if glass is None:
        return open_chart(actor, patient_id, purpose, categories=categories, request=request)
    if not break_glass_offered(actor, tab):
        raise Forbidden(tab.perm)  # only where the offer is made: the door would refuse it anyway
    return open_chart(
        actor, patient_id, purpose, categories=categories, request=request,
        break_glass_reason=glass.reason, break_glass_continues=glass.continues,
    )  # fmt: skip


def break_glass_opening_id(actor: StaffActor, patient_id):
    """The actor's latest break-the-glass opening of this patient (the id a later page continues)."""
    from confide.access.models import BreakGlassReason

    return (
        BreakGlassReason.objects.filter(patient_id=patient_id, opened_by_id=actor.user_id)
        .order_by("-created_at").values_list("pk", flat=True).first()
    )  # fmt: skip


def refuse_break_glass(actor: StaffActor, patient_id, *, request=None) -> Exception:
    """The door's flagged refusal of a break-the-glass request no page offered (to raise)."""
    from confide.access.door import refuse_break_glass

    if not isinstance(actor, StaffActor):
        return Forbidden("break-the-glass")
    return refuse_break_glass(actor, patient_id, CHART_PURPOSE[Role(actor.role)], categories=HEADER, request=request)


def break_glass_offered(actor: StaffActor, tab: Tab) -> bool:
    """Whether a refused tab offers break-the-glass: the route admits the role, the door would
    refuse the tab's categories for the role's purpose, and the door's break-the-glass rule
    (`policy.BREAK_GLASS_ROLES`, `BREAK_GLASS_PURPOSES`, the ceiling) would open them."""
    if not isinstance(actor, StaffActor) or tab.name not in TABS or not actor.has(tab.perm) or tab_allowed(actor.role, tab):
        return False
    purpose, categories = tab_opening(actor.role, tab)
    return (
        Role(actor.role) in policy.BREAK_GLASS_ROLES
        and purpose in policy.BREAK_GLASS_PURPOSES
        and categories <= policy.BREAK_GLASS_CEILING
    )


# --- the header every chart page shows ------------------------------------------------------
@dataclass(frozen=True)
class Header:
    id: uuid.UUID
    display_name: str
    given_name: str
    family_name: str
    preferred_name: str
    date_of_birth: datetime.date | None
    age: int | None
    is_minor: bool


def age_on(date_of_birth: datetime.date | None, today: datetime.date) -> int | None:
    if not isinstance(date_of_birth, datetime.date):
        return None
    return today.year - date_of_birth.year - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))


def _header(patient: Patient) -> Header:
    given, family, preferred = (str(v or "") for v in (patient.given_name, patient.family_name, patient.preferred_name))
    dob = patient.date_of_birth if isinstance(patient.date_of_birth, datetime.date) else None
    age = age_on(dob, timezone.localdate())
    return Header(
        id=patient.pk,
        display_name=display_name(given, family, preferred),
        given_name=given,
        family_name=family,
        preferred_name=preferred,
        date_of_birth=dob,
        age=age,
        is_minor=age is not None and age < AGE_OF_MAJORITY,
    )


def get_header(actor: StaffActor, patient_id, purpose: Purpose, *, request=None) -> Header:
    """Only who the patient is (name, date of birth): for pages that add to the chart."""
    with open_chart(actor, patient_id, purpose, categories=HEADER, request=request) as chart:
        return _header(chart.patient)


def get_header_and_contact(actor: StaffActor, patient_id, purpose: Purpose, *, request=None) -> tuple[Header, str, str]:
    """The header, and the phone number and e-mail address on file: for a script the staff
    member reads to the patient ("may we text you at …?"). One opening of the chart."""
    with open_chart(actor, patient_id, purpose, categories=HEADER | {policy.PHONE, policy.EMAIL}, request=request) as chart:
        patient = chart.patient
        return _header(patient), str(patient.phone or ""), str(patient.email or "")


def _staff_names(user_ids) -> dict[str, str]:
    """Display names of staff (never of patients), keyed by the user id as text."""
    from confide.accounts.models import User

    wanted = {int(pk) for pk in user_ids if str(pk).isdigit()}
    return {str(pk): name for pk, name in User.objects.filter(pk__in=wanted).values_list("pk", "display_name")}


# --- overview ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Overview:
    header: Header
    shown: frozenset[str]  # the categories opened: the template shows a section only for these
    values: dict  # field name → value, for the fields whose category was opened
    insurance: dict | None = None

    @property
    def show(self) -> dict[str, bool]:
        """Which sections and lines the page has: only those whose category was opened."""
        c = self.shown
        return {
            "demographics": policy.DEMOGRAPHICS in c, "mrn": policy.MRN in c, "government_id": policy.GOVERNMENT_ID in c,
            "email": policy.EMAIL in c, "phone": policy.PHONE in c, "address": policy.ADDRESS in c,
            "emergency_contact": policy.EMERGENCY_CONTACT in c, "guardian": policy.GUARDIAN in c, "insurance": policy.INSURANCE in c,
        }  # fmt: skip

    @property
    def needs_guardian(self) -> bool:
        """A minor with no parent or guardian on file (said only where guardians are shown)."""
        return self.header.is_minor and policy.GUARDIAN in self.shown and not self.values.get("guardian")


def _values(patient: Patient, names, categories) -> dict:
    return {name: getattr(patient, name) for name in names if category_of(name) in categories}


def get_overview(actor: StaffActor, patient_id, *, request=None, glass: Glass | None = None) -> Overview:
    """Identity and contact as the role's grant allows, and insurance where the role's purpose
    covers it (billing, in its payment opening): ONE opening per page. The owner, whose
    treatment grant holds nothing financial, sees insurance on its own page (the insurance
    form, a payment opening) — `insurance_elsewhere` says so."""
    tab = TABS["overview"]
    with _open_tab(actor, patient_id, tab, request, glass) as chart:
        patient = chart.patient
        header = _header(patient)
        values = _values(patient, REGISTRATION_FIELDS, chart.categories)
        insurance = patient.insurance if policy.INSURANCE in chart.categories else None
        shown = chart.categories
    return Overview(header=header, shown=shown, values=values, insurance=insurance)


def insurance_elsewhere(actor: StaffActor) -> bool:
    """Whether the role sees insurance, but for payment, not in its chart opening."""
    purpose = CHART_PURPOSE[Role(actor.role)]
    return (
        actor.has(Perm.BILLING_READ)
        and policy.INSURANCE in policy.categories_for(actor.role, Purpose.PAYMENT)
        and policy.INSURANCE not in policy.categories_for(actor.role, purpose)
    )


# --- clinical -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClinicalList:
    name: str
    label: str
    items: list  # pydantic items of clinical.LISTS[name], newest recorded first
    unreadable: int = 0  # items that no longer validate (shown as a count, never guessed at)
    markable: tuple[str, ...] = ()  # the statuses an item can be marked with (services.ITEM_STATUS_CHANGES)
    versions: dict[str, str] = field(default_factory=dict)  # item id → its version, carried by its mark form
    care_statuses: tuple[str, ...] = ()  # those of `markable` a clinical reason may go with (services.CARE_STATUSES)
    care_reasons: tuple[tuple[str, str], ...] = ()  # (code, label) of those clinical reasons (services.CARE_REASONS)


LIST_LABELS = {
    "medications": "Medications", "allergies": "Allergies", "conditions": "Conditions", "lab_results": "Results",
    "immunizations": "Immunizations", "encounters": "Encounters", "procedures": "Procedures",
}  # fmt: skip


@dataclass(frozen=True)
class Clinical:
    header: Header
    background: str | None
    lists: dict[str, ClinicalList]


def _typed(patient: Patient, name: str) -> ClinicalList:
    model: type[BaseModel] = clinical.LISTS[name]
    typed, unreadable, versions = [], 0, {}
    for item in getattr(patient, name) or []:
        try:
            typed.append(model.model_validate(item))
        except ValidationError:
            unreadable += 1
            continue
        versions[typed[-1].id] = item_version(patient, name, item)
    typed.reverse()  # stored in the order recorded: newest first on screen
    return ClinicalList(name=name, label=LIST_LABELS[name], items=typed, unreadable=unreadable,
                        markable=ITEM_STATUS_CHANGES[name], versions=versions, care_statuses=CARE_STATUSES.get(name, ()),
                        care_reasons=CARE_REASONS.get(name, ()))  # fmt: skip


def get_clinical(actor: StaffActor, patient_id, *, request=None, glass: Glass | None = None) -> Clinical:
    with _open_tab(actor, patient_id, TABS["clinical"], request, glass) as chart:
        patient = chart.patient
        return Clinical(
            header=_header(patient),
            background=patient.health_background or None,
            lists={name: _typed(patient, name) for name in CLINICAL_LISTS},
        )


def get_clinical_item(actor: StaffActor, patient_id, list_name: str, item_id: str, *, request=None):
    """One item of a list (for a change to it), or NotFound."""
    if list_name not in clinical.LISTS:
        raise NotFound("item")
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories={category_of(list_name)}, request=request) as chart:
        for item in getattr(chart.patient, list_name) or []:
            if item.get("id") == item_id:
                return clinical.LISTS[list_name].model_validate(item)
    raise NotFound("item")


# --- consultations ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ConsultationItem:
    record: clinical.Consultation
    summary: list  # (label, answer) of the answers that went to a place of their own: reason, duration, …


@dataclass(frozen=True)
class Consultations:
    header: Header
    items: list  # ConsultationItem, newest first
    unreadable: int = 0


# The consultation's answers shown above the rest, in this order (records/intake.py MAPS_TO).
CONSULTATION_SUMMARY = (("reason", "Reason for the visit"), ("duration", "How long"), ("history", "History"),
                        ("contact_time", "Preferred time to call"))  # fmt: skip


def get_consultations(actor: StaffActor, patient_id, *, request=None) -> Consultations:
    """The online consultations accepted into the chart, read-only: the answers as given, with
    the form's version, and what each added to the chart's lists (one opening, `health.intake`)."""
    with _open_tab(actor, patient_id, TABS["consultations"], request) as chart:
        patient = chart.patient
        header = _header(patient)
        items, unreadable = [], 0
        for raw in patient.intake_answers or []:
            try:
                record = clinical.Consultation.model_validate(raw)
            except ValidationError:
                unreadable += 1
                continue
            summary = [(label, record.mapped(target)) for target, label in CONSULTATION_SUMMARY if record.mapped(target)]
            items.append(ConsultationItem(record=record, summary=summary))
    items.reverse()
    return Consultations(header=header, items=items, unreadable=unreadable)


# --- notes --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AddendumItem:
    author_name: str
    signed_at: datetime.datetime
    text: str
    intact: bool


@dataclass(frozen=True)
class NoteItem:
    id: uuid.UUID
    template: str
    template_label: str
    status: str
    author_id: int
    author_name: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    signed_at: datetime.datetime | None
    sections: list[tuple[str, str]]  # (heading, text); a free note has one, headed ""
    content: dict
    intact: bool
    is_mine: bool
    addenda: list[AddendumItem] = field(default_factory=list)

    @property
    def is_draft(self) -> bool:
        return self.status == NoteStatus.DRAFT

    @property
    def is_empty(self) -> bool:
        return not any(text for _, text in self.sections)


@dataclass(frozen=True)
class Notes:
    header: Header
    notes: list[NoteItem]
    number: int = 1  # the page shown (NOTES_PAGE_SIZE notes a page, newest first)
    has_next: bool = False

    @property
    def has_previous(self) -> bool:
        return self.number > 1


NOTES_PAGE_SIZE = 20


@dataclass(frozen=True)
class Psychotherapy:
    header: Header
    # The actor's own psychotherapy notes, newest first. Another author's are never among them.
    notes: list[dict]


NOTE_LABELS = {NoteTemplate.SOAP.value: "SOAP note", NoteTemplate.FREE.value: "Free-text note"}


def _sections(template: str, content: dict) -> list[tuple[str, str]]:
    if template == NoteTemplate.SOAP:
        return [(name.capitalize(), str(content.get(name, ""))) for name in SOAP_SECTIONS]
    return [("", str(content.get("text", "")))]


def _note_items(actor: StaffActor, notes: list[ProgressNote], addenda: list[Addendum]) -> list[NoteItem]:
    names = _staff_names({n.author_id for n in notes} | {a.author_id for a in addenda})
    by_note: dict = {}
    for addendum in addenda:
        text = addendum.content
        by_note.setdefault(addendum.note_id, []).append(
            AddendumItem(author_name=names.get(str(addendum.author_id), "former staff member"), signed_at=addendum.signed_at,
                         text=str(text), intact=verify_signed(addendum, text))
        )  # fmt: skip
    items = []
    for n in notes:
        # Read once: the sections shown, the content handed to the edit form and the signature
        # check are the same decoded value (this page used to open each note three times).
        content = n.content
        items.append(NoteItem(
            id=n.pk, template=n.template, template_label=NOTE_LABELS.get(n.template, n.template), status=n.status, author_id=n.author_id,
            author_name=names.get(str(n.author_id), "former staff member"), created_at=n.created_at, updated_at=n.updated_at,
            signed_at=n.signed_at, sections=_sections(n.template, dict(content)), content=dict(content),
            intact=n.status != NoteStatus.SIGNED or verify_signed(n, content), is_mine=n.author_id == actor.user_id,
            addenda=by_note.get(n.pk, []),
        ))  # fmt: skip
    return items


def writes_psychotherapy_notes(actor: StaffActor) -> bool:
    return actor.role in policy.PSYCHOTHERAPY_AUTHOR_ROLES and actor.has(Perm.CHART_WRITE)


def get_notes(actor: StaffActor, patient_id, *, request=None, glass: Glass | None = None, page: int = 1) -> Notes:
    """Progress notes newest first with their addenda, NOTES_PAGE_SIZE a page: one opening, and
    the same few queries whatever the number of notes (only the page's notes and their addenda
    are read, and decrypted). (The actor's own psychotherapy notes are the psychotherapy tab's,
    `get_psychotherapy`: one opening too.)"""
    start = (max(page, 1) - 1) * NOTES_PAGE_SIZE
    with _open_tab(actor, patient_id, TABS["notes"], request, glass) as chart:
        header = _header(chart.patient)
        found = list(ProgressNote.objects.filter(patient_id=chart.patient.pk).order_by("-created_at", "-id")[start : start + NOTES_PAGE_SIZE + 1])
        notes = found[:NOTES_PAGE_SIZE]
        addenda = list(Addendum.objects.filter(note_id__in=[n.pk for n in notes]).order_by("created_at", "id")) if notes else []
        items = _note_items(actor, notes, addenda)
    return Notes(header=header, notes=items, number=max(page, 1), has_next=len(found) > NOTES_PAGE_SIZE)


def get_psychotherapy(actor: StaffActor, patient_id, *, request=None) -> Psychotherapy:
    """The actor's own psychotherapy notes for the patient, with the header, through their own
    door in ONE opening (refused, with an access:denied entry, for a role that writes none)."""
    from confide.records.notes import psychotherapy_items

    with open_psychotherapy_notes(actor, patient_id, request=request, with_header=True) as door:
        return Psychotherapy(header=_header(door.patient), notes=psychotherapy_items(door))


def get_note(actor: StaffActor, patient_id, note_id, *, request=None) -> tuple[Header, NoteItem]:
    """One progress note of the patient (for its edit, sign and addendum pages), or NotFound."""
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories=HEADER | {policy.NOTES}, request=request) as chart:
        note = ProgressNote.objects.filter(pk=note_id, patient_id=chart.patient.pk).first()
        if note is None:
            raise NotFound("note")
        addenda = list(Addendum.objects.filter(note_id=note.pk).order_by("created_at", "id"))
        return _header(chart.patient), _note_items(actor, [note], addenda)[0]


def get_psychotherapy_note(actor: StaffActor, patient_id, note_id, *, request=None) -> tuple[Header, dict]:
    """One of the actor's own psychotherapy notes, or NotFound (also for another author's)."""
    with open_psychotherapy_notes(actor, patient_id, request=request, with_header=True) as chart:
        note = next((n for n in chart.notes if str(n.pk) == str(note_id)), None)
        if note is None:
            raise NotFound("note")
        return _header(chart.patient), {"id": note.pk, "status": note.status, "created_at": note.created_at, "text": str(note.content)}


# --- documents and photos -------------------------------------------------------------------------
@dataclass(frozen=True)
class FileItem:
    id: uuid.UUID
    kind: str
    title: str
    content_type: str
    size: int
    created_at: datetime.datetime
    uploaded_by: str


@dataclass(frozen=True)
class Documents:
    header: Header
    documents: list[FileItem]
    photos: list[FileItem] | None  # None: the role is not granted photos (not even their count)
    authorizations: list[FileItem] | None = None  # kept with guardians' portal links; None: not granted

    @property
    def kinds(self) -> list[tuple[str, str]]:
        """What the upload form offers."""
        return [("document", "Document (PDF, JPEG or PNG)")] + ([("photo", "Photo (JPEG or PNG)")] if self.photos is not None else [])


def _file_items(kind: str, rows) -> list[FileItem]:
    names = _staff_names({r.uploaded_by_id for r in rows if r.uploaded_by_id})
    return [
        FileItem(id=r.pk, kind=kind, title=str(r.title), content_type=r.content_type, size=r.size, created_at=r.created_at,
                 uploaded_by=names.get(str(r.uploaded_by_id), "—"))
        for r in rows
    ]  # fmt: skip


def get_documents(actor: StaffActor, patient_id, *, request=None, glass: Glass | None = None) -> Documents:
    with _open_tab(actor, patient_id, TABS["documents"], request, glass) as chart:
        pk = chart.patient.pk
        documents = _file_items("document", KINDS["document"].objects.filter(patient_id=pk).order_by("-created_at", "-id"))
        photos = None
        if policy.PHOTOS in chart.categories:
            photos = _file_items("photo", KINDS["photo"].objects.filter(patient_id=pk).order_by("-created_at", "-id"))
        authorizations = None
        if policy.GUARDIAN in chart.categories:
            rows = KINDS["authorization"].objects.filter(patient_id=pk).order_by("-created_at", "-id")
            authorizations = _file_items("authorization", rows)
        return Documents(header=_header(chart.patient), documents=documents, photos=photos, authorizations=authorizations)


def get_photo(actor: StaffActor, patient_id, photo_id, *, request=None) -> tuple[Header, FileItem]:
    """A photo's page (its title and who added it; the picture itself is files.open_file_for_download)."""
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories=HEADER | {policy.PHOTOS}, request=request) as chart:
        row = KINDS["photo"].objects.filter(pk=photo_id, patient_id=chart.patient.pk).first()
        if row is None:
            raise NotFound("file")
        return _header(chart.patient), _file_items("photo", [row])[0]


def may_upload(actor: StaffActor, kind: str) -> bool:
    return actor.has(Perm.CHART_WRITE) and KINDS[kind].CATEGORY in policy.categories_for(actor.role, Purpose.TREATMENT)


# --- privacy: who opened this record ----------------------------------------------------------------


@dataclass(frozen=True)
class AccessItem:
    when: datetime.datetime
    who: str
    role: str
    purpose: str
    event: str
    event_label: str
    categories: tuple[str, ...]
    refused: bool
    entry_id: int | None = None  # the audit entry's id: what the page links name


@dataclass(frozen=True)
class Privacy:
    header: Header
    rows: list[AccessItem]
    older: int | None = None  # the entry id the next (older) page starts before
    newer: int | None = None  # the entry id the previous (newer) page starts after


ROLE_LABELS = dict(Role.choices)
PRIVACY_PAGE_SIZE = 50


def get_privacy(actor: StaffActor, patient_id, *, request=None, before: int | None = None, after: int | None = None) -> Privacy:
    """Who opened this record, when, in what role, for what purpose (the practice's chain about
    this patient, newest first: `audit.reports.patient_access_page`), a page of
    PRIVACY_PAGE_SIZE at a time, paged in the database. The opening of this page is itself on it."""
    with _open_tab(actor, patient_id, TABS["privacy"], request) as chart:
        header = _header(chart.patient)
        practice_id, pk = chart.patient.practice_id, chart.patient.pk
    # Entries about psychotherapy notes are their author's alone, like the notes (HIPAA): nobody
    # else learns from this tab, or from the audit viewer, that any exist (audit/reports.py).
    page = patient_access_page(practice_id, pk, shown_to_user=actor.user_id, size=PRIVACY_PAGE_SIZE, before=before, after=after)
    names = _staff_names({row.actor_id for row in page.rows if row.actor_kind == "user"})
    rows = []
    for row in page.rows:
        if row.actor_kind == "user":
            who = names.get(row.actor_id, "former staff member")
        elif row.actor_kind == "system":
            who = f"System job ({row.actor_id})"
        else:
            who = row.actor_kind
        rows.append(AccessItem(
            when=row.when, who=who, role=ROLE_LABELS.get(row.actor_role, row.actor_role), purpose=row.purpose, event=row.event,
            event_label=event_label(row.event), categories=row.categories,
            refused=row.event == AuditEvent.ACCESS_DENIED.value, entry_id=row.entry_id,
        ))  # fmt: skip
    return Privacy(header=header, rows=rows, older=page.older, newer=page.newer)


# --- the values the edit forms start from ------------------------------------------------------------
@dataclass(frozen=True)
class Editable:
    header: Header
    values: dict  # field name → current value, for the fields this role may write here
    fields: tuple[str, ...]
    version: str = ""  # the versions of exactly these fields (services.version_token): the form carries it


# What each edit form writes, and the permission behind it (purpose_and_permission agrees).
FORMS = {
    "registration": (REGISTRATION_FIELDS, Purpose.OPERATIONS, Perm.REGISTRATION_WRITE),
    "health": (("health_background",), Purpose.TREATMENT, Perm.CHART_WRITE),
    "insurance": (("insurance",), Purpose.PAYMENT, Perm.BILLING_WRITE),
}


def writable_fields(role: Role, form: str) -> tuple[str, ...]:
    """The fields of `form` the role may write: its permission, and each field's category in
    the role's grant for the form's purpose. A form shows and accepts only these."""
    names, purpose, perm = FORMS[form]
    if not role_has(role, perm):
        return ()
    granted = policy.categories_for(role, purpose)
    return tuple(name for name in names if category_of(name) in granted)


def get_editable(actor: StaffActor, patient_id, form: str, *, request=None) -> Editable:
    names, purpose, perm = FORMS[form]
    if not actor.has(perm):
        raise Forbidden(perm)
    fields_ = writable_fields(actor.role, form)
    categories = HEADER | {category_of(name) for name in fields_}
    with open_chart(actor, patient_id, purpose, categories=categories, request=request) as chart:
        return Editable(
            header=_header(chart.patient), values={n: getattr(chart.patient, n) for n in fields_}, fields=fields_,
            version=version_token(current_versions(chart.patient, fields_)),
        )  # fmt: skip


# --- what changed since a form was loaded ---------------------------------------------------------
FIELD_LABELS = {
    "given_name": "Given name", "family_name": "Family name", "preferred_name": "Preferred name", "date_of_birth": "Date of birth",
    "sex": "Sex", "gender_identity": "Gender identity", "pronouns": "Pronouns", "language": "Preferred language",
    "medical_record_number": "Medical record number", "drivers_licence": "Driver's licence number", "email": "Email",
    "phone": "Phone", "phone_other": "Other phone", "address": "Address", "emergency_contact": "Emergency contact",
    "guardian": "Parent or guardian", "insurance": "Insurance", "health_background": "Health background",
    **LIST_LABELS,
}  # fmt: skip
# How far back the stale-form page looks in the patient's change entries for who changed a field.
LAST_CHANGES_SCAN = 200


@dataclass(frozen=True)
class ChangedSince:
    """A field of an edit form that someone changed after the form was loaded."""

    name: str
    label: str
    now: str  # its current value, as text ("(empty)" when cleared)
    also_yours: bool  # the refused submission changed it too: a real conflict
    when: datetime.datetime | None = None
    who: str | None = None  # only for a role that sees the record's history (the privacy tab)


def display_value(value, name: str = "") -> str:
    """A field's value as one line of text for the stale-form notice."""
    if value in (None, "", [], {}):
        return "(empty)"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict):  # an address, a person, insurance: its parts in the model's order
        order = list(clinical.STRUCTURED[name].model_fields) if name in clinical.STRUCTURED else list(value)
        parts = []
        for part in (value.get(key) for key in order):
            if isinstance(part, list):
                parts.extend(str(p) for p in part if p)
            elif part:
                parts.append(str(part))
        return ", ".join(parts) or "(empty)"
    if name in ("phone", "phone_other"):
        return phone_for_display(value)
    return str(value)


def changed_since(actor: StaffActor, editable: Editable, fields, mine=()) -> list[ChangedSince]:
    """What the stale-form page says about each field that changed since the form was loaded:
    its current value (from `editable`, freshly read through the door), and when it last changed
    and — for a role that may read the record's history (records:chart:read, as the privacy tab)
    — by whom, from the patient's `records:chart:changed` entries (field names only)."""
    from django.db.models import F

    from confide.audit.models import AuditEntry

    wanted = [name for name in editable.fields if name in set(fields)]
    last: dict[str, tuple[datetime.datetime, str, str]] = {}
    entries = AuditEntry.objects.filter(
        chain=str(actor.practice_id), subject_id=editable.header.id, event=AuditEvent.CHART_CHANGED.value
    ).order_by(F("seq").desc(nulls_first=True), "-id")[:LAST_CHANGES_SCAN]  # the newest, sealed or not yet
    for entry in entries:
        for name in set(entry.fields_changed) & set(wanted):
            last.setdefault(name, (entry.at, entry.actor_kind, entry.actor_id))
        if len(last) == len(wanted):
            break
    sees_history = actor.has(Perm.CHART_READ)
    names = _staff_names({who for _, kind, who in last.values() if kind == "user"}) if sees_history else {}

    def who(name: str) -> str | None:
        if not sees_history or name not in last:
            return None
        _, kind, actor_id = last[name]
        if kind == "user":
            return names.get(actor_id, "former staff member")
        return f"System job ({actor_id})" if kind == "system" else kind

    return [
        ChangedSince(name=name, label=FIELD_LABELS.get(name, name), now=display_value(editable.values.get(name), name),
                     also_yours=name in set(mine), when=last[name][0] if name in last else None, who=who(name))
        for name in wanted
    ]  # fmt: skip


# --- what the pages offer ----------------------------------------------------------------------------
def check_draft_editable(actor: StaffActor, note: NoteItem) -> None:
    """The edit page's rule is the service's (notes.check_editable): the author, a draft."""
    check_editable(actor, note)


def check_draft_signable(actor: StaffActor, note: NoteItem) -> None:
    check_signable(actor, note)


def abilities(actor: StaffActor) -> dict[str, bool]:
    """Which controls a page shows (links and forms). Only a convenience: every action checks
    again in its service and through the door; a control left out is one that would fail."""
    treatment = policy.categories_for(actor.role, Purpose.TREATMENT)
    write = actor.has(Perm.CHART_WRITE)
    return {
        "register": bool(writable_fields(actor.role, "registration")),
        "edit_registration": bool(writable_fields(actor.role, "registration")),
        "edit_health": bool(writable_fields(actor.role, "health")),
        "edit_insurance": bool(writable_fields(actor.role, "insurance")),
        "write_clinical": write and CLINICAL <= treatment,
        "write_notes": write and policy.NOTES in treatment,
        "psychotherapy": writes_psychotherapy_notes(actor),
        "upload": may_upload(actor, "document") or may_upload(actor, "photo"),
        # Merging reads and moves the whole clinical record of two charts (records/merge.py).
        "merge": write and CLINICAL <= treatment and policy.NOTES in treatment,
        "insurance_elsewhere": insurance_elsewhere(actor),
        # Who holds portal access to the record (records/portal_access.py).
        "portal_access": actor.has(Perm.REGISTRATION_WRITE),
        # How the patient wants to be notified (messaging:chart-notifications, messaging/preferences.py).
        "notifications": actor.has(Perm.CONSENT_RECORD),
        # disc part: the accounting of disclosures of this record (confide/disclosures/views.py).
        "disclosures": actor.has(Perm.DISCLOSURES_RECORD),
    }
