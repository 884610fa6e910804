"""The calendar's pages (issue 16 items 1-2): week / day / month, today's list, a clinician's
agenda, booking, one appointment (status, move, resize, cancel), the set-up screens.

Every page that shows patient names opens the door ONCE as a list with the name category only
(`_names`): the front desk sees names, type and time, never clinical data. Every time on a
page is in the practice's zone. Every change posts the `version` it read (409 when stale) and an
overlap is a 409 with "no longer free" next to the form. Access is each route's row in
core/routes.py.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from confide.access.door import open_patient_list
from confide.core.decorators import route
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm, Role
from confide.core.purposes import Purpose
from confide.records.values import display_name
from confide.vault import keys
from confide.scheduling import recurrence, services, waitlist
from confide.scheduling.clock import AmbiguousTime, NonexistentTime, aware, practice_zone
from confide.scheduling.forms import WEEKDAYS, BookForm, WaitlistForm, CancelForm, HoursForm, LocationForm, MoveForm, StatusForm, TimeZoneForm, TypeForm
from confide.scheduling.google import busy_blocks
from confide.scheduling.models import (
    HOLDS_TIME,
    Appointment,
    AppointmentType,
    BlockedTime,
    Location,
    Room,
    SchedulingSettings,
    Status,
    WaitlistEntry,
    WorkingHours,
)

NAME_ONLY = ["identifiers.name"]
ROW_MINUTES = 15
VIEWS = ("week", "day", "month")
MAX_CLINICIANS = 12


# --- helpers --------------------------------------------------------------------------------------
def _clinicians():
    from confide.accounts.models import Membership

    return list(Membership.objects.filter(is_active=True, role__in=(Role.CLINICIAN, Role.OWNER)).select_related("user").order_by("user__display_name"))


def _clinician_choices():
    return [(str(m.pk), m.user.display_name) for m in _clinicians()]


def _names(request, patient_ids) -> dict:
    """Patient names for a page: one door opening for the whole list (one audit entry)."""
    with open_patient_list(request.actor, Purpose.OPERATIONS, list(dict.fromkeys(patient_ids)), categories=NAME_ONLY, request=request) as listed:
        keys.prefetch_subject_keys(request.actor.practice_id, [p.pk for p in listed])  # one key query per page
        return {p.pk: display_name(p.given_name, p.family_name, p.preferred_name) for p in listed}


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _day(value, zone) -> datetime.date:
    try:
        day = datetime.date.fromisoformat(str(value or "")[:10])
        if 2000 <= day.year <= 2100:
            return day
    except ValueError:
        pass
    return timezone.now().astimezone(zone).date()


def _midnight(day: datetime.date, zone) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=zone).astimezone(datetime.UTC)


def _load(appointment_id) -> Appointment:
    row = Appointment.objects.select_related("appointment_type", "clinician__user", "location").filter(pk=appointment_id).first()
    if row is None:
        raise Http404("appointment")
    return row


@dataclass
class Block:
    kind: str  # appointment / busy / blocked
    starts: datetime.datetime  # local
    ends: datetime.datetime
    label: str
    row: int = 1
    span: int = 1
    appointment: object = None
    colour: str = ""
    clinician: str = ""

    @property
    def minutes(self) -> int:
        return int((self.ends - self.starts).total_seconds() // 60)


@dataclass
class Column:
    day: datetime.date
    clinician: object  # Membership or None
    blocks: list = field(default_factory=list)
    cells: list = field(default_factory=list)  # (row, "HH:MM", free)
    heading: str = ""


def _place(block: Block, day: datetime.date, first_hour: int, rows: int) -> Block:
    start_of_view = datetime.datetime.combine(day, datetime.time(first_hour), tzinfo=block.starts.tzinfo)
    start_minutes = (block.starts.replace(tzinfo=None) - start_of_view.replace(tzinfo=None)).total_seconds() / 60
    length = (block.ends - block.starts).total_seconds() / 60
    block.row = max(1, int(start_minutes // ROW_MINUTES) + 1)
    block.span = max(1, min(rows - block.row + 1, round(length / ROW_MINUTES)))
    return block


# --- the calendar ---------------------------------------------------------------------------------
@route("scheduling:calendar")
def calendar_page(request: HttpRequest) -> HttpResponse:
    zone = practice_zone(request.actor.practice_id)
    view = request.GET.get("view", "week")
    view = view if view in VIEWS else "week"
    day = _day(request.GET.get("date"), zone)
    everyone = _clinicians()
    by_id = {m.pk: m for m in everyone}
    chosen = [by_id[u] for u in (_uuid(v) for v in request.GET.getlist("clinician")[:MAX_CLINICIANS]) if u in by_id]
    if not chosen:
        own = [m for m in everyone if m.user_id == request.user.id]
        chosen = own or everyone[:1] if view != "day" else everyone[:MAX_CLINICIANS]
    if view == "day":
        first, days = day, 1
    elif view == "week":
        first, days = day - datetime.timedelta(days=day.weekday()), 7
    else:
        first = day.replace(day=1)
        days = ((first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) - first).days
    last = first + datetime.timedelta(days=days)
    start, end = _midnight(first, zone), _midnight(last, zone)
    ids = [m.pk for m in chosen]
    appointments = list(
        Appointment.objects.filter(clinician_id__in=ids, starts_at__lt=end, ends_at__gt=start)
        .exclude(status=Status.CANCELLED)
        .select_related("appointment_type")
        .order_by("starts_at")
    )
    names = _names(request, [a.patient_id for a in appointments])
    blocked = list(BlockedTime.objects.filter(clinician_id__in=ids, starts_at__lt=end, ends_at__gt=start))
    busy = {m.pk: busy_blocks(m.pk, start, end, viewer_id=request.user.id) for m in chosen}
    step = {"day": datetime.timedelta(days=1), "week": datetime.timedelta(days=7)}.get(view)
    if step:
        prev_day, next_day = first - step, first + step
    else:
        prev_day, next_day = (first - datetime.timedelta(days=1)).replace(day=1), last
    context = {
        "view": view, "day": day, "first": first, "last": last - datetime.timedelta(days=1), "zone": zone,
        "clinicians": everyone, "chosen": chosen, "chosen_ids": {str(m.pk) for m in chosen},
        "prev": prev_day.isoformat(), "next": next_day.isoformat(), "today": timezone.now().astimezone(zone).date().isoformat(),
        "can_book": request.actor.has(Perm.APPOINTMENTS_BOOK),
        "clinician_query": "&".join(f"clinician={m.pk}" for m in chosen),
    }  # fmt: skip
    if view == "month":
        context["weeks"] = _month(first, days, appointments, names, zone)
        return render(request, "scheduling/month.html", context)
    first_hour, last_hour = 7, 20
    for a in appointments:
        s, e = a.starts_at.astimezone(zone), a.ends_at.astimezone(zone)
        first_hour = min(first_hour, s.hour)
        last_hour = max(last_hour, e.hour + (1 if e.minute else 0))
    last_hour = min(24, last_hour)
    rows = (last_hour - first_hour) * 60 // ROW_MINUTES
    columns = []
    pairs = [(first + datetime.timedelta(days=i), None) for i in range(days)] if view == "week" else [(day, m) for m in chosen]
    for col_day, member in pairs:
        col = Column(col_day, member, heading=member.user.display_name if member else f"{col_day:%a %-d %b}")
        members = [member] if member else chosen
        lo, hi = _midnight(col_day, zone), _midnight(col_day + datetime.timedelta(days=1), zone)
        for a in appointments:
            if a.clinician_id in {m.pk for m in members} and a.starts_at < hi and a.ends_at > lo:
                col.blocks.append(_place(Block(
                    "appointment", a.starts_at.astimezone(zone), a.ends_at.astimezone(zone),
                    names.get(a.patient_id, "Patient"), appointment=a, colour=a.appointment_type.colour,
                    clinician=by_id[a.clinician_id].user.display_name if len(chosen) > 1 and not member else "",
                ), col_day, first_hour, rows))  # fmt: skip
        for m in members:
            for b in blocked:
                if b.clinician_id == m.pk and b.starts_at < hi and b.ends_at > lo:
                    col.blocks.append(_place(Block("blocked", max(b.starts_at, lo).astimezone(zone), min(b.ends_at, hi).astimezone(zone), b.label or "Busy"), col_day, first_hour, rows))
            for g in busy.get(m.pk, []):
                if g.starts_at < hi and g.ends_at > lo:
                    col.blocks.append(_place(Block("busy", max(g.starts_at, lo).astimezone(zone), min(g.ends_at, hi).astimezone(zone), g.title or "Busy"), col_day, first_hour, rows))
        # A half-hour cell is a "book here" link only where nothing is drawn over it: a link
        # half hidden under a block would be a target too small to touch (WCAG 2.5.8).
        covered = {row for b in col.blocks for row in range(b.row, b.row + b.span)}
        for r in range(0, rows, 2):
            minutes = first_hour * 60 + r * ROW_MINUTES
            free = not ({r + 1, r + 2} & covered)
            col.cells.append((r + 1, f"{minutes // 60:02d}:{minutes % 60:02d}", free))
        columns.append(col)
    context.update({
        "columns": columns, "rows": rows,
        "hours": [(1 + (h - first_hour) * 60 // ROW_MINUTES, f"{h:02d}:00") for h in range(first_hour, last_hour)],
        "single_clinician": chosen[0] if len(chosen) == 1 else None,
    })  # fmt: skip
    return render(request, "scheduling/calendar.html", context)


def _month(first, days, appointments, names, zone):
    by_day: dict = {}
    for a in appointments:
        by_day.setdefault(a.starts_at.astimezone(zone).date(), []).append((a, names.get(a.patient_id, "Patient")))
    cells = [None] * first.weekday() + [(first + datetime.timedelta(days=i), by_day.get(first + datetime.timedelta(days=i), [])) for i in range(days)]
    cells += [None] * (-len(cells) % 7)
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]


@route("scheduling:today")
def today_page(request: HttpRequest) -> HttpResponse:
    zone = practice_zone(request.actor.practice_id)
    today = timezone.now().astimezone(zone).date()
    rows = list(
        Appointment.objects.filter(starts_at__gte=_midnight(today, zone), starts_at__lt=_midnight(today + datetime.timedelta(days=1), zone))
        .select_related("appointment_type", "clinician__user", "location").order_by("starts_at")
    )  # fmt: skip
    names = _names(request, [a.patient_id for a in rows])
    context = {"rows": [(a, names.get(a.patient_id, "Patient")) for a in rows], "today": today, "zone": zone,
               "can_book": request.actor.has(Perm.APPOINTMENTS_BOOK)}  # fmt: skip
    return render(request, "scheduling/today.html", context)


@route("scheduling:agenda")
def agenda_page(request: HttpRequest) -> HttpResponse:
    zone = practice_zone(request.actor.practice_id)
    today = timezone.now().astimezone(zone).date()
    mine = request.actor.membership_id
    rows = list(
        Appointment.objects.filter(clinician_id=mine, status__in=HOLDS_TIME, starts_at__gte=_midnight(today, zone),
                                   starts_at__lt=_midnight(today + datetime.timedelta(days=7), zone))
        .select_related("appointment_type", "location").order_by("starts_at")
    )  # fmt: skip
    names = _names(request, [a.patient_id for a in rows])
    days: dict = {}
    for a in rows:
        days.setdefault(a.starts_at.astimezone(zone).date(), []).append((a, names.get(a.patient_id, "Patient")))
    return render(request, "scheduling/agenda.html", {"days": sorted(days.items()), "zone": zone, "today": today})


# --- booking --------------------------------------------------------------------------------------
def _book_choices(request, query: str):
    from confide.records.services import search_patient_ids

    try:
        found = search_patient_ids(request.actor, query)[:50]
    except (InvalidInput, Forbidden):
        found = []
    return found


def _book_form(request, data=None, initial=None, patient_ids=()):
    names = _names(request, patient_ids)
    patients = sorted(((str(pk), name) for pk, name in names.items()), key=lambda p: p[1].casefold())
    types = [(str(t.pk), f"{t.name} ({t.duration_minutes} min)") for t in AppointmentType.objects.filter(is_active=True)]
    locations = [(str(loc.pk), loc.name) for loc in Location.objects.filter(is_active=True)]
    return BookForm(data, initial=initial, patients=patients, clinicians=_clinician_choices(), types=types, locations=locations)


@route("scheduling:book")
def book_page(request: HttpRequest) -> HttpResponse:
    zone = practice_zone(request.actor.practice_id)
    source = request.POST if request.method == "POST" else request.GET
    query = str(source.get("q", "") or "")[:100]
    patient_ids = _book_choices(request, query)
    chosen_patient = _uuid(source.get("patient"))
    if chosen_patient and chosen_patient not in patient_ids:
        patient_ids = [chosen_patient, *patient_ids]
    if request.method == "GET":
        initial = {k: str(request.GET.get(k, ""))[:40] for k in ("clinician", "date", "time", "patient", "appointment_type")}
        form = _book_form(request, initial=initial, patient_ids=patient_ids)
        return render(request, "scheduling/book.html", {"form": form, "zone": zone, "q": query, "waitlist": _uuid(request.GET.get("waitlist")) or ""})
    form = _book_form(request, data=request.POST, patient_ids=patient_ids)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            rule = form.rule()
            if rule:
                series, expansion = recurrence.book_series(
                    request.actor, patient_id=data["patient"], clinician_id=data["clinician"], appointment_type_id=data["appointment_type"],
                    first_local=form.wall(), zone=zone, rule=rule, location_id=data["location"] or None, request=request,
                )  # fmt: skip
                messages.success(request, "Booked: " + expansion.summary(zone))
                first = Appointment.objects.filter(series=series).order_by("starts_at").first()
                return redirect("scheduling:appointment", appointment_id=first.pk)
            starts = aware(form.wall(), zone, fold=form.fold_value())
            appointment = services.book(request.actor, patient_id=data["patient"], clinician_id=data["clinician"],
                                        appointment_type_id=data["appointment_type"], starts_at=starts,
                                        location_id=data["location"] or None, request=request)  # fmt: skip
            messages.success(request, f"Booked for {starts.astimezone(zone):%A %-d %B at %H:%M}.")
            entry_id = _uuid(request.POST.get("waitlist"))
            if entry_id and WaitlistEntry.objects.filter(pk=entry_id, patient_id=data["patient"]).exists():
                waitlist.close(request.actor, entry_id, appointment_id=appointment.pk, request=request)
                messages.info(request, "Taken off the waitlist.")
            return redirect("scheduling:appointment", appointment_id=appointment.pk)
        except (NonexistentTime, AmbiguousTime) as exc:
            form.add_error("time", str(exc))
        except (services.SlotTaken, recurrence.SeriesConflict) as exc:
            form.add_error("time", str(exc))
            status = 409
        except NotFound as exc:
            form.add_error(None, f"That {exc} is not available: choose another.")
        except InvalidInput as exc:
            form.add_error("repeat" if form.rule() else None, str(exc))
    context = {"form": form, "zone": zone, "q": query, "waitlist": _uuid(request.POST.get("waitlist")) or ""}
    return render(request, "scheduling/book.html", context, status=status)


# --- one appointment ------------------------------------------------------------------------------
def _appointment_page(request, appointment_id, *, move_form=None, cancel_form=None, status=200, error=""):
    zone = practice_zone(request.actor.practice_id)
    appointment = _load(appointment_id)
    names = _names(request, [appointment.patient_id])
    local_start = appointment.starts_at.astimezone(zone)
    move_form = move_form or MoveForm(initial={
        "version": appointment.version, "date": local_start.date(), "time": local_start.strftime("%H:%M"),
        "clinician": str(appointment.clinician_id), "scope": "one",
        "minutes": int((appointment.ends_at - appointment.starts_at).total_seconds() // 60),
    }, clinicians=_clinician_choices())  # fmt: skip
    cancel_form = cancel_form or CancelForm(initial={"version": appointment.version, "scope": "one"})
    nexts = sorted(services.TRANSITIONS.get(appointment.status, frozenset()) - {Status.CANCELLED})
    waiting = 0
    if appointment.status == Status.CANCELLED:
        waiting = _waiting_for(appointment.clinician_id)
    context = {
        "appointment": appointment, "patient_name": names.get(appointment.patient_id, "Patient"), "zone": zone,
        "starts": local_start, "ends": appointment.ends_at.astimezone(zone), "move_form": move_form, "cancel_form": cancel_form,
        "next_statuses": [(s, Status(s).label) for s in nexts], "can_book": request.actor.has(Perm.APPOINTMENTS_BOOK),
        "error": error, "waiting": waiting,
    }  # fmt: skip
    return render(request, "scheduling/appointment.html", context, status=status)


def _waiting_for(clinician_id) -> int:
    return waitlist.waiting_for(clinician_id)


@route("scheduling:appointment")
def appointment_page(request: HttpRequest, appointment_id) -> HttpResponse:
    return _appointment_page(request, appointment_id)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _refused(request, appointment_id, message, status, **forms):
    if _wants_json(request):
        return JsonResponse({"ok": False, "message": message}, status=status)
    messages.error(request, message)
    return _appointment_page(request, appointment_id, status=status, error=message, **forms)


@route("scheduling:appointment-move")
def appointment_move(request: HttpRequest, appointment_id) -> HttpResponse:
    zone = practice_zone(request.actor.practice_id)
    current = _load(appointment_id)
    form = MoveForm(request.POST, clinicians=_clinician_choices())
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return _refused(request, appointment_id, f"Not moved: {first}", 400, move_form=form)
    data = form.cleaned_data
    try:
        starts = aware(form.wall(), zone, fold=form.fold_value())
        ends = starts + datetime.timedelta(minutes=data["minutes"])
        scope = data.get("scope") or "one"
        if scope != "one" and current.series_id:
            if data["version"] != current.version:
                raise services.ChangedMeanwhile("Someone changed this appointment meanwhile. Reload to see it as it is now.")
            count = recurrence.move_following(request.actor, current, starts_at=starts, scope=scope, request=request)
            message = f"Moved {count} appointments of the series."
        else:
            services.move(request.actor, appointment_id, version=data["version"], starts_at=starts, ends_at=ends,
                          clinician_id=data["clinician"], request=request)  # fmt: skip
            message = f"Moved to {starts.astimezone(zone):%A %-d %B at %H:%M}–{ends.astimezone(zone):%H:%M}."
    except (NonexistentTime, AmbiguousTime) as exc:
        form.add_error("time", str(exc))
        return _refused(request, appointment_id, str(exc), 400, move_form=form)
    except (services.SlotTaken, services.ChangedMeanwhile) as exc:
        form.add_error("time" if isinstance(exc, services.SlotTaken) else None, str(exc))
        return _refused(request, appointment_id, str(exc), 409, move_form=form)
    except NotFound as exc:
        return _refused(request, appointment_id, f"Not moved: that {exc} is not available.", 400, move_form=form)
    except InvalidInput as exc:
        form.add_error(None, str(exc))
        return _refused(request, appointment_id, str(exc), 400, move_form=form)
    if _wants_json(request):
        return JsonResponse({"ok": True, "message": message})
    messages.success(request, message)
    return redirect("scheduling:appointment", appointment_id=appointment_id)


@route("scheduling:appointment-cancel")
def appointment_cancel(request: HttpRequest, appointment_id) -> HttpResponse:
    current = _load(appointment_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _refused(request, appointment_id, "Not cancelled: say why.", 400, cancel_form=form)
    data = form.cleaned_data
    scope = data.get("scope") or "one"
    try:
        if scope != "one" and current.series_id:
            if data["version"] != current.version:
                raise services.ChangedMeanwhile("Someone changed this appointment meanwhile. Reload to see it as it is now.")
            count = recurrence.cancel_following(request.actor, current, reason=data["reason"], scope=scope, request=request)
            message = f"Cancelled {count} appointments of the series."
        else:
            services.cancel(request.actor, appointment_id, version=data["version"], reason=data["reason"], request=request)
            message = "Cancelled."
    except services.ChangedMeanwhile as exc:
        return _refused(request, appointment_id, str(exc), 409, cancel_form=form)
    except InvalidInput as exc:
        return _refused(request, appointment_id, str(exc), 400, cancel_form=form)
    waiting = _waiting_for(current.clinician_id)
    if waiting:
        message += f" {waiting} {'person waits' if waiting == 1 else 'people wait'} for this clinician: see the waitlist."
    messages.success(request, message)
    return redirect("scheduling:appointment", appointment_id=appointment_id)


@route("scheduling:appointment-status")
def appointment_status(request: HttpRequest, appointment_id) -> HttpResponse:
    _load(appointment_id)
    form = StatusForm(request.POST)
    back = request.POST.get("back") == "today"
    if not form.is_valid():
        return _refused(request, appointment_id, "Not changed: choose a status.", 400)
    try:
        changed = services.set_status(request.actor, appointment_id, form.cleaned_data["status"], version=form.cleaned_data["version"], request=request)
    except (services.SlotTaken, services.ChangedMeanwhile) as exc:
        return _refused(request, appointment_id, str(exc), 409)
    except InvalidInput as exc:
        return _refused(request, appointment_id, str(exc), 400)
    messages.success(request, f"Marked {changed.get_status_display().lower()}.")
    return redirect("scheduling:today" if back else "scheduling:appointment", **({} if back else {"appointment_id": appointment_id}))


# --- set-up ---------------------------------------------------------------------------------------
def _settings_page(request, forms_by_name=None, status=200):
    forms_by_name = forms_by_name or {}
    zone = practice_zone(request.actor.practice_id)
    clinicians = _clinician_choices()
    names = dict(clinicians)
    context = {
        "zone": zone,
        "tz_form": forms_by_name.get("zone") or TimeZoneForm(initial={"time_zone": zone.key}),
        "location_form": forms_by_name.get("location") or LocationForm(),
        "type_form": forms_by_name.get("type") or TypeForm(),
        "hours_form": forms_by_name.get("hours") or HoursForm(clinicians=clinicians),
        "locations": list(Location.objects.filter(is_active=True).prefetch_related("rooms")),
        "types": list(AppointmentType.objects.filter(is_active=True)),
        "hours": [(names.get(str(h.clinician_id), "—"), dict(WEEKDAYS).get(h.weekday, ""), h) for h in WorkingHours.objects.all().order_by("clinician_id", "weekday", "starts")],
    }
    return render(request, "scheduling/settings.html", context, status=status)


@route("scheduling:settings")
def settings_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _settings_page(request)
    which = request.POST.get("form", "")
    practice_id = request.actor.practice_id
    if which == "zone":
        form = TimeZoneForm(request.POST)
        if form.is_valid():
            SchedulingSettings.objects.update_or_create(practice_id=practice_id, defaults={"time_zone": form.cleaned_data["time_zone"]})
            messages.success(request, f"Every time is now shown in {form.cleaned_data['time_zone']}.")
            return redirect("scheduling:settings")
        return _settings_page(request, {"zone": form}, 400)
    if which == "location":
        form = LocationForm(request.POST)
        if form.is_valid():
            with transaction.atomic():
                location = Location.objects.create(practice_id=practice_id, name=form.cleaned_data["name"], kind=form.cleaned_data["kind"])
                for room in [r.strip() for r in form.cleaned_data["rooms"].split(",") if r.strip()][:20]:
                    Room.objects.create(practice_id=practice_id, location=location, name=room[:80])
            messages.success(request, f"Added {location.name}.")
            return redirect("scheduling:settings")
        return _settings_page(request, {"location": form}, 400)
    if which == "type":
        form = TypeForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            AppointmentType.objects.create(
                practice_id=practice_id, name=d["name"], duration_minutes=d["duration_minutes"],
                price_cents=int(d["price"] * 100) if d["price"] is not None else None, colour=d["colour"],
                telehealth=d["telehealth"], bookable_online=d["bookable_online"], reminder_offsets=d["reminder_hours"],
            )  # fmt: skip
            messages.success(request, f"Added {d['name']}.")
            return redirect("scheduling:settings")
        return _settings_page(request, {"type": form}, 400)
    if which == "hours":
        form = HoursForm(request.POST, clinicians=_clinician_choices())
        if form.is_valid():
            d = form.cleaned_data
            WorkingHours.objects.create(practice_id=practice_id, clinician_id=d["clinician"], weekday=d["weekday"], starts=d["starts"], ends=d["ends"])
            messages.success(request, "Working hours added.")
            return redirect("scheduling:settings")
        return _settings_page(request, {"hours": form}, 400)
    if which in ("remove-hours", "remove-type", "remove-location"):
        target = _uuid(request.POST.get("id"))
        model = {"remove-hours": WorkingHours, "remove-type": AppointmentType, "remove-location": Location}[which]
        if target is None:
            messages.error(request, "Nothing removed: that row is not there.")
            return _settings_page(request, status=400)
        if model is WorkingHours:
            removed = WorkingHours.objects.filter(pk=target).delete()[0]
        else:  # types and locations stay for the appointments that name them
            removed = model.objects.filter(pk=target, is_active=True).update(is_active=False)
        if not removed:
            messages.error(request, "Nothing removed: that row is not there.")
            return _settings_page(request, status=400)
        messages.success(request, "Removed.")
        return redirect("scheduling:settings")
    messages.error(request, "Choose what to change.")
    return _settings_page(request, status=400)


# --- the waitlist ---------------------------------------------------------------------------------
def _waitlist_page(request, form=None, status=200):
    query = str(request.GET.get("q", "") or request.POST.get("q", "") or "")[:100]
    entries = list(WaitlistEntry.objects.filter(is_open=True).select_related("clinician__user", "appointment_type"))
    found = _book_choices(request, query) if request.actor.has(Perm.APPOINTMENTS_BOOK) else []
    # One door opening for the page: the people waiting and the people found for the form.
    names = _names(request, [e.patient_id for e in entries] + list(found))
    if form is None:
        form = _waitlist_form(request, None, names, found)
    context = {"entries": [(e, names.get(e.patient_id)) for e in entries if e.patient_id in names], "form": form, "q": query,
               "can_book": request.actor.has(Perm.APPOINTMENTS_BOOK)}  # fmt: skip
    return render(request, "scheduling/waitlist.html", context, status=status)


def _waitlist_form(request, data, names, found):
    patients = sorted(((str(pk), names[pk]) for pk in found if pk in names), key=lambda p: p[1].casefold())
    types = [(str(t.pk), t.name) for t in AppointmentType.objects.filter(is_active=True)]
    return WaitlistForm(data, patients=patients, clinicians=_clinician_choices(), types=types)


@route("scheduling:waitlist")
def waitlist_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _waitlist_page(request)
    if not request.actor.has(Perm.APPOINTMENTS_BOOK):
        raise PermissionDenied
    query = str(request.POST.get("q", "") or "")[:100]
    found = _book_choices(request, query)
    chosen = _uuid(request.POST.get("patient"))
    if chosen and chosen not in found:
        found = [chosen, *found]
    form = _waitlist_form(request, request.POST, {pk: "" for pk in found}, found)
    if form.is_valid():
        d = form.cleaned_data
        try:
            waitlist.add(request.actor, patient_id=d["patient"], clinician_id=d["clinician"] or None,
                         appointment_type_id=d["appointment_type"] or None, preference=d["preference"], request=request)  # fmt: skip
        except NotFound as exc:
            messages.error(request, f"Not added: that {exc} is not available.")
            return _waitlist_page(request, status=400)
        except InvalidInput as exc:
            messages.error(request, f"Not added: {exc}")
            return _waitlist_page(request, status=400)
        messages.success(request, "Added to the waitlist.")
        return redirect("scheduling:waitlist")
    first = next(iter(form.errors.values()))[0]
    messages.error(request, f"Not added: {first}")
    return _waitlist_page(request, status=400)


@route("scheduling:waitlist-close")
def waitlist_close(request: HttpRequest, entry_id) -> HttpResponse:
    try:
        closed = waitlist.close(request.actor, entry_id, request=request)
    except NotFound:
        raise Http404("waitlist entry") from None
    if not closed:
        messages.warning(request, "Someone took this entry off the waitlist meanwhile.")
        return _waitlist_page(request, status=409)
    messages.success(request, "Taken off the waitlist.")
    return redirect("scheduling:waitlist")
