"""The patient list and the chart. Thin: parse (a form), one service call, render.

What each role may see is the chart door's decision (confide/records/chart.py opens it with a
tab's categories); these views never decide it. A refusal is a `Forbidden` or `NotFound` the
middleware turns into the 403 / 404 page. PHI never goes into a URL: ids only, and the search
is posted, not put in the query string.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from confide.core.http import streamed_file
from confide.core.purposes import Purpose
from confide.core.decorators import route
from confide.access.errors import AccessRefused
from confide.core.errors import InvalidInput, NotFound, NothingChanged
from confide.records import chart, files, merge, notes, portal_access, representatives, services
from confide.records.forms import (
    STRUCTURED_INPUTS,
    AllergyForm,
    AuthorizationDocumentForm,
    BreakGlassForm,
    ConditionForm,
    HealthBackgroundForm,
    InsuranceForm,
    ItemStatusForm,
    MergeCloseForm,
    MergeForm,
    MedicationForm,
    NoteForm,
    GuardianInviteForm,
    PortalInviteForm,
    RegistrationForm,
    SignForm,
    TextForm,
    UploadForm,
)
from confide.records.models import NoteTemplate

def _posted(request: HttpRequest):
    """The POST data of a POST (even an empty one, which must fail validation), else None."""
    return request.POST if request.method == "POST" else None


def _page_number(request: HttpRequest, source) -> int | None:
    raw = source.get("page", "1") or "1"
    # ASCII digits only, and few: str.isdigit() admits "²" and int() refuses over 4,300 digits.
    return int(raw) if len(raw) <= 6 and raw.isascii() and raw.isdigit() and int(raw) > 0 else None


# --- the patient list ---------------------------------------------------------------------------
@route("records:patient-list")
def patient_list(request: HttpRequest) -> HttpResponse:
    # The search is posted so that what was searched for (a name, a phone number) never sits
    # in a URL, a browser history or a proxy's log. GET shows the pages of the whole list.
    source = request.POST if request.method == "POST" else request.GET
    query = request.POST.get("q", "")[:200] if request.method == "POST" else ""
    sort = str(source.get("sort", "name") or "name")[:20]
    page_number = _page_number(request, source)
    error, page = None, None
    if page_number is None:
        error = "Page numbers are whole numbers from 1."
    else:
        try:
            page = services.list_patient_page(request.actor, query, page_number, sort=sort, request=request)
        except InvalidInput as exc:
            error = str(exc)
    sort = sort if sort in services.SORTS else "name"
    context = {"page": page, "patients": page.rows if page else [], "query": query, "error": error, "sort": sort, "sorts": services.SORTS}
    if request.htmx:
        # htmx swaps only 2xx responses; the message is inside the fragment it replaces.
        return render(request, "records/_patient_rows.html", context)
    return render(request, "records/patient_list.html", context, status=400 if error else 200)


@route("records:patient-new")
def patient_new(request: HttpRequest) -> HttpResponse:
    writable = chart.writable_fields(request.actor.role, "registration")
    form = RegistrationForm(_posted(request), writable=writable, with_reason=False)
    duplicates = []
    if request.method == "POST" and form.is_valid():
        values = form.changes()
        # A likely duplicate is shown first; only an explicit "register anyway" creates the chart.
        if request.POST.get("create_anyway") != "yes":
            duplicates = services.find_likely_duplicates(actor=request.actor, fields=values, request=request)
        if not duplicates:
            try:
                patient = services.do_create_patient(actor=request.actor, request=request, **values)
            except InvalidInput as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Patient registered.")
                return redirect("records:chart", patient_id=patient.pk)
    status = 400 if form.errors else 409 if duplicates else 200
    return render(request, "records/patient_form.html", {"form": form, "creating": True, "duplicates": duplicates}, status=status)


# --- the chart's tabs ---------------------------------------------------------------------------
def _chart_page(request: HttpRequest, template: str, tab: str, header, status: int = 200, **context) -> HttpResponse:
    context.update(
        header=header, tabs=chart.visible_tabs(request.actor), active_tab=chart.tab_named(tab), can=chart.abilities(request.actor),
        break_glass_minutes=chart.BREAK_GLASS_MINUTES,
    )
    return render(request, template, context, status=status)


def _overview_page(request, patient_id, glass=None) -> HttpResponse:
    overview = chart.get_overview(request.actor, patient_id, request=request, glass=glass)
    merges = merge.list_open_merges(request.actor, patient_id)
    return _chart_page(
        request, "records/chart/overview.html", "overview", overview.header, overview=overview, merges=merges, break_glass=glass
    )


@route("records:chart")
def chart_overview(request: HttpRequest, patient_id) -> HttpResponse:
    return _or_break_glass(request, patient_id, "overview", _overview_page)


def _clinical_page(request, patient_id, status: int = 200, glass=None, **forms) -> HttpResponse:
    data = chart.get_clinical(request.actor, patient_id, request=request, glass=glass)
    forms.setdefault("medication_form", MedicationForm())
    forms.setdefault("allergy_form", AllergyForm())
    forms.setdefault("condition_form", ConditionForm())
    status_form = forms.pop("status_form", None)
    return _chart_page(
        request, "records/chart/clinical.html", "clinical", data.header, status=status, clinical=data,
        status_changes=services.ITEM_STATUS_CHANGES, status_form=status_form, break_glass=glass, **forms,
    )  # fmt: skip


@route("records:chart-clinical")
def chart_clinical(request: HttpRequest, patient_id) -> HttpResponse:
    return _or_break_glass(request, patient_id, "clinical", _clinical_page)


def _notes_page(request, patient_id, glass=None) -> HttpResponse:
    # A bad page number shows the first page with the message, as a 400 (one opening either way).
    number = _page_number(request, request.GET)
    data = chart.get_notes(request.actor, patient_id, request=request, glass=glass, page=number or 1)
    return _chart_page(
        request, "records/chart/notes.html", "notes", data.header, status=200 if number else 400, notes=data, break_glass=glass,
        error=None if number else "Page numbers are whole numbers from 1.",
    )  # fmt: skip


@route("records:chart-notes")
def chart_notes(request: HttpRequest, patient_id) -> HttpResponse:
    return _or_break_glass(request, patient_id, "notes", _notes_page)


def _psychotherapy_page(request, patient_id, status: int = 200, psychotherapy_form=None) -> HttpResponse:
    data = chart.get_psychotherapy(request.actor, patient_id, request=request)
    return _chart_page(
        request, "records/chart/psychotherapy.html", "psychotherapy", data.header, status=status, psychotherapy=data,
        psychotherapy_form=psychotherapy_form or TextForm(label="New psychotherapy note", prefix="psychotherapy"),
    )  # fmt: skip


@route("records:chart-psychotherapy")
def chart_psychotherapy(request: HttpRequest, patient_id) -> HttpResponse:
    return _psychotherapy_page(request, patient_id)


def _documents_page(request, patient_id, status: int = 200, form=None, glass=None) -> HttpResponse:
    data = chart.get_documents(request.actor, patient_id, request=request, glass=glass)
    kinds = [(k, label) for k, label in data.kinds if chart.may_upload(request.actor, k)]
    return _chart_page(
        request, "records/chart/documents.html", "documents", data.header, status=status, documents=data,
        upload_form=form or UploadForm(kinds=kinds), upload_kinds=kinds, break_glass=glass,
    )  # fmt: skip


@route("records:chart-documents")
def chart_documents(request: HttpRequest, patient_id) -> HttpResponse:
    return _or_break_glass(request, patient_id, "documents", _documents_page)


# --- break-the-glass (issue 12 item 6) ----------------------------------------------------------------
# A tab the door refuses, for a role that may break the glass for it, answers 403 with the offer:
# a typed reason, a warning that the privacy officer is told. Posting it opens that tab once,
# flagged, with the reason kept encrypted and the privacy officer e-mailed (access/door.py).
BREAK_GLASS_PAGES = {"overview": _overview_page, "clinical": _clinical_page, "notes": _notes_page, "documents": _documents_page}


def _break_glass_tabs(request) -> list[tuple[str, str]]:
    return [(name, chart.TABS[name].label) for name in BREAK_GLASS_PAGES if chart.break_glass_offered(request.actor, chart.TABS[name])]


def _break_glass_offer(request, patient_id, form, status: int) -> HttpResponse:
    tab = chart.TABS.get(form["tab"].value() or "")
    context = {"form": form, "patient_id": patient_id, "tab": tab, "break_glass_minutes": chart.BREAK_GLASS_MINUTES}
    return render(request, "records/chart/break_glass.html", context, status=status)


# Within the allowed time (policy.BREAK_GLASS_MINUTES) the refused tabs of the patient open
# again without a new reason: the session keeps the opening's id (an id, never the reason), the
# door checks its owner, patient and age, and writes a flagged entry naming it.
SESSION_BREAK_GLASS = "confide_break_glass"


def _continuing(request, patient_id):
    return request.session.get(SESSION_BREAK_GLASS, {}).get(str(patient_id))


def _or_break_glass(request: HttpRequest, patient_id, tab: str, page) -> HttpResponse:
    """The tab; or, where the door refuses it and the role may break the glass for it, the tab
    under a break-the-glass of the allowed time, else the offer. One door opening per load."""
    offered = chart.break_glass_offered(request.actor, chart.TABS[tab])
    continues = _continuing(request, patient_id) if offered else None
    if continues:
        try:
            return page(request, patient_id, glass=chart.Glass(continues=continues))
        except AccessRefused as exc:  # the time is up (a refusal on the record): ask again
            if exc.code != "break_glass_expired":
                raise
            request.session[SESSION_BREAK_GLASS] = {k: v for k, v in request.session[SESSION_BREAK_GLASS].items() if k != str(patient_id)}
    else:
        try:
            return page(request, patient_id)
        except AccessRefused:
            if not offered:
                raise
    form = BreakGlassForm(initial={"tab": tab}, tabs=_break_glass_tabs(request))
    return _break_glass_offer(request, patient_id, form, status=403)


@route("records:chart-break-glass")
def chart_break_glass(request: HttpRequest, patient_id) -> HttpResponse:
    tabs = _break_glass_tabs(request)
    if not tabs:  # offered nowhere to this role: a flagged refusal on the record, then 403
        raise chart.refuse_break_glass(request.actor, patient_id, request=request)
    form = BreakGlassForm(request.POST, tabs=tabs)
    if not form.is_valid():
        return _break_glass_offer(request, patient_id, form, status=400)
    data = form.cleaned_data
    try:
        response = BREAK_GLASS_PAGES[data["tab"]](request, patient_id, glass=chart.Glass(reason=data["reason"]))
    except AccessRefused as exc:  # the door's own check of the reason (its text rule), or a refusal
        if exc.code not in {"break_glass_reason_too_short", "break_glass_reason_too_long", "break_glass_reason_invalid"}:
            raise
        form.add_error("reason", str(exc).capitalize() + ".")
        return _break_glass_offer(request, patient_id, form, status=400)
    opening = chart.break_glass_opening_id(request.actor, patient_id)
    request.session[SESSION_BREAK_GLASS] = {**request.session.get(SESSION_BREAK_GLASS, {}), str(patient_id): str(opening)}
    return response


@route("records:chart-privacy")
def chart_privacy(request: HttpRequest, patient_id) -> HttpResponse:
    # Paged on the entries themselves (?before=<entry id> for older, ?after= for newer): a page
    # costs the same on the first visit and the hundredth, however long the history grows.
    cursors = {name: _entry_id(request.GET[name]) for name in ("before", "after") if name in request.GET}
    if any(value is None for value in cursors.values()) or len(cursors) > 1:
        header = chart.get_header(request.actor, patient_id, Purpose.OPERATIONS, request=request)
        return _chart_page(request, "records/chart/privacy.html", "privacy", header, status=400, error="Pages are named by whole numbers from 1.")
    data = chart.get_privacy(request.actor, patient_id, request=request, **cursors)
    return _chart_page(request, "records/chart/privacy.html", "privacy", data.header, privacy=data)


def _entry_id(raw) -> int | None:
    """An audit entry id from a page link: ASCII digits (at most 19: a 64-bit id), from 1."""
    raw = str(raw or "")
    return int(raw) if 0 < len(raw) <= 19 and raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63 else None


# --- editing the record (REC4: every change names its reason) -------------------------------------
FORM_TITLES = {"registration": "Edit registration", "health": "Edit health background", "insurance": "Edit insurance"}
AFTER_SAVE = {"registration": "records:chart", "health": "records:chart-clinical", "insurance": "records:chart"}
# The inputs of a form that hold one patient field (structured values are several inputs).
INSURANCE_INPUTS = ("payer", "member_id", "group")


def _edit_form(which: str, editable, data=None):
    """The edit form of `which`, starting from the record's values and their version."""
    if which == "registration":
        initial = RegistrationForm.initial_from(editable.values)
        return RegistrationForm(data, writable=editable.fields, with_reason=True, initial={**initial, "version": editable.version})
    if which == "insurance":
        return InsuranceForm(data, initial={**InsuranceForm.initial_from(editable.values), "version": editable.version})
    return HealthBackgroundForm(data, initial={**editable.values, "version": editable.version})


