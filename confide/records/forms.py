"""The chart's forms. They parse and check the shape of what is posted (a message per field);
the services decide what may be written (REC4 reasons, the door's grants) and say why not.

A form is built with the fields the role may write (`chart.writable_fields`): a field the role
may not write is neither shown nor accepted, so posting it anyway changes nothing.
"""

from __future__ import annotations

import datetime
import typing

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.utils import timezone

from confide.accounts.portal_invitations import BASIS_CHOICES
from confide.core.errors import InvalidInput
from confide.core.text import multi_line, single_line
from confide.records import clinical
from confide.records.models import Document, NoteTemplate, Patient
from confide.records.notes import SOAP_SECTIONS
from confide.records.services import BAD_VERSION, CARE_REASON_LABELS, CARE_REASONS, CARE_STATUSES, ITEM_STATUS_CHANGES
from confide.records.uploads import check_file_count
from confide.records.values import EMAIL_MESSAGE, PHONE_MESSAGE, email_address, phone_for_display, phone_number

REASONS = [
    ("patient_request", "The patient asked for this change"),
    ("error_correction", "Correcting an error in the record"),
    ("immaterial", "An immaterial change (spelling, formatting)"),
]
REASON_MESSAGE = "Say why the record changes: the patient asked, an error is corrected, or the change is immaterial."


class ChartForm(forms.Form):
    """Bootstrap classes on every widget; after validation, each field with an error points at
    its message (aria-invalid, aria-describedby) so a screen reader reads it with the field."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.decorate()

    def decorate(self) -> None:
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, (forms.RadioSelect, forms.CheckboxInput, forms.HiddenInput)):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", css)
            if field.help_text:
                widget.attrs["aria-describedby"] = f"{self[name].auto_id}_help"

    def full_clean(self):
        super().full_clean()
        # A hidden input has nowhere to show its message: it becomes the form's own (moved, not
        # copied, so a page listing every field's errors says it once).
        for name in [n for n in self.errors if n in self.fields and self.fields[n].widget.is_hidden]:
            for message in self._errors.pop(name):
                self.add_error(None, message)
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["aria-invalid"] = "true"
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
                described = [f"{self[name].auto_id}_error"]
                if self.fields[name].help_text:
                    described.append(f"{self[name].auto_id}_help")
                widget.attrs["aria-describedby"] = " ".join(described)


# Every text input is one line (confide/core/text.py) and every textarea several, with the same
# validators the services run; the patient's own fields take theirs from the model field.
def _text(label: str, max_length: int, *, required: bool = False, validators=(), **kwargs) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=required, validators=[single_line, *validators], **kwargs)


def _limit(validators) -> int:
    return next(v.limit_value for v in validators if isinstance(v, MaxLengthValidator))


def _patient_text(name: str, label: str, *, required: bool = False, **kwargs) -> forms.CharField:
    """A form field with the model field's own rule: its length and its validators."""
    validators = Patient._meta.get_field(name).validators
    return forms.CharField(label=label, max_length=_limit(validators), required=required,
                           validators=[v for v in validators if not isinstance(v, MaxLengthValidator)], **kwargs)  # fmt: skip


def _phone(label: str, name: str | None = None) -> forms.CharField:
    widget = forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"})
    if name:
        return _patient_text(name, label, error_messages={"invalid": PHONE_MESSAGE}, widget=widget)
    return _text(label, 40, validators=[phone_number], error_messages={"invalid": PHONE_MESSAGE}, widget=widget)


def _email(label: str, name: str | None = None) -> forms.CharField:
    widget = forms.EmailInput()
    if name:
        return _patient_text(name, label, error_messages={"invalid": EMAIL_MESSAGE}, widget=widget)
    return _text(label, 254, validators=[email_address], error_messages={"invalid": EMAIL_MESSAGE}, widget=widget)


def _version() -> forms.CharField:
    # The versions of the fields as the form was loaded (services.version_token): a save from a
    # form loaded before someone else's change is refused instead of overwriting it. Its shape is
    # checked by the service (services.read_version_token); missing, it is the same message.
    return forms.CharField(widget=forms.HiddenInput, required=True, max_length=1_000,
                           error_messages={"required": BAD_VERSION, "max_length": BAD_VERSION})  # fmt: skip


