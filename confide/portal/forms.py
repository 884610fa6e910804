"""The portal's own forms (the sign-in and second-factor forms live with the accounts)."""

from __future__ import annotations

from django import forms

from confide.rights.models import DETAIL_MAX, RequestKind


class RightsRequestForm(forms.Form):
    record = forms.UUIDField(widget=forms.HiddenInput)  # the record the page was shown for
    kind = forms.ChoiceField(
        label="What would you like us to do?", choices=RequestKind.choices, widget=forms.RadioSelect,
        error_messages={"required": "Choose what you would like us to do.", "invalid_choice": "Choose what you would like us to do."},
    )  # fmt: skip
    detail = forms.CharField(
        label="Anything we should know? (you may leave this empty)", required=False, max_length=DETAIL_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": f"Please keep the details to {DETAIL_MAX} characters or fewer."},
    )  # fmt: skip
