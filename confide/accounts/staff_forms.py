"""Forms of staff management, invitations and the first-run page (kept apart from forms.py,
which the sign-in and password pages use)."""

from __future__ import annotations

from django import forms

from confide.core.permissions import Role

_TEXT = {"class": "form-control"}


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254, widget=forms.EmailInput(attrs={**_TEXT, "autocomplete": "off"}))
    # Not Owner by default: an owner can change the whole practice, so making one is a choice.
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.CLINICIAN, widget=forms.Select(attrs={"class": "form-select"}))


class NewAccountForm(forms.Form):
    """The details of a new account made from an invitation; the service checks them (the same
    password validators as everywhere) and the view puts its messages on these fields."""

    display_name = forms.CharField(
        label="Your name", max_length=150, help_text="As colleagues will see it, e.g. “Dr Ana Ruiz”.",
        widget=forms.TextInput(attrs={**_TEXT, "autocomplete": "name", "autofocus": True}),
    )  # fmt: skip
    password = forms.CharField(
        label="Choose a password", strip=False, help_text="At least 12 characters; not a common password, not like your name or address.",
        widget=forms.PasswordInput(attrs={**_TEXT, "autocomplete": "new-password"}),
    )  # fmt: skip
    password_again = forms.CharField(label="The password again", strip=False, widget=forms.PasswordInput(attrs={**_TEXT, "autocomplete": "new-password"}))


class FirstRunForm(forms.Form):
    setup_code = forms.CharField(
        label="Setup code", max_length=64,
        help_text="Printed by `confide practice setup-code` on the server, and kept in the file setup_code in its data directory.",
        widget=forms.TextInput(attrs={**_TEXT, "autocomplete": "off", "spellcheck": "false"}),
    )  # fmt: skip
    name = forms.CharField(label="Practice name", max_length=200, widget=forms.TextInput(attrs=_TEXT))
    slug = forms.CharField(
        label="Short name for addresses", max_length=50,
        help_text="Lower-case letters, digits and dashes; the practice's public pages are /p/<short name>/….",
        widget=forms.TextInput(attrs={**_TEXT, "spellcheck": "false", "autocapitalize": "none"}),
    )  # fmt: skip
    owner_email = forms.EmailField(
        label="Owner's e-mail address", max_length=254, help_text="The owner is sent an invitation to set a password and an authenticator app.",
        widget=forms.EmailInput(attrs=_TEXT),
    )  # fmt: skip
