"""The policy settings form: the override as typed, when it takes effect, whether it is
material, and the one-sentence summary. Only types are checked here; the rules (the override's
schema, the floors, the notice period for a material change) are the service's."""

from __future__ import annotations

from django import forms

from confide.core.text import multi_line, single_line
from confide.policy.services import SUMMARY_MAX

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


class PolicyChangeForm(forms.Form):
    override_toml = forms.CharField(
        label="Override (TOML)", required=False,
        # Not stripped: a leading blank line must stay, or every line number in an error shifts.
        # No max_length: the loader's own limit (MAX_OVERRIDE_BYTES) says it in its words.
        strip=False, validators=[multi_line],
        widget=forms.Textarea(attrs={"class": "form-control font-monospace", "rows": 18, "spellcheck": "false", "autocomplete": "off"}),
    )  # fmt: skip
    effective_at = forms.DateTimeField(
        label="Takes effect (UTC)", required=False, input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        error_messages={"invalid": "Enter the date and time as YYYY-MM-DD HH:MM."},
        widget=forms.DateTimeInput(attrs={"class": "form-control", "type": "datetime-local"}, format=DATETIME_FORMAT),
    )  # fmt: skip
    material = forms.BooleanField(
        label="This is a material change", required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )  # fmt: skip
    summary = forms.CharField(
        label="What changes, in one sentence", required=False, max_length=SUMMARY_MAX, validators=[single_line],
        help_text="Shown to everyone the change affects: in the e-mail, the banner and the notice. About the policy, never about a person.",
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )  # fmt: skip

    def clean_override_toml(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; store what the officer typed, in one form.
        return self.cleaned_data["override_toml"].replace("\r\n", "\n")


class AcknowledgeForm(forms.Form):
    next = forms.CharField(required=False, max_length=2000)


def mark_errors(form: forms.Form) -> None:
    """Mark exactly the fields that have errors as invalid (and point them at their message),
    so an error in the override highlights the override and nothing else."""
    for name in form.errors:
        if name in form.fields:
            attrs = form.fields[name].widget.attrs
            attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
            attrs["aria-invalid"] = "true"
            attrs["aria-describedby"] = f"{form[name].auto_id}_error"
