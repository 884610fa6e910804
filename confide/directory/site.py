"""What the public website shows (read-only, inside the practice's tenant context): the website's
settings, published profiles only, online-bookable services, locations and opening hours derived
from the clinicians' working hours (wall-clock, the practice's zone). No patient data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.http import Http404
from django.urls import reverse

from confide.directory.models import Profile, Website
from confide.scheduling.models import AppointmentType, Location, SchedulingSettings, WorkingHours

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def published_site(practice) -> Website:
    """The practice's website, or 404 while it is not published."""
    site = Website.objects.filter(published=True).first()
    if site is None:
        raise Http404("website")
    return site


def team(practice) -> list[Profile]:
    return list(Profile.objects.filter(published=True).prefetch_related("sensitive").order_by("display_name", "pk"))


def practitioner(practice, profile_id) -> Profile:
    profile = Profile.objects.filter(pk=profile_id, published=True).prefetch_related("sensitive").first()
    if profile is None:
        raise Http404("profile")
    return profile


def services(practice) -> list[AppointmentType]:
    rows = list(AppointmentType.objects.filter(is_active=True, bookable_online=True).order_by("name"))
    for row in rows:
        row.price_label = "" if row.price_cents is None else f"${row.price_cents // 100:,}.{row.price_cents % 100:02d}"
    return rows


@dataclass
class Hours:
    weekday: str
    opens: object
    closes: object


@dataclass
class Locations:
    places: list = field(default_factory=list)
    hours: list[Hours] = field(default_factory=list)
    time_zone: str = ""


def locations(practice) -> Locations:
    out = Locations(places=list(Location.objects.filter(is_active=True).order_by("name")))
    settings = SchedulingSettings.objects.first()
    out.time_zone = settings.time_zone if settings else ""
    by_day: dict[int, list] = {}
    for row in WorkingHours.objects.filter(clinician__is_active=True).only("weekday", "starts", "ends"):
        by_day.setdefault(row.weekday, []).append(row)
    for day in sorted(by_day):
        rows = by_day[day]
        out.hours.append(Hours(WEEKDAYS[day], min(r.starts for r in rows), max(r.ends for r in rows)))
    return out


def structured_data(request, practice, site: Website) -> str:
    """schema.org MedicalBusiness as JSON-LD, escaped so it cannot close its <script> element."""
    data = {
        "@context": "https://schema.org",
        "@type": "MedicalBusiness",
        "name": practice.name,
        "url": request.build_absolute_uri(reverse("directory:home", kwargs={"practice_slug": practice.slug})),
    }
    if site.tagline:
        data["description"] = site.tagline
    if site.logo:
        data["logo"] = request.build_absolute_uri(reverse("directory:logo", kwargs={"practice_slug": practice.slug}))
    places = [p for p in Location.objects.filter(is_active=True, kind="in_person") if p.address]
    if places:
        data["address"] = places[0].address.replace("\n", ", ")
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