def _reason() -> forms.ChoiceField:
    # Required, and nothing is chosen in advance: a reason is a statement, not a default.
    return forms.ChoiceField(
        label="Why does the record change?", choices=REASONS, required=True, widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"required": REASON_MESSAGE, "invalid_choice": REASON_MESSAGE},
    )  # fmt: skip


# --- registration --------------------------------------------------------------------------------
# Structured values (clinical.Address / clinical.Person) are edited as several inputs each.
STRUCTURED_INPUTS = {
    "address": ("address_line1", "address_line2", "city", "state", "postal_code", "country"),
    "emergency_contact": ("emergency_name", "emergency_relationship", "emergency_phone", "emergency_email"),
    "guardian": ("guardian_name", "guardian_relationship", "guardian_phone", "guardian_email"),
}
SEX_CHOICES = [("", "—"), ("female", "Female"), ("male", "Male"), ("other", "Other"), ("unknown", "Unknown")]


def _registration_fields() -> dict[str, forms.Field]:
    return {
        "given_name": _patient_text("given_name", "Given name", required=True, error_messages={"required": "Enter the patient's given name."}),
        "family_name": _patient_text("family_name", "Family name", required=True, error_messages={"required": "Enter the patient's family name."}),
        "preferred_name": _patient_text("preferred_name", "Preferred name"),
        "date_of_birth": forms.DateField(
            label="Date of birth", required=False, input_formats=["%Y-%m-%d"],
            error_messages={"invalid": "Enter the date of birth as YYYY-MM-DD."},
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        ),
        "sex": forms.ChoiceField(label="Sex (administrative)", choices=SEX_CHOICES, required=False,
                                 error_messages={"invalid_choice": "Choose a value from the list."}),
        "gender_identity": _patient_text("gender_identity", "Gender identity"),
        "pronouns": _patient_text("pronouns", "Pronouns"),
        "language": _patient_text("language", "Preferred language"),
        "medical_record_number": _patient_text("medical_record_number", "Medical record number"),
        "drivers_licence": _patient_text("drivers_licence", "Driver's licence number"),
        "email": _email("Email", "email"),
        "phone": _phone("Phone", "phone"),
        "phone_other": _phone("Other phone", "phone_other"),
        "address_line1": _text("Street address", 120),
        "address_line2": _text("Address line 2", 120),
        "city": _text("City", 120),
        "state": _text("State or region", 120),
        "postal_code": _text("Postal code", 20),
        "country": _text("Country", 120),
        "emergency_name": _text("Name", 300),
        "emergency_relationship": _text("Relationship", 120),
        "emergency_phone": _phone("Phone"),
        "emergency_email": _email("Email"),
        "guardian_name": _text("Name", 300),
        "guardian_relationship": _text("Relationship", 120),
        "guardian_phone": _phone("Phone"),
        "guardian_email": _email("Email"),
    }  # fmt: skip


