"""Issue 11 items 14 and 15: one rule per text field of the chart, whoever writes it — the web
forms, the services (and so the FHIR import), the clinical lists, notes, files, the online
consultation and its form. A value one of them refuses, all of them refuse; nothing is cut."""

from __future__ import annotations

import pytest
from django.core.validators import MaxLengthValidator
from django.test import Client
from django.urls import reverse

from confide.core.actors import StaffActor
from confide.core.errors import InvalidInput
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records import forms, intake, notes
from confide.records.chart import get_editable
from confide.records.files import do_add_file
from confide.records.models import IntakeSubmission, Patient
from confide.records.services import clean_fields, do_add_item, do_create_patient, do_update_patient
from confide.vault.fields import EncryptedTextField
from tests.records.consultations import form_data
from tests.records.uploads import png_upload
from tests.security.routes_helpers import assert_no_writes

@pytest.fixture
def in_a_clinician(world):
    with tenant_context(practice_id=world.a.practice.id):
        yield StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])


@pytest.fixture
def in_a_owner(world):
    with tenant_context(practice_id=world.a.practice.id):
        yield StaffActor.from_membership(world.a.memberships[Role.OWNER])


TEXT_FIELDS = [f.name for f in Patient._meta.concrete_fields if isinstance(f, EncryptedTextField)]
MULTI_LINE = {"health_background"}
HOSTILE = {
    "a line break": ("Ada\r\nBcc: x@example.test", "it must be one line: remove the line break."),
    "NUL": ("Ada\x00", "remove the invisible control character it contains."),
    "a right-to-left override": ("Ada\u202e", "remove the invisible character that reverses the direction of the text."),
    "only zero-width characters": ("\u200b\u200d", "it holds only invisible characters."),
}


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


@pytest.mark.parametrize("name", TEXT_FIELDS)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_every_text_field_of_the_patient_refuses_what_its_rule_refuses(name, case):
    value, message = HOSTILE[case]
    if name in MULTI_LINE and case in ("a line break", "a right-to-left override"):
        assert clean_fields({name: value})[name] == value.strip()  # several lines: kept
        return
    with pytest.raises(InvalidInput) as refused:
        clean_fields({name: value})
    assert str(refused.value) == f"{_label(name)}: {message}"


@pytest.mark.parametrize("name", TEXT_FIELDS)
def test_an_over_long_value_is_refused_never_cut(name):
    limit = next(v.limit_value for v in Patient._meta.get_field(name).validators if isinstance(v, MaxLengthValidator))
    with pytest.raises(InvalidInput) as refused:
        clean_fields({name: "1" * (limit + 1)})
    assert str(refused.value) == f"{_label(name)}: at most {limit} characters."


def test_an_email_with_a_nul_a_phone_with_letters_and_a_free_text_sex_are_refused_by_the_service(world, in_a_clinician):
    for fields, message in [
        ({"email": "a@b\x00.c"}, "Email: remove the invisible control character it contains."),
        ({"email": "not-an-address"}, "Email: enter an email address such as name@example.org."),
        ({"phone": "call me maybe"}, "Phone: enter a phone number: digits, spaces, + ( ) - . only."),
        ({"sex": "F"}, "Sex: choose female, male, other or unknown."),
    ]:
        with pytest.raises(InvalidInput) as refused:
            do_create_patient(actor=in_a_clinician, given_name="Ada", family_name="Okafor", **fields)
        assert str(refused.value) == message
    assert not Patient.objects.exists()


def test_a_name_at_its_limit_is_stored_whole(world, in_a_clinician):
    patient = do_create_patient(actor=in_a_clinician, given_name="A" * 300, family_name="Okafor")
    assert get_editable(in_a_clinician, patient.id, "registration").values["given_name"] == "A" * 300


def test_an_edit_refuses_a_hostile_value_and_keeps_the_old_one(world, in_a_clinician):
    patient = do_create_patient(actor=in_a_clinician, given_name="Ada", family_name="Okafor")
    with pytest.raises(InvalidInput):
        do_update_patient(actor=in_a_clinician, patient_id=patient.id, reason="error_correction", family_name="Oka\u202efor")
    assert get_editable(in_a_clinician, patient.id, "registration").values["family_name"] == "Okafor"