def _inputs_of(which: str, name: str) -> tuple[str, ...]:
    if which == "insurance":
        return INSURANCE_INPUTS
    return STRUCTURED_INPUTS.get(name, (name,))


def _asked_again(which: str, posted, current, refresh) -> dict:
    """The data of the form shown again after a stale save: what was posted, except the fields
    only someone else changed (`refresh`), which now show their current values — so that saving
    again cannot quietly put back what they replaced — and the version of the current record."""
    initial = _edit_form(which, current).initial
    data = posted.copy()
    for name in refresh:
        for key in _inputs_of(which, name):
            value = initial.get(key)
            data[key] = value.isoformat() if isinstance(value, datetime.date) else ("" if value is None else str(value))
    data["version"] = current.version
    return data


def _edit(request: HttpRequest, patient_id, which: str) -> HttpResponse:
    editable = chart.get_editable(request.actor, patient_id, which, request=request)
    form = _edit_form(which, editable, request.POST if request.method == "POST" else None)
    status, notice, stale = 200, None, None
    if request.method == "POST":
        if form.is_valid():
            try:
                expected = services.read_version_token(form.cleaned_data["version"], editable.fields)
                services.do_update_patient(
                    actor=request.actor, patient_id=patient_id, reason=form.cleaned_data["reason"], request=request,
                    expected=expected, **form.changes(),
                )  # fmt: skip
            except NothingChanged as exc:
                notice = str(exc)
            except services.StaleEdit as exc:
                # Nothing was written. Show what changed since the form was loaded, and ask again.
                current = chart.get_editable(request.actor, patient_id, which, request=request)
                stale = chart.changed_since(request.actor, current, exc.fields, exc.mine)
                form = _edit_form(which, current, _asked_again(which, request.POST, current, set(exc.fields) - set(exc.mine)))
                editable, status = current, 409
            except InvalidInput as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Saved. The change and its reason are on the record's history.")
                return redirect(AFTER_SAVE[which], patient_id=patient_id)
        if stale is None:
            status = 400 if form.errors else 200
    template = "records/patient_form.html" if which == "registration" else "records/edit_form.html"
    return render(
        request, template,
        {"form": form, "header": editable.header, "title": FORM_TITLES[which], "notice": notice, "stale": stale, "creating": False,
         "cancel_url": reverse(AFTER_SAVE[which], kwargs={"patient_id": patient_id})},
        status=status,
    )  # fmt: skip


