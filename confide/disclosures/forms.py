"""The staff forms of the accounting of disclosures: parse only; the services validate again."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from confide.disclosures.models import COMPELLED_BASES, Basis
from confide.disclosures.services import RECIPIENT_MAX, TEXT_MAX

CONTROL = {"class": "form-control"}


def _date(label: str, *, required: bool) -> forms.DateField:
    return forms.DateField(
        label=label, required=required, widget=forms.DateInput(attrs={"type": "date", **CONTROL}),
        error_messages={"invalid": "Enter a date.", "required": "Enter the date."},
    )  # fmt: skip


class _Common(forms.Form):
    disclosed_on = _date("Date of the disclosure", required=True)
    recipient = forms.CharField(label="Recipient (a person or an organisation)", max_length=RECIPIENT_MAX, widget=forms.TextInput(attrs=CONTROL))
    recipient_address = forms.CharField(
        label="Recipient's address, if known", required=False, max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2, **CONTROL})
    )
    notice_forbidden = forms.BooleanField(
        label="The law or the order forbids telling the patient", required=False, widget=forms.CheckboxInput(attrs={"class": "form-check-input"})
    )
    notice_forbidden_until = _date("Until (leave empty if the order names no date)", required=False)

    def clean_disclosed_on(self):
        value = self.cleaned_data["disclosed_on"]
        if value > timezone.localdate():
            raise forms.ValidationError("A disclosure cannot be dated in the future.")
        return value


class RecordForm(_Common):
    field_order = ["disclosed_on", "recipient", "recipient_address", "description", "purpose", "basis", "categories"]
    description = forms.CharField(label="What was disclosed", max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2, **CONTROL}))
    purpose = forms.CharField(label="Purpose", max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2, **CONTROL}))
    basis = forms.ChoiceField(
        label="Basis", choices=[("", "Choose…"), *Basis.choices], widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={"invalid_choice": "Choose the basis of the disclosure from the list.", "required": "Choose the basis of the disclosure."},
    )  # fmt: skip
    categories = forms.MultipleChoiceField(label="Kinds of information", required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, category_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].choices = list(category_choices)


class CompelledForm(_Common):
    field_order = ["basis", "reference", "disclosed_on", "recipient", "recipient_address", "categories", "purpose"]
    basis = forms.ChoiceField(
        label="Legal basis", choices=[("", "Choose…"), *[(b.value, b.label) for b in Basis if b in COMPELLED_BASES]],
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={"invalid_choice": "Choose the legal basis from the list.", "required": "Choose the legal basis."},
    )  # fmt: skip
    reference = forms.CharField(label="The document's reference (case or order number)", max_length=200, widget=forms.TextInput(attrs=CONTROL))
    categories = forms.MultipleChoiceField(
        label="What the order asks for", widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose what the order asks for."},
    )  # fmt: skip
    purpose = forms.CharField(
        label="Anything to add to the purpose (optional)", required=False, max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2, **CONTROL})
    )

    def __init__(self, *args, category_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].choices = list(category_choices)