@pytest.mark.parametrize(
    ("list_name", "item", "message"),
    [
        ("medications", {"name": "Ibuprofen\n400"}, "name: it must be one line: remove the line break."),
        ("medications", {"name": "Ibuprofen", "dose": "\u202e2 daily"}, "dose: remove the invisible character that reverses the direction of the text."),
        ("allergies", {"substance": "\u200b"}, "substance: it holds only invisible characters."),
        ("conditions", {"name": "x" * 301}, "name: at most 300 characters."),
    ],
)  # fmt: skip
def test_a_clinical_item_refuses_what_the_forms_refuse(world, in_a_clinician, list_name, item, message):
    patient = do_create_patient(actor=in_a_clinician, given_name="Ada", family_name="Okafor")
    with pytest.raises(InvalidInput) as refused:
        do_add_item(actor=in_a_clinician, patient_id=patient.id, list_name=list_name, item=item)
    assert str(refused.value) == message


def test_structured_values_refuse_a_line_break_in_an_address_and_a_bad_guardian_email(world, in_a_clinician):
    for fields, message in [
        ({"address": {"lines": ["1 Main St\r\nBcc: x"]}}, "Address: lines.0: it must be one line: remove the line break."),
        ({"guardian": {"name": "Bo", "relationship": "father", "email": "bo@\x00x.org"}}, "Guardian: email: remove the invisible control character it contains."),
        ({"emergency_contact": {"name": "Bo", "relationship": "brother", "phone": "ask at the desk"}}, "Emergency contact: phone: enter a phone number: digits, spaces, + ( ) - . only."),
    ]:  # fmt: skip
        with pytest.raises(InvalidInput) as refused:
            do_create_patient(actor=in_a_clinician, given_name="Ada", family_name="Okafor", **fields)
        assert str(refused.value) == message


@pytest.mark.parametrize("text", ["S: better\x00", "\u200b\n\u200b", "colour \x1b[31mred"], ids=["nul", "invisible", "escape"])
def test_notes_keep_line_breaks_but_refuse_other_controls(world, in_a_clinician, text):
    patient = do_create_patient(actor=in_a_clinician, given_name="Ada", family_name="Okafor")
    with pytest.raises(InvalidInput):
        notes.do_create_note(actor=in_a_clinician, patient_id=patient.id, template="free", content={"text": text})
    with pytest.raises(InvalidInput):
        notes.do_create_psychotherapy_note(actor=in_a_clinician, patient_id=patient.id, text=text)
    note = notes.do_create_note(actor=in_a_clinician, patient_id=patient.id, template="free", content={"text": "S:\tbetter\r\nP: review"})
    assert note.pk


def test_a_file_title_is_one_line(world, in_a_clinician):
    patient = do_create_patient(actor=in_a_clinician, given_name="Ada", family_name="Okafor")
    with pytest.raises(InvalidInput) as refused:
        do_add_file(actor=in_a_clinician, patient_id=patient.id, kind="photo", title="Rash\r\nleft arm", upload=png_upload())
    assert str(refused.value) == "The title: it must be one line: remove the line break."


# --- the forms use the same rules ------------------------------------------------------------------------
REGISTRATION = reverse("records:patient-new")


@pytest.mark.parametrize(
    ("field", "value"),
    [("given_name", "Ada\u202e"), ("family_name", "\u200b"), ("preferred_name", "A\x85B"), ("address_line1", "1 Main St\r\nBcc: x"),
     ("emergency_name", "Bo\u2066"), ("guardian_email", "bo@\x00x.org"), ("pronouns", "she\x1b")],
)  # fmt: skip
def test_the_registration_form_refuses_a_hostile_value_per_field_and_creates_nothing(signed_in, world, field, value):
    data = {"given_name": "Ada", "family_name": "Okafor", "emergency_name": "Bo", "guardian_name": "Cy", field: value}
    client = signed_in(Role.FRONT_DESK)
    with assert_no_writes():
        response = client.post(REGISTRATION, data)
    assert response.status_code == 400
    assert f'id="id_{field}"' in response.content.decode() and 'aria-invalid="true"' in response.content.decode()