@route("records:patient-edit")
def patient_edit(request: HttpRequest, patient_id) -> HttpResponse:
    return _edit(request, patient_id, "registration")


@route("records:patient-edit-health")
def patient_edit_health(request: HttpRequest, patient_id) -> HttpResponse:
    return _edit(request, patient_id, "health")


@route("records:patient-edit-insurance")
def patient_edit_insurance(request: HttpRequest, patient_id) -> HttpResponse:
    return _edit(request, patient_id, "insurance")


# --- the clinical lists -----------------------------------------------------------------------
def _add_item(request: HttpRequest, patient_id, form_class, list_name: str, form_key: str, added: str) -> HttpResponse:
    form = form_class(request.POST)
    if form.is_valid():
        try:
            services.do_add_item(actor=request.actor, patient_id=patient_id, list_name=list_name, item=form.item(), request=request)
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, added)
            return redirect(f"{reverse('records:chart-clinical', kwargs={'patient_id': patient_id})}#{list_name}")
    return _clinical_page(request, patient_id, status=400, **{form_key: form})


@route("records:medication-add")
def medication_add(request: HttpRequest, patient_id) -> HttpResponse:
    return _add_item(request, patient_id, MedicationForm, "medications", "medication_form", "Medication added.")


@route("records:allergy-add")
def allergy_add(request: HttpRequest, patient_id) -> HttpResponse:
    return _add_item(request, patient_id, AllergyForm, "allergies", "allergy_form", "Allergy added.")