class RegistrationForm(ChartForm):
    """Who the patient is and how to reach them. `writable`: the patient fields this role may
    write (chart.writable_fields(role, "registration")); `with_reason`: an edit, not a creation."""

    def __init__(self, *args, writable: tuple[str, ...], with_reason: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.writable = tuple(writable)
        for name, field in _registration_fields().items():
            owner = next((s for s, inputs in STRUCTURED_INPUTS.items() if name in inputs), name)
            if owner in self.writable:
                self.fields[name] = field
        if with_reason:
            self.fields["reason"] = _reason()
            self.fields["version"] = _version()
        self.decorate()

    @staticmethod
    def initial_from(values: dict) -> dict:
        """Form initial data from the patient's current values."""
        initial = {k: v for k, v in values.items() if k not in STRUCTURED_INPUTS and v is not None}
        for name in ("phone", "phone_other"):  # as people read them; saved back, they are the same E.164 number
            if initial.get(name):
                initial[name] = phone_for_display(initial[name])
        address = values.get("address") or {}
        if address:
            lines = list(address.get("lines") or []) + ["", ""]
            initial.update(address_line1=lines[0], address_line2=lines[1], city=address.get("city", ""),
                           state=address.get("state", ""), postal_code=address.get("postal_code", ""),
                           country=address.get("country", ""))  # fmt: skip
        for structured, prefix in (("emergency_contact", "emergency"), ("guardian", "guardian")):
            person = values.get(structured) or {}
            for part in ("name", "relationship", "phone", "email"):
                if person.get(part):
                    initial[f"{prefix}_{part}"] = person[part]
        return initial

    def clean_date_of_birth(self):
        value = self.cleaned_data.get("date_of_birth")
        if value and value > timezone.localdate():
            raise forms.ValidationError("The date of birth cannot be in the future.")
        if value and value.year < 1880:
            raise forms.ValidationError("Enter a date of birth after 1880.")
        return value

    def clean(self):
        cleaned = super().clean()
        for structured, prefix in (("emergency_contact", "emergency"), ("guardian", "guardian")):
            if structured not in self.writable:
                continue
            parts = [cleaned.get(f"{prefix}_{p}") for p in ("relationship", "phone", "email")]
            if any(parts) and not cleaned.get(f"{prefix}_name") and f"{prefix}_name" not in self.errors:
                who = "emergency contact" if prefix == "emergency" else "parent or guardian"
                self.add_error(f"{prefix}_name", f"Enter the {who}'s name, or clear the other {who} fields.")
        return cleaned

    def changes(self) -> dict:
        """The posted values as patient fields (blank → None), for the services."""
        data = self.cleaned_data
        out = {}
        for name in self.writable:
            if name == "address":
                lines = [line for line in (data.get("address_line1"), data.get("address_line2")) if line]
                rest = {k: data.get(k) or "" for k in ("city", "state", "postal_code", "country")}
                out[name] = {"lines": lines, **rest} if lines or any(rest.values()) else None
            elif name in ("emergency_contact", "guardian"):
                prefix = "emergency" if name == "emergency_contact" else "guardian"
                person = {p: data.get(f"{prefix}_{p}") or "" for p in ("name", "relationship", "phone", "email")}
                out[name] = person if person["name"] else None
            elif name == "date_of_birth":
                out[name] = data.get(name)
            else:
                out[name] = data.get(name) or None
        return out


class HealthBackgroundForm(ChartForm):
    health_background = forms.CharField(
        label="Health background", required=False, max_length=_limit(Patient._meta.get_field("health_background").validators),
        validators=[multi_line], widget=forms.Textarea(attrs={"rows": 8}),
        help_text="History, context and anything the care team should know. Clear it to remove it.",
    )  # fmt: skip
    reason = _reason()
    version = _version()

    def changes(self) -> dict:
        return {"health_background": self.cleaned_data.get("health_background") or None}


class InsuranceForm(ChartForm):
    payer = _text("Insurer (payer)", 300)
    member_id = _text("Member id", 120)
    group = _text("Group number", 120)
    reason = _reason()
    version = _version()

    @staticmethod
    def initial_from(values: dict) -> dict:
        return dict(values.get("insurance") or {})

    def clean(self):
        cleaned = super().clean()
        payer, member = cleaned.get("payer"), cleaned.get("member_id")
        if (payer or member or cleaned.get("group")) and not payer and "payer" not in self.errors:
            self.add_error("payer", "Enter the insurer, or clear all three fields to remove the insurance.")
        if payer and not member and "member_id" not in self.errors:
            self.add_error("member_id", "Enter the member id printed on the insurance card.")
        return cleaned

    def changes(self) -> dict:
        data = self.cleaned_data
        if not data.get("payer"):
            return {"insurance": None}
        return {"insurance": {"payer": data["payer"], "member_id": data["member_id"], "group": data.get("group") or ""}}


# --- the clinical lists ----------------------------------------------------------------------------
def _choices(model, field_name: str, *, exclude=()) -> list[tuple[str, str]]:
    """The choices of a Literal field of a clinical item model, as (value, label)."""
    values = typing.get_args(model.model_fields[field_name].annotation)
    return [(v, v.replace("-", " ").capitalize()) for v in values if v not in exclude]


def _date(label: str, **kwargs) -> forms.DateField:
    return forms.DateField(
        label=label, required=False, input_formats=["%Y-%m-%d"], error_messages={"invalid": "Enter the date as YYYY-MM-DD."},
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **kwargs,
    )  # fmt: skip


class MedicationForm(ChartForm):
    prefix = "medication"
    name = _text("Medication", 300, required=True, error_messages={"required": "Enter the medication's name."})
    dose = _text("Dose", 120, help_text="As written, e.g. 500 mg twice daily.")
    route = _text("Route", 120, help_text="e.g. oral, inhaled, topical.")
    kind = forms.ChoiceField(label="Prescription or over the counter", choices=[("prescription", "Prescription"), ("otc", "Over the counter")],
                             initial="prescription", error_messages={"invalid_choice": "Choose prescription or over the counter."})
    status = forms.ChoiceField(label="Status", choices=_choices(clinical.Medication, "status", exclude=("entered-in-error",)),
                               initial="active", error_messages={"invalid_choice": "Choose a status from the list."})
    start = _date("Started")

    def clean_start(self):
        value = self.cleaned_data.get("start")
        if value and value > timezone.localdate() + datetime.timedelta(days=366):
            raise forms.ValidationError("A start more than a year ahead is not a plan, it is a typo.")
        return value

    def item(self) -> dict:
        data = self.cleaned_data
        return {"name": data["name"], "dose": data["dose"], "route": data["route"], "kind": data["kind"], "status": data["status"],
                "start": data["start"].isoformat() if data.get("start") else None}  # fmt: skip


class AllergyForm(ChartForm):
    prefix = "allergy"
    substance = _text("Substance", 300, required=True, error_messages={"required": "Enter what the patient is allergic to."})
    category = forms.ChoiceField(label="Kind", choices=_choices(clinical.Allergy, "category"), initial="unknown",
                                 error_messages={"invalid_choice": "Choose a kind from the list."})
    criticality = forms.ChoiceField(label="Criticality", choices=_choices(clinical.Allergy, "criticality"), initial="unknown",
                                    error_messages={"invalid_choice": "Choose a criticality from the list."})
    reaction = _text("Reaction", 500)

    def item(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("substance", "category", "criticality", "reaction")}


class ConditionForm(ChartForm):
    prefix = "condition"
    name = _text("Condition", 300, required=True, error_messages={"required": "Enter the condition."})
    status = forms.ChoiceField(label="Status", choices=_choices(clinical.Condition, "status", exclude=("entered-in-error",)),
                               initial="active", error_messages={"invalid_choice": "Choose a status from the list."})
    onset = _date("Onset")

    def clean_onset(self):
        value = self.cleaned_data.get("onset")
        if value and value > timezone.localdate():
            raise forms.ValidationError("The onset cannot be in the future.")
        return value

    def item(self) -> dict:
        data = self.cleaned_data
        return {"name": data["name"], "status": data["status"], "onset": data["onset"].isoformat() if data.get("onset") else None}


class ItemStatusForm(ChartForm):
    list_name = forms.ChoiceField(choices=[(n, n) for n in ITEM_STATUS_CHANGES], widget=forms.HiddenInput,
                                  error_messages={"invalid_choice": "That is not a list of the chart."})
    item_id = forms.RegexField(regex=r"^[A-Za-z0-9-]{1,64}$", widget=forms.HiddenInput,
                               error_messages={"invalid": "That is not an item of the chart."})
    status = forms.ChoiceField(label="Mark as", choices=sorted({(s, s.replace("-", " ").capitalize()) for v in ITEM_STATUS_CHANGES.values() for s in v}),
                               error_messages={"invalid_choice": "Choose how to mark the item."})
    # A REC4 reason (a correction of the record) or a clinical one (the course of care, for the
    # statuses services.CARE_STATUSES names); services.do_set_item_status says which goes with which.
    reason = forms.ChoiceField(label="Reason", choices=[("", "Choose a reason…"), *REASONS, *sorted(CARE_REASON_LABELS.items())],
                               error_messages={"required": REASON_MESSAGE, "invalid_choice": REASON_MESSAGE})
    version = _version()  # the item's, as the page showed it (services.item_version)

    def clean(self):
        cleaned = super().clean()
        list_name, status, reason = cleaned.get("list_name"), cleaned.get("status"), cleaned.get("reason")
        if list_name and status and status not in ITEM_STATUS_CHANGES[list_name]:
            self.add_error("status", f"An item of this list cannot be marked {status.replace('-', ' ')}.")
        elif list_name and status and reason in CARE_REASON_LABELS:
            if status not in CARE_STATUSES.get(list_name, ()):
                self.add_error("reason", f"Marking an item {status.replace('-', ' ')} corrects the record: choose the patient's request, "
                                         "an error corrected, or an immaterial change.")  # fmt: skip
            elif reason not in dict(CARE_REASONS[list_name]):
                self.add_error("reason", "That clinical reason does not apply to this list: choose one it offers.")
        return cleaned


# --- notes -------------------------------------------------------------------------------------------
NOTE_LIMIT = 50_000


class NoteForm(ChartForm):
    template = forms.ChoiceField(choices=NoteTemplate.choices, widget=forms.HiddenInput,
                                 error_messages={"invalid_choice": "Choose a note template: SOAP or free text.", "required": "Choose a note template: SOAP or free text."})
    subjective = forms.CharField(label="Subjective", required=False, max_length=NOTE_LIMIT, validators=[multi_line], widget=forms.Textarea(attrs={"rows": 4}),
                                 help_text="What the patient reports.")
    objective = forms.CharField(label="Objective", required=False, max_length=NOTE_LIMIT, validators=[multi_line], widget=forms.Textarea(attrs={"rows": 4}),
                                help_text="What you observed and measured.")
    assessment = forms.CharField(label="Assessment", required=False, max_length=NOTE_LIMIT, validators=[multi_line], widget=forms.Textarea(attrs={"rows": 4}))
    plan = forms.CharField(label="Plan", required=False, max_length=NOTE_LIMIT, validators=[multi_line], widget=forms.Textarea(attrs={"rows": 4}))
    text = forms.CharField(label="Note", required=False, max_length=NOTE_LIMIT, validators=[multi_line], widget=forms.Textarea(attrs={"rows": 12}))

    def __init__(self, *args, template: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.template_name_ = template
        keep = SOAP_SECTIONS if template == NoteTemplate.SOAP else ("text",)
        for name in [*SOAP_SECTIONS, "text"]:
            if name not in keep:
                del self.fields[name]
        self.fields["template"].initial = template

    @property
    def sections(self) -> list:
        return [self[name] for name in self.fields if name != "template"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("template") and cleaned["template"] != self.template_name_:
            raise forms.ValidationError("The note's template cannot change.")
        if not self.errors and not any(cleaned.get(name) for name in self.fields if name != "template"):
            raise forms.ValidationError("Write at least one section before saving the note.")
        return cleaned

    def content(self) -> dict:
        return {name: self.cleaned_data.get(name, "") for name in self.fields if name != "template"}


class TextForm(ChartForm):
    """An addendum, or a psychotherapy note: one text."""

    text = forms.CharField(label="Text", max_length=NOTE_LIMIT, validators=[multi_line], widget=forms.Textarea(attrs={"rows": 6}),
                           error_messages={"required": "Write the text first."})

    def __init__(self, *args, label: str = "Text", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].label = label


class SignForm(forms.Form):
    confirm = forms.ChoiceField(choices=[("yes", "yes")], widget=forms.HiddenInput,
                                error_messages={"required": "Confirm the signature on the confirmation page.",
                                                "invalid_choice": "Confirm the signature on the confirmation page."})


# --- files ---------------------------------------------------------------------------------------------
def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


class UploadForm(ChartForm):
    kind = forms.ChoiceField(label="Kind", error_messages={"invalid_choice": "Choose document or photo.", "required": "Choose document or photo."})
    title = _text("Title", _limit(Document._meta.get_field("title").validators), required=True, help_text="What it is, e.g. Referral letter. The file's own name is never kept.",
                  error_messages={"required": "Give the file a title."})
    file = forms.FileField(label="File", error_messages={"required": "Choose a file to upload.", "empty": "The file is empty.",
                                                        "invalid": "Choose a file to upload."},
                           widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}))

    def __init__(self, *args, kinds: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kinds
        self.fields["file"].help_text = f"PDF, JPEG or PNG, up to {_megabytes(settings.CONFIDE_UPLOAD_MAX_BYTES)}. Images are re-encoded, which removes their metadata (e.g. location)."
        self.fields["file"].widget.attrs["aria-describedby"] = f"{self['file'].auto_id}_help"

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        limit = settings.CONFIDE_UPLOAD_MAX_BYTES
        try:
            check_file_count(self.files)  # a request with more file parts than the cap keeps none of them
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None
        if upload is not None and getattr(upload, "refusal", None):
            raise forms.ValidationError(upload.refusal)  # what the upload handler refused while parsing
        if upload is not None and upload.size > limit:
            raise forms.ValidationError(f"The file is larger than the {_megabytes(limit)} limit.")
        return upload


class AuthorizationDocumentForm(UploadForm):
    """The document kept with a parent's or guardian's portal link: a title and the file, with
    the chart upload's checks (records/representatives.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, kinds=[("authorization", "Authorization")], **kwargs)
        del self.fields["kind"]
        self.fields["title"].help_text = "What it is, e.g. Guardianship order or Birth certificate. The file's own name is never kept."


# --- merging two charts ----------------------------------------------------------------------------
class MergeForm(ChartForm):
    """Merge this chart (the duplicate) into `survivor`, one of the charts a search offered."""

    survivor = forms.UUIDField(label="The chart to keep", error_messages={"required": "Choose the chart to keep.",
                                                                          "invalid": "Choose the chart to keep."})  # fmt: skip
    mode = forms.ChoiceField(
        label="Afterwards", widget=forms.RadioSelect(attrs={"class": "form-check-input"}), initial="reversible",
        choices=[("reversible", "Keep it reversible for 30 days (recommended)"),
                 ("final", "Make it final now: the duplicate's key is destroyed and the merge cannot be undone")],
        error_messages={"required": "Choose whether the merge stays reversible.", "invalid_choice": "Choose whether the merge stays reversible."},
    )  # fmt: skip
    confirm = forms.BooleanField(label="I checked that both charts are the same person", error_messages={
        "required": "Confirm that both charts are the same person."})  # fmt: skip


class MergeCloseForm(ChartForm):
    """Undo a reversible merge into this chart, or make it final."""

    merge_id = forms.UUIDField(widget=forms.HiddenInput, error_messages={"required": "That is not a merge of this chart.",
                                                                          "invalid": "That is not a merge of this chart."})  # fmt: skip
    action = forms.ChoiceField(choices=[("undo", "Undo"), ("final", "Make final")], widget=forms.HiddenInput,
                               error_messages={"required": "Choose undo or make final.", "invalid_choice": "Choose undo or make final."})  # fmt: skip


# --- break-the-glass -------------------------------------------------------------------------------------
class BreakGlassForm(ChartForm):
    """The reason a clinician types to open a tab beyond their normal access (the door checks
    it again: length, the text rule). The tab is one of those the offer was made for."""

    tab = forms.ChoiceField(choices=[], widget=forms.HiddenInput,
                            error_messages={"required": "Choose the part of the chart to open.",
                                            "invalid_choice": "Choose the part of the chart to open."})
    reason = forms.CharField(
        label="Why you need this chart now", min_length=10, max_length=2000, validators=[multi_line],
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Say why, in your own words (10 to 2,000 characters). The privacy officer is told at once and reads it.",
        error_messages={"required": "Say why you need this chart now.",
                        "min_length": "Say why in at least 10 characters.",
                        "max_length": "The reason is limited to 2,000 characters."},
    )  # fmt: skip

    def __init__(self, *args, tabs: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tab"].choices = tabs


# --- portal access (records/portal_access.py) -------------------------------------------------------
class PortalInviteForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address", max_length=254,
        error_messages={"required": "Enter the e-mail address to send the invitation to.", "invalid": "Enter an e-mail address like name@example.org."},
        widget=forms.EmailInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )  # fmt: skip


class GuardianInviteForm(PortalInviteForm):
    relationship = forms.CharField(
        label="Relationship to the patient", max_length=60, help_text="For example: mother, father, legal guardian.",
        error_messages={"required": "Say how this person is related to the patient."},
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )  # fmt: skip
    basis = forms.ChoiceField(
        label="How you checked their authority", choices=[("", "Choose…"), *BASIS_CHOICES],
        error_messages={"required": "Choose how you checked the parent's or guardian's authority.", "invalid_choice": "Choose one of the listed ways."},
        widget=forms.Select(attrs={"class": "form-select"}),
    )  # fmt: skip
    verified = forms.BooleanField(
        label="I checked that this person is the patient's parent or legal guardian.",
        error_messages={"required": "Confirm that you checked this person is the patient's parent or guardian."},
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )  # fmt: skip