def test_every_patient_field_of_the_registration_form_has_the_models_limit_and_validators():
    form = forms.RegistrationForm(writable=tuple(TEXT_FIELDS), with_reason=False)
    for name in TEXT_FIELDS:
        if name in form.fields and name != "sex":
            model_validators = Patient._meta.get_field(name).validators
            limit = next(v.limit_value for v in model_validators if isinstance(v, MaxLengthValidator))
            assert form.fields[name].max_length == limit, name
            assert all(v in form.fields[name].validators for v in model_validators if not isinstance(v, MaxLengthValidator)), name


def test_every_chart_text_input_is_one_line_and_every_textarea_several():
    from django import forms as django_forms

    from confide.core.text import multi_line, single_line

    built = [forms.RegistrationForm(writable=tuple(f.name for f in Patient._meta.concrete_fields), with_reason=True),
             forms.HealthBackgroundForm(), forms.InsuranceForm(), forms.MedicationForm(), forms.AllergyForm(),
             forms.ConditionForm(), forms.NoteForm(template="soap"), forms.NoteForm(template="free"), forms.TextForm(),
             forms.UploadForm(kinds=[("photo", "Photo")])]  # fmt: skip
    for form in built:
        for name, field in form.fields.items():
            if type(field) is not django_forms.CharField or isinstance(field.widget, django_forms.HiddenInput):
                continue
            rule = multi_line if isinstance(field.widget, django_forms.Textarea) else single_line
            assert rule in field.validators, f"{type(form).__name__}.{name}"


# --- the online consultation and its form -------------------------------------------------------------------
def _consult(world):
    return reverse("intake:consult", kwargs={"practice_slug": world.a.practice.slug})


def _submissions(world) -> int:
    with tenant_context(practice_id=world.a.practice.id):
        return IntakeSubmission.objects.count()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("given_name", "Noor\u202e", "First name: remove the invisible character that reverses the direction of the text."),
        ("family_name", "\u200b", "Last name: it holds only invisible characters."),
        ("given_name", "Noor\nHaddad", "First name: it must be one line: remove the line break."),
        ("q_allergies", "pollen\r\ndust", "Allergies, if any: it must be one line: remove the line break."),
        ("q_medications", "cetirizine\t10 mg", "Medicines you take now: remove the invisible control character it contains."),
        ("phone", "call me maybe", "Phone: that is not a phone number (digits, spaces, + ( ) - . only)."),
    ],
)  # fmt: skip
def test_the_consultation_form_follows_the_same_rules_and_keeps_nothing(world, field, value, message):
    response = Client().post(_consult(world), form_data(world.a.practice, **{field: value}))
    assert response.status_code == 400
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert _submissions(world) == 0


def test_a_long_answer_keeps_its_line_breaks(world):
    response = Client().post(_consult(world), form_data(world.a.practice, q_reason="Itchy rash\r\n\u202bboth forearms\u202c"))
    assert response.status_code == 200 and _submissions(world) == 1


@pytest.mark.parametrize(
    ("toml_line", "where"),
    [('label = "What brings you\\r\\nBcc: x"', "questions.0.label"), ('label = "\\u200b"', "questions.0.label"),
     ('help = "see \\u202eFDP"', "questions.0.help")],
)  # fmt: skip
def test_the_intake_form_editor_refuses_a_hostile_label(world, in_a_owner, toml_line, where):
    from confide.policy.loader import PolicyError

    definition = (f'authorization_text = "{"I authorize this practice to keep what I write here. " * 2}"\n\n'
                  f'[[questions]]\nid = "reason"\ntype = "text"\n{toml_line}\n')  # fmt: skip
    if "label" not in toml_line:
        definition += 'label = "Why?"\n'
    with pytest.raises(PolicyError) as refused:
        intake.do_update_form(actor=in_a_owner, definition_toml=definition)
    assert str(refused.value).startswith(f"form, line ") and where in str(refused.value)