@route("records:condition-add")
def condition_add(request: HttpRequest, patient_id) -> HttpResponse:
    return _add_item(request, patient_id, ConditionForm, "conditions", "condition_form", "Condition added.")


STALE_ITEM = (
    "This item changed since the page was loaded (someone else marked or corrected it). It is shown below as it is now; "
    "mark it again if you still mean to."
)


@route("records:item-status")
def item_status(request: HttpRequest, patient_id) -> HttpResponse:
    form = ItemStatusForm(request.POST)
    back = reverse("records:chart-clinical", kwargs={"patient_id": patient_id})
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.do_set_item_status(
                actor=request.actor, patient_id=patient_id, list_name=data["list_name"], item_id=data["item_id"],
                status=data["status"], reason=data["reason"], request=request, expected=data["version"],
            )  # fmt: skip
        except NothingChanged as exc:
            messages.info(request, str(exc))
            return redirect(f"{back}#{data['list_name']}")
        except services.StaleEdit:
            form.add_error(None, STALE_ITEM)
            return _clinical_page(request, patient_id, status=409, status_form=form)
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Marked {data['status'].replace('-', ' ')}. Nothing is deleted: the item stays on the record.")
            return redirect(f"{back}#{data['list_name']}")
    return _clinical_page(request, patient_id, status=400, status_form=form)


