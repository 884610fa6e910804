from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm

from confide.core.models import Practice
from confide.core.permissions import Role


class SignInForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True, "class": "form-control"}))
    password = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "class": "form-control"}))

    error_messages = {
        "invalid_login": "That email and password did not match an account. Both are case-sensitive except the email.",
        "inactive": "This account is disabled. Ask your practice's owner.",
        "portal_account": "This is the sign-in for practice staff. Patients sign in to the patient portal at /portal/signin/.",
    }

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if user.is_patient:  # two audiences that never mix (accounts/models.py, UserKind)
            raise forms.ValidationError(self.error_messages["portal_account"], code="portal_account")


class CodeForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "class": "form-control"}),
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
    )


class EnrolForm(forms.Form):
    token = forms.RegexField(
        label="Code from your app",
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        error_messages={"invalid": "Enter the 6 digits your app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "class": "form-control"}),
    )


class ReauthForm(forms.Form):
    password = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True, "class": "form-control"}))
    token = forms.CharField(
        label="Code", max_length=16, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "class": "form-control"}),
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)



class PracticeSettingsForm(forms.ModelForm):
    class Meta:
        model = Practice
        fields = ["name", "mfa_required", "portal_mfa_required", "idle_timeout_minutes"]
        labels = {
            "mfa_required": "Require staff who can see patient information to use an authenticator app",
            "portal_mfa_required": "Require patients to add a second sign-in step (an authenticator app or a passkey) to use the patient portal",
            "idle_timeout_minutes": "Sign staff out after this many idle minutes",
        }
        help_texts = {"idle_timeout_minutes": "Between 5 and 240 minutes."}
        widgets = {
            "name": forms.TextInput(attrs={"class": "form-control"}),
            "mfa_required": forms.CheckboxInput(attrs={"class": "form-check-input"}),
            "portal_mfa_required": forms.CheckboxInput(attrs={"class": "form-check-input"}),
            "idle_timeout_minutes": forms.NumberInput(attrs={"class": "form-control", "min": 5, "max": 240}),
        }


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label="Email", max_length=254,
        error_messages={"required": "Enter the e-mail address you sign in with.", "invalid": "Enter an e-mail address like name@example.org."},
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True, "class": "form-control", "required": True}),
    )  # fmt: skip


class NewPasswordForm(SetPasswordForm):
    """Django's form (the two fields must match; the password validators of settings, against
    this account), labelled for people."""

    def __init__(self, user, *args, **kwargs):
        super().__init__(user, *args, **kwargs)
        for name, label in (("new_password1", "New password"), ("new_password2", "New password, again")):
            field = self.fields[name]
            field.label = label
            field.widget.attrs.update({"autocomplete": "new-password", "class": "form-control", "required": True})
        self.fields["new_password1"].widget.attrs["autofocus"] = True
        self.fields["new_password1"].help_text = "At least 12 characters; not a common password, not only digits, not like your name or e-mail."


class PortalSignInForm(AuthenticationForm):
    """The patient portal's sign-in: the same authentication, throttling and lockout as staff
    (django-axes counts failures per address and IP), for portal accounts only."""

    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autocomplete": "username webauthn", "autofocus": True, "class": "form-control"}))
    password = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "class": "form-control"}))

    error_messages = {
        "invalid_login": "That email and password did not match a portal account. Check both and try again.",
        "inactive": "This portal account is closed. Ask your practice to invite you again.",
        "staff_account": "This is the patient portal. Practice staff sign in at /signin/.",
    }

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_patient:
            raise forms.ValidationError(self.error_messages["staff_account"], code="staff_account")
