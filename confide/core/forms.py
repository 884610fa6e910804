from django import forms

from confide.core.models import Practice


class PracticeSettingsForm(forms.ModelForm):
    class Meta:
        model = Practice
        fields = ["name", "mfa_required", "idle_timeout_minutes"]
        labels = {
            "mfa_required": "Require staff who can see patient information to use an authenticator app",
            "idle_timeout_minutes": "Sign staff out after this many idle minutes",
        }
        help_texts = {"idle_timeout_minutes": "Between 5 and 240 minutes."}
        widgets = {
            "name": forms.TextInput(attrs={"class": "form-control"}),
            "mfa_required": forms.CheckboxInput(attrs={"class": "form-check-input"}),
            "idle_timeout_minutes": forms.NumberInput(attrs={"class": "form-control", "min": 5, "max": 240}),
        }