# --- progress notes ---------------------------------------------------------------------------------
def _notes_url(patient_id, anchor: str = "") -> str:
    return reverse("records:chart-notes", kwargs={"patient_id": patient_id}) + (f"#{anchor}" if anchor else "")


def _psychotherapy_url(patient_id, anchor: str = "") -> str:
    return reverse("records:chart-psychotherapy", kwargs={"patient_id": patient_id}) + (f"#{anchor}" if anchor else "")


def _message_page(request: HttpRequest, header, title: str, message: str, back: str, status: int = 400) -> HttpResponse:
    return render(request, "records/message.html", {"header": header, "title": title, "message": message, "back": back}, status=status)


@route("records:note-new")
def note_new(request: HttpRequest, patient_id) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    template = source.get("template", NoteTemplate.SOAP)
    header = chart.get_header(request.actor, patient_id, Purpose.TREATMENT, request=request)
    if template not in NoteTemplate.values:
        return _message_page(request, header, "New note", "Choose a note template: SOAP or free text.", _notes_url(patient_id))
    form = NoteForm(_posted(request), template=template)
    if request.method == "POST" and form.is_valid():
        try:
            note = notes.do_create_note(actor=request.actor, patient_id=patient_id, template=template, content=form.content(), request=request)
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Draft saved. Sign it when it is complete; a signed note is locked.")
            return redirect(_notes_url(patient_id, f"note-{note.pk}"))
    return render(
        request, "records/note_form.html",
        {"form": form, "header": header, "title": f"New {NoteTemplate(template).label.split(' (')[0]} note", "cancel_url": _notes_url(patient_id)},
        status=400 if form.errors else 200,
    )  # fmt: skip


@route("records:note-edit")
def note_edit(request: HttpRequest, patient_id, note_id) -> HttpResponse:
    header, note = chart.get_note(request.actor, patient_id, note_id, request=request)
    try:
        chart.check_draft_editable(request.actor, note)
    except InvalidInput as exc:
        return _message_page(request, header, "Edit note", str(exc), _notes_url(patient_id, f"note-{note.id}"))
    form = NoteForm(_posted(request), template=note.template, initial=note.content)
    notice = None
    if request.method == "POST" and form.is_valid():
        try:
            notes.do_update_draft(actor=request.actor, note_id=note_id, patient_id=patient_id, content=form.content(), request=request)
        except NothingChanged as exc:
            notice = str(exc)
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Draft saved.")
            return redirect(_notes_url(patient_id, f"note-{note_id}"))
    return render(
        request, "records/note_form.html",
        {"form": form, "header": header, "note": note, "title": "Edit draft note", "notice": notice, "cancel_url": _notes_url(patient_id)},
        status=400 if form.errors else 200,
    )  # fmt: skip


@route("records:note-sign")
def note_sign(request: HttpRequest, patient_id, note_id) -> HttpResponse:
    header, note = chart.get_note(request.actor, patient_id, note_id, request=request)
    try:
        chart.check_draft_signable(request.actor, note)
    except InvalidInput as exc:
        return _message_page(request, header, "Sign note", str(exc), _notes_url(patient_id, f"note-{note.id}"))
    form = SignForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            notes.do_sign_note(actor=request.actor, note_id=note_id, patient_id=patient_id, request=request)
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Note signed and locked. Later changes are addenda.")
            return redirect(_notes_url(patient_id, f"note-{note_id}"))
    return render(
        request, "records/note_sign.html",
        {"form": form, "header": header, "note": note, "cancel_url": _notes_url(patient_id, f"note-{note_id}")},
        status=400 if form.errors else 200,
    )  # fmt: skip


