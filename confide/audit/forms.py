"""The audit viewer's filters. Bound to the query string; an invalid value is an error to show
(and a 400), never silently ignored: an export must contain exactly what the filters say."""

from __future__ import annotations

from django import forms

from confide.audit.events import EVENT_LABELS, AuditEvent
from confide.audit.reports import LogFilter

_CONTROL = {"class": "form-control form-control-sm"}
_SELECT = {"class": "form-select form-select-sm"}


class AuditLogFilterForm(forms.Form):
    patient = forms.UUIDField(
        label="Patient", required=False,
        error_messages={"invalid": "Choose the patient with “Find a patient”, or paste a patient id (0f8fad5b-d9cb-469f-a165-70867728950e)."},
        widget=forms.TextInput(attrs=_CONTROL | {"spellcheck": "false", "autocomplete": "off"}),
    )  # fmt: skip
    user = forms.ChoiceField(
        label="Staff member", required=False,
        error_messages={"invalid_choice": "Choose a staff member of this practice from the list."},
        widget=forms.Select(attrs=_SELECT),
    )  # fmt: skip
    event = forms.ChoiceField(
        label="Event", required=False,
        choices=[("", "Any event")] + sorted(((e.value, EVENT_LABELS[e]) for e in AuditEvent), key=lambda c: c[1]),
        error_messages={"invalid_choice": "Choose an event from the list."},
        widget=forms.Select(attrs=_SELECT),
    )  # fmt: skip
    date_from = forms.DateField(
        label="From (UTC)", required=False, input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter the date as YYYY-MM-DD."},
        widget=forms.DateInput(attrs=_CONTROL | {"type": "date"}, format="%Y-%m-%d"),
    )  # fmt: skip
    date_to = forms.DateField(
        label="To (UTC)", required=False, input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter the date as YYYY-MM-DD."},
        widget=forms.DateInput(attrs=_CONTROL | {"type": "date"}, format="%Y-%m-%d"),
    )  # fmt: skip
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, data=None, *, members: list[tuple[str, str]]):
        """`members`: (user id, display name) of the practice's members, active or not."""
        super().__init__(data)
        self.fields["user"].choices = [("", "Anyone")] + list(members)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def to_filter(self) -> LogFilter:
        data = self.cleaned_data
        return LogFilter(
            patient_id=data.get("patient"),
            user_id=data.get("user") or None,
            event=AuditEvent(data["event"]) if data.get("event") else None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
