"""The portal's own forms (the sign-in and second-factor forms live with the accounts): labelled for people, parsed here, decided in services."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import PasswordChangeForm

from confide.rights.models import DETAIL_MAX, RequestKind


class RightsRequestForm(forms.Form):
    record = forms.UUIDField(widget=forms.HiddenInput)  # the record the page was shown for
    kind = forms.ChoiceField(
        # An appeal names the decision it appeals: filed with "Appeal this decision" beside it.
        label="What would you like us to do?", choices=[c for c in RequestKind.choices if c[0] != RequestKind.APPEAL],
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"required": "Choose what you would like us to do.", "invalid_choice": "Choose what you would like us to do."},
    )  # fmt: skip
    detail = forms.CharField(
        label="Anything we should know? (you may leave this empty)", required=False, max_length=DETAIL_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": f"Please keep the details to {DETAIL_MAX} characters or fewer."},
    )  # fmt: skip


_PASSWORD_HELP = "At least 12 characters. Not a common password, not only numbers, not like your name or e-mail."


def _password(label: str, autocomplete: str, **attrs) -> forms.CharField:
    return forms.CharField(
        label=label, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete, "class": "form-control", **attrs}),
    )  # fmt: skip


class NewPortalAccountForm(forms.Form):
    """A new person accepting an invitation: their name and a password (the validators run in
    the service, against this account, as everywhere)."""

    display_name = forms.CharField(
        label="Your name", max_length=150, help_text="How the practice and the portal greet you.",
        widget=forms.TextInput(attrs={"autocomplete": "name", "class": "form-control", "autofocus": True}),
    )  # fmt: skip
    password = _password("Choose a password", "new-password")
    password_again = _password("The same password again", "new-password")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = _PASSWORD_HELP


class ConfirmPasswordForm(forms.Form):
    password = _password("Your password", "current-password", autofocus=True)


class PortalPasswordChangeForm(PasswordChangeForm):
    """Django's form: the old password checked, the new one twice, the validators of settings."""

    def __init__(self, user, *args, **kwargs):
        super().__init__(user, *args, **kwargs)
        labels = {"old_password": "Your password now", "new_password1": "New password", "new_password2": "New password again"}
        for name, label in labels.items():
            field = self.fields[name]
            field.label = label
            field.widget.attrs.update({"class": "form-control"})
            field.widget.attrs.pop("autofocus", None)
        self.fields["new_password1"].help_text = _PASSWORD_HELP