@route("records:note-addendum")
def note_addendum(request: HttpRequest, patient_id, note_id) -> HttpResponse:
    header, note = chart.get_note(request.actor, patient_id, note_id, request=request)
    if note.is_draft:
        return _message_page(request, header, "Addendum", "A draft is edited, not amended: addenda are for signed notes.",
                             _notes_url(patient_id, f"note-{note.id}"))  # fmt: skip
    form = TextForm(_posted(request), label="Addendum")
    if request.method == "POST" and form.is_valid():
        try:
            notes.do_add_addendum(actor=request.actor, note_id=note_id, patient_id=patient_id, text=form.cleaned_data["text"], request=request)
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Addendum signed and added to the note.")
            return redirect(_notes_url(patient_id, f"note-{note_id}"))
    return render(
        request, "records/note_addendum.html",
        {"form": form, "header": header, "note": note, "cancel_url": _notes_url(patient_id, f"note-{note_id}")},
        status=400 if form.errors else 200,
    )  # fmt: skip


# --- psychotherapy notes: only ever their author's --------------------------------------------------
@route("records:psychotherapy-new")
def psychotherapy_new(request: HttpRequest, patient_id) -> HttpResponse:
    form = TextForm(request.POST, label="New psychotherapy note", prefix="psychotherapy")
    if form.is_valid():
        try:
            note = notes.do_create_psychotherapy_note(actor=request.actor, patient_id=patient_id, text=form.cleaned_data["text"], request=request)
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Psychotherapy note saved as a draft. Only you can see it.")
            return redirect(_psychotherapy_url(patient_id, f"psychotherapy-{note.pk}"))
    return _psychotherapy_page(request, patient_id, status=400, psychotherapy_form=form)


@route("records:psychotherapy-sign")
def psychotherapy_sign(request: HttpRequest, patient_id, psychotherapy_note_id) -> HttpResponse:
    header, note = chart.get_psychotherapy_note(request.actor, patient_id, psychotherapy_note_id, request=request)
    back = _psychotherapy_url(patient_id, f"psychotherapy-{note['id']}")
    if note["status"] != "draft":
        return _message_page(request, header, "Sign psychotherapy note", "This note is already signed.", back)
    form = SignForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            notes.do_sign_psychotherapy_note(actor=request.actor, patient_id=patient_id, note_id=psychotherapy_note_id, request=request)
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Psychotherapy note signed and locked.")
            return redirect(back)
    return render(
        request, "records/note_sign.html",
        {"form": form, "header": header, "psychotherapy_note": note, "cancel_url": back}, status=400 if form.errors else 200,
    )  # fmt: skip


@route("records:psychotherapy-addendum")
def psychotherapy_addendum(request: HttpRequest, patient_id, psychotherapy_note_id) -> HttpResponse:
    header, note = chart.get_psychotherapy_note(request.actor, patient_id, psychotherapy_note_id, request=request)
    back = _psychotherapy_url(patient_id, f"psychotherapy-{note['id']}")
    if note["status"] == "draft":
        return _message_page(request, header, "Addendum", "A draft is signed first: addenda are for signed notes.", back)
    form = TextForm(_posted(request), label="Addendum")
    if request.method == "POST" and form.is_valid():
        try:
            notes.do_add_psychotherapy_addendum(
                actor=request.actor, patient_id=patient_id, note_id=psychotherapy_note_id, text=form.cleaned_data["text"], request=request
            )
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Addendum signed and added to the psychotherapy note.")
            return redirect(back)
    return render(
        request, "records/note_addendum.html",
        {"form": form, "header": header, "psychotherapy_note": note, "cancel_url": back}, status=400 if form.errors else 200,
    )  # fmt: skip


