"""The calendar's forms: parse what a person typed, say what is wrong next to the field."""

from __future__ import annotations

import datetime
import zoneinfo

from django import forms

from confide.core.text import single_line
from confide.scheduling.models import MAX_DURATION_MINUTES, CancelReason, LocationKind, Status, WaitPreference
from confide.scheduling.recurrence import REPEAT_CHOICES

FOLD_CHOICES = [("", "—"), ("0", "The first time (before the clocks go back)"), ("1", "The second time (after)")]
TIME_ZONES = sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _wall(data) -> datetime.datetime:
    return datetime.datetime.combine(data["date"], data["time"])


class WhenFields(forms.Form):
    date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}))
    time = forms.TimeField(label="Start time", widget=forms.TimeInput(attrs={"type": "time", "class": "form-control", "step": 300}))
    fold = forms.ChoiceField(label="This time happens twice that night: which?", choices=FOLD_CHOICES, required=False,
                             widget=forms.Select(attrs={"class": "form-select"}))  # fmt: skip

    def clean_date(self):
        value = self.cleaned_data["date"]
        if not (2000 <= value.year <= 2100):
            raise forms.ValidationError("Choose a date between 2000 and 2100.")
        return value

    def wall(self) -> datetime.datetime:
        return _wall(self.cleaned_data)

    def fold_value(self):
        fold = self.cleaned_data.get("fold")
        return int(fold) if fold in ("0", "1") else None


class BookForm(WhenFields):
    patient = forms.ChoiceField(label="Patient", widget=forms.Select(attrs={"class": "form-select"}))
    clinician = forms.ChoiceField(label="Clinician", widget=forms.Select(attrs={"class": "form-select"}))
    appointment_type = forms.ChoiceField(label="Appointment type", widget=forms.Select(attrs={"class": "form-select"}))
    location = forms.ChoiceField(label="Where", required=False, widget=forms.Select(attrs={"class": "form-select"}))
    repeat = forms.ChoiceField(label="Repeat", choices=REPEAT_CHOICES, required=False, widget=forms.Select(attrs={"class": "form-select"}))
    repeat_count = forms.IntegerField(label="How many times (with this one)", required=False, min_value=2, max_value=10000,
                                      widget=forms.NumberInput(attrs={"class": "form-control"}))  # fmt: skip

    field_order = ["patient", "clinician", "appointment_type", "location", "date", "time", "fold", "repeat", "repeat_count"]

    def __init__(self, *args, patients=(), clinicians=(), types=(), locations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].choices = [("", "Choose a patient")] + list(patients)
        self.fields["clinician"].choices = list(clinicians)
        self.fields["appointment_type"].choices = list(types)
        self.fields["location"].choices = [("", "—")] + list(locations)

    def rule(self) -> str:
        repeat = self.cleaned_data.get("repeat") or ""
        if not repeat:
            return ""
        count = self.cleaned_data.get("repeat_count")
        return f"{repeat};COUNT={count}" if count else repeat


class MoveForm(WhenFields):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    clinician = forms.ChoiceField(label="Clinician", widget=forms.Select(attrs={"class": "form-select"}))
    minutes = forms.IntegerField(label="Length (minutes)", min_value=5, max_value=MAX_DURATION_MINUTES,
                                 widget=forms.NumberInput(attrs={"class": "form-control", "step": 5}))  # fmt: skip
    scope = forms.ChoiceField(label="Which appointments", required=False, initial="one",
                              choices=[("one", "This one"), ("following", "This and following"), ("all", "All upcoming in the series")],
                              widget=forms.Select(attrs={"class": "form-select"}))  # fmt: skip

    def __init__(self, *args, clinicians=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinician"].choices = list(clinicians)


class CancelForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = forms.ChoiceField(label="Why", choices=[("", "Choose a reason")] + list(CancelReason.choices),
                               widget=forms.Select(attrs={"class": "form-select"}))  # fmt: skip
    scope = forms.ChoiceField(label="Which appointments", required=False, initial="one",
                              choices=[("one", "This one"), ("following", "This and following"), ("all", "All upcoming in the series")],
                              widget=forms.Select(attrs={"class": "form-select"}))  # fmt: skip


class StatusForm(forms.Form):
    version = forms.IntegerField(min_value=1)
    status = forms.ChoiceField(choices=[c for c in Status.choices if c[0] != Status.CANCELLED])


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label="The practice's time zone", choices=[(z, z) for z in TIME_ZONES],
                                  widget=forms.Select(attrs={"class": "form-select"}))  # fmt: skip


class LocationForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120, validators=[single_line], widget=forms.TextInput(attrs={"class": "form-control"}))
    kind = forms.ChoiceField(label="Kind", choices=LocationKind.choices, widget=forms.Select(attrs={"class": "form-select"}))
    rooms = forms.CharField(label="Rooms (comma-separated, optional)", required=False, max_length=400, validators=[single_line],
                            widget=forms.TextInput(attrs={"class": "form-control"}))  # fmt: skip


class TypeForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120, validators=[single_line], widget=forms.TextInput(attrs={"class": "form-control"}))
    duration_minutes = forms.IntegerField(label="Minutes", min_value=5, max_value=MAX_DURATION_MINUTES, initial=50,
                                          widget=forms.NumberInput(attrs={"class": "form-control"}))  # fmt: skip
    price = forms.DecimalField(label="Price", required=False, min_value=0, max_value=100000, decimal_places=2,
                               widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.01"}))  # fmt: skip
    colour = forms.RegexField(label="Colour", regex=r"^#[0-9a-fA-F]{6}$", initial="#2b6cb0",
                              error_messages={"invalid": "A colour like #2b6cb0."},
                              widget=forms.TextInput(attrs={"type": "color", "class": "form-control form-control-color"}))  # fmt: skip
    telehealth = forms.BooleanField(label="Telehealth", required=False)
    bookable_online = forms.BooleanField(label="Bookable online", required=False)
    reminder_hours = forms.CharField(label="Reminders, hours before (e.g. 48, 2; empty: the practice's)", required=False,
                                     max_length=40, validators=[single_line], widget=forms.TextInput(attrs={"class": "form-control"}))  # fmt: skip

    def clean_reminder_hours(self):
        raw = (self.cleaned_data.get("reminder_hours") or "").strip()
        if not raw:
            return None
        try:
            hours = [float(p) for p in raw.replace(";", ",").split(",") if p.strip()]
        except ValueError:
            raise forms.ValidationError("Hours as numbers separated by commas, e.g. 48, 2.") from None
        minutes = [int(round(h * 60)) for h in hours]
        if len(minutes) > 4 or not all(10 <= m <= 14 * 24 * 60 for m in minutes):
            raise forms.ValidationError("Up to four reminders, each between 10 minutes and 14 days (336 hours) before.")
        return sorted(set(minutes), reverse=True)


WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"), (5, "Saturday"), (6, "Sunday")]


class HoursForm(forms.Form):
    clinician = forms.ChoiceField(label="Clinician", widget=forms.Select(attrs={"class": "form-select"}))
    weekday = forms.TypedChoiceField(label="Day", coerce=int, choices=WEEKDAYS, widget=forms.Select(attrs={"class": "form-select"}))
    starts = forms.TimeField(label="From", widget=forms.TimeInput(attrs={"type": "time", "class": "form-control"}))
    ends = forms.TimeField(label="To", widget=forms.TimeInput(attrs={"type": "time", "class": "form-control"}))

    def __init__(self, *args, clinicians=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinician"].choices = list(clinicians)

    def clean(self):
        data = super().clean()
        if data.get("starts") and data.get("ends") and data["ends"] <= data["starts"]:
            self.add_error("ends", "The end comes after the start.")
        return data


class WaitlistForm(forms.Form):
    patient = forms.ChoiceField(label="Patient", widget=forms.Select(attrs={"class": "form-select"}))
    clinician = forms.ChoiceField(label="Clinician", required=False, widget=forms.Select(attrs={"class": "form-select"}))
    appointment_type = forms.ChoiceField(label="Appointment type", required=False, widget=forms.Select(attrs={"class": "form-select"}))
    preference = forms.ChoiceField(label="Preference", choices=WaitPreference.choices, widget=forms.Select(attrs={"class": "form-select"}))

    def __init__(self, *args, patients=(), clinicians=(), types=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].choices = [("", "Choose a patient")] + list(patients)
        self.fields["clinician"].choices = [("", "Anyone")] + list(clinicians)
        self.fields["appointment_type"].choices = [("", "Any type")] + list(types)