# --- documents and photos ----------------------------------------------------------------------------
@route("records:file-upload")
def file_upload(request: HttpRequest, patient_id) -> HttpResponse:
    kinds = [(k, label) for k, label in (("document", "Document"), ("photo", "Photo")) if chart.may_upload(request.actor, k)]
    form = UploadForm(request.POST, request.FILES, kinds=kinds)
    if form.is_valid():
        data = form.cleaned_data
        try:
            files.do_add_file(actor=request.actor, patient_id=patient_id, kind=data["kind"], upload=data["file"], title=data["title"], request=request)
        except InvalidInput as exc:
            form.add_error("file", str(exc))
        else:
            messages.success(request, "Photo added." if data["kind"] == "photo" else "Document added.")
            return redirect("records:chart-documents", patient_id=patient_id)
    return _documents_page(request, patient_id, status=400, form=form)


def _stream(download: files.Download, *, attachment: bool) -> StreamingHttpResponse:
    return streamed_file(download.stream, content_type=download.content_type, size=download.size, filename=download.filename,
                         attachment=attachment)  # fmt: skip


@route("records:document-download")
def document_download(request: HttpRequest, patient_id, document_id) -> HttpResponse:
    download = files.open_file_for_download(request.actor, patient_id=patient_id, kind="document", file_id=document_id, request=request)
    return _stream(download, attachment=True)


@route("records:authorization-download")
def authorization_download(request: HttpRequest, patient_id, document_id) -> HttpResponse:
    download = files.open_file_for_download(request.actor, patient_id=patient_id, kind="authorization", file_id=document_id, request=request)
    return _stream(download, attachment=True)


@route("records:portal-link-document")
def portal_link_document(request: HttpRequest, patient_id, link_id) -> HttpResponse:
    """Keep a parent's or guardian's authorization (a guardianship order, a birth certificate)
    with their portal link: from the chart's "Portal access" panel
    (records/_portal_link_document.html). Another practice's or patient's link: 404."""
    link = representatives.access_representative_link(request.actor, patient_id, link_id)
    form = AuthorizationDocumentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            representatives.do_attach_representative_document(
                actor=request.actor, patient_id=patient_id, link_id=link.pk, upload=form.cleaned_data["file"],
                title=form.cleaned_data["title"], request=request,
            )  # fmt: skip
        except InvalidInput as exc:
            form.add_error("file", str(exc))
        else:
            messages.success(request, "Document added to this parent's or guardian's access.")
            return redirect("records:chart-portal", patient_id=patient_id)
    context = {"form": form, "patient_id": patient_id, "link": link, "documents": None}
    return render(request, "records/portal_link_document.html", context, status=400)


@route("records:photo-view")
def photo_view(request: HttpRequest, patient_id, photo_id) -> HttpResponse:
    # A page of ours around the picture: a browser's own image viewer styles itself inline,
    # which the image's strict policy would (rightly) refuse.
    header, photo = chart.get_photo(request.actor, patient_id, photo_id, request=request)
    return render(request, "records/photo.html", {"header": header, "photo": photo})


@route("records:photo-image")
def photo_image(request: HttpRequest, patient_id, photo_id) -> HttpResponse:
    download = files.open_file_for_download(request.actor, patient_id=patient_id, kind="photo", file_id=photo_id, request=request)
    return _stream(download, attachment=False)


# --- merging two charts of one person (records/merge.py) ------------------------------------------------
@route("records:patient-merge")
def patient_merge(request: HttpRequest, patient_id) -> HttpResponse:
    """This chart (a duplicate) merged into another: find the chart to keep (a posted search,
    never in the URL), choose it, confirm. Nothing moves before the confirmed POST. The same
    route, posted with `action` (undo / final) and a merge id, closes a merge *into* this chart
    (the buttons on its overview)."""
    if request.method == "POST" and "action" in request.POST:
        return _close_merge(request, patient_id)
    header = chart.get_header(request.actor, patient_id, Purpose.TREATMENT, request=request)
    query = request.POST.get("q", "")[:200] if request.method == "POST" else ""
    candidates, error, status = [], None, 200
    form = MergeForm(request.POST if request.method == "POST" and "survivor" in request.POST else None)
    if request.method == "POST" and "survivor" not in request.POST and "q" not in request.POST:
        error, status = "Search for the chart to keep first.", 400
    elif query.strip():
        try:
            candidates = [c for c in services.list_patient_summaries(request.actor, query, request=request) if c.id != header.id]
        except InvalidInput as exc:
            error, status = str(exc), 400
    if form.is_bound:
        if form.is_valid():
            data = form.cleaned_data
            try:
                done = merge.do_merge_patients(actor=request.actor, survivor_id=data["survivor"], duplicate_id=patient_id,
                                               final=data["mode"] == "final", request=request)  # fmt: skip
            except InvalidInput as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Charts merged." + (" The duplicate's key was destroyed." if done.state == "final" else
                                                              " You can undo the merge from this chart's overview for 30 days."))  # fmt: skip
                return redirect("records:chart", patient_id=done.survivor_id)
        status = 400
    return render(request, "records/patient_merge.html",
                  {"header": header, "query": query, "candidates": candidates, "form": form, "error": error}, status=status)  # fmt: skip


def _close_merge(request: HttpRequest, patient_id) -> HttpResponse:
    """Undo a reversible merge into this chart, or make it final."""
    form = MergeCloseForm(request.POST)
    back = reverse("records:chart", kwargs={"patient_id": patient_id})
    header = chart.get_header(request.actor, patient_id, Purpose.TREATMENT, request=request)
    if form.is_valid():
        data = form.cleaned_data
        if not any(m.id == data["merge_id"] for m in merge.list_open_merges(request.actor, patient_id)):
            raise NotFound("merge")
        try:
            if data["action"] == "undo":
                done = merge.do_undo_merge(actor=request.actor, merge_id=data["merge_id"], request=request)
                messages.success(request, "Merge undone: what came from the other chart is back there.")
                return redirect("records:chart", patient_id=done.duplicate_id)
            merge.do_finalize_merge(actor=request.actor, merge_id=data["merge_id"], request=request)
            messages.success(request, "Merge made final. The duplicate's key was destroyed.")
        except InvalidInput as exc:
            messages.error(request, str(exc))
        return redirect(back)
    return _message_page(request, header, "Merge", " ".join(str(e) for e in form.non_field_errors()) or "Nothing was changed.", back)


# --- portal access (records/portal_access.py) -------------------------------------------------------
_PORTAL_DONE = {
    "invite": "Invitation sent. The link works for {days} days.",
    "invite-guardian": "Invitation sent to the parent or guardian. The link works for {days} days.",
    "end": "Portal access ended. The person was told by e-mail.",
    "withdraw": "Invitation withdrawn. Its link no longer works.",
}


@route("records:chart-portal")
def chart_portal(request: HttpRequest, patient_id) -> HttpResponse:
    """Who holds portal access to this record, pending invitations, and the buttons to invite
    the patient, invite a parent or guardian (minors only), end access or withdraw an invitation.
    One route: a POST names its `action`."""
    invite_form = guardian_form = None
    error, status = None, 200
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if request.method == "POST":
        status = 400
        try:
            if action == "invite":
                invite_form = PortalInviteForm(request.POST)
                if invite_form.is_valid():
                    portal_access.do_invite_patient(actor=request.actor, patient_id=patient_id, email=invite_form.cleaned_data["email"], request=request)
                    status = 302
            elif action == "invite-guardian":
                guardian_form = GuardianInviteForm(request.POST, prefix="guardian")
                if guardian_form.is_valid():
                    data = guardian_form.cleaned_data
                    portal_access.do_invite_representative(
                        actor=request.actor, patient_id=patient_id, email=data["email"], relationship=data["relationship"],
                        basis=data["basis"], verified=data["verified"], request=request,
                    )  # fmt: skip
                    status = 302
            elif action == "end":
                portal_access.do_end_access(actor=request.actor, patient_id=patient_id, link_id=request.POST.get("link_id"), request=request)
                status = 302
            elif action == "withdraw":
                portal_access.do_withdraw_invitation(actor=request.actor, patient_id=patient_id, invitation_id=request.POST.get("invitation_id"), request=request)
                status = 302
            else:
                error = "Choose one of the buttons on this page."
        except InvalidInput as exc:
            error = str(exc)
        if status == 302:
            from django.conf import settings

            messages.success(request, _PORTAL_DONE[action].format(days=settings.CONFIDE_PORTAL_INVITE_DAYS))
            return redirect("records:chart-portal", patient_id=patient_id)
    access = portal_access.get_portal_access(request.actor, patient_id, request=request)
    context = {
        "header": access.header, "access": access, "error": error,
        "invite_form": invite_form or PortalInviteForm(initial={"email": access.email}),
        "guardian_form": guardian_form or GuardianInviteForm(prefix="guardian"),  # its own ids beside the other form's
    }  # fmt: skip
    return render(request, "records/chart_portal.html", context, status=status)
