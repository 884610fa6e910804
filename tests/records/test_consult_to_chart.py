"""REC2: a consultation sent through the public form reaches the chart whole — every answer in
its place (allergies, medicines with their dose and kind, photo, and the reason, duration and
preferred call time in a consultation record with its form version), shown read-only on the
chart's tabs and written to the FHIR export — accepted as a new chart or merged into one."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records import fhir
from confide.records.models import IntakeSubmission, Patient
from tests.records.consultations import form_data
from tests.records.uploads import png_upload

ANSWERS = {
    "q_reason": "An itchy rash on both forearms\nworse at night",
    "q_since": "A few weeks",
    "q_allergies": "Penicillin",
    "q_contact_time": "Evenings",
    "q_medications-0-name": "Ibuprofen",
    "q_medications-0-dose": "200 mg twice a day",
    "q_medications-0-kind": "otc",
    "q_medications-1-name": "Cetirizine",
    "q_medications-1-dose": "10 mg daily",
    "q_medications-1-kind": "prescription",
    "q_medications": None,  # not the old one-per-line box
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _send(world) -> IntakeSubmission:
    response = Client().post(
        reverse("intake:consult", kwargs={"practice_slug": world.a.practice.slug}),
        {**form_data(world.a.practice, **ANSWERS), "q_photo": png_upload()},
    )
    assert response.status_code == 200 and 'data-testid="received"' in response.content.decode()
    with tenant_context(practice_id=world.a.practice.id):
        return IntakeSubmission.objects.get()


def _text(html: str) -> str:
    """The page's text, tags removed and spaces collapsed (to read it as a person would)."""
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    return text.replace(" ,", ",").replace(" .", ".")


def _row(html: str, name: str) -> str:
    """The text of the one table row that names `name`."""
    [row] = [_text(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", html, flags=re.S) if name.lower() in r.lower()]
    return row


def _check_chart(client, patient_id, *, allergies: int, medications: int):
    kwargs = {"patient_id": patient_id}
    page = client.get(reverse("records:chart-clinical", kwargs=kwargs)).content.decode()
    clinical = _text(page)
    assert "No allergies recorded" not in clinical and "penicillin" in clinical.lower()
    ibuprofen, cetirizine = _row(page, "Ibuprofen"), _row(page, "Cetirizine")
    assert "200 mg twice a day" in ibuprofen and "Over the counter" in ibuprofen and "reported by the patient" in ibuprofen
    assert "10 mg daily" in cetirizine and "Prescription" in cetirizine and "reported by the patient" in cetirizine
    consultations = _text(client.get(reverse("records:chart-consultations", kwargs=kwargs)).content.decode())
    assert "Asked with version 1 of the practice's consultation form" in consultations
    assert "Reason for the visit An itchy rash on both forearms worse at night" in consultations
    assert "How long A few weeks" in consultations and "Preferred time to call Evenings" in consultations
    # the original answers, read-only, question by question
    for question, answer in (("Allergies, if any", "Penicillin"), ("When may we call you?", "Evenings"),
                             ("Medicines you take now", "Ibuprofen, 200 mg twice a day (over the counter) Cetirizine, 10 mg daily (prescription)"),
                             ("A photo, if it helps (JPEG or PNG)", "A photo (in the chart's photos).")):  # fmt: skip
        assert f"{question} {answer}" in consultations
    added = f"Added to the chart: {f'{allergies} allergy, ' if allergies else ''}{medications} medications, 1 photo."
    assert added in consultations
    documents = _text(client.get(reverse("records:chart-documents", kwargs=kwargs)).content.decode())
    assert "Consultation: A photo, if it helps (JPEG or PNG)" in documents


def _check_export(world, patient_id, tmp_path):
    out = tmp_path / "record.json"
    fhir.do_export_patient(patient_id, out)
    resources: dict[str, list] = {}
    for entry in json.loads(out.read_text())["entry"]:
        resources.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    assert [a["code"]["text"].lower() for a in resources["AllergyIntolerance"]] == ["penicillin"]
    statements = {m["medicationCodeableConcept"]["text"]: m for m in resources["MedicationStatement"]}
    ibuprofen, cetirizine = statements["Ibuprofen"], statements["Cetirizine"]
    assert ibuprofen["dosage"][0]["text"] == "200 mg twice a day" and cetirizine["dosage"][0]["text"] == "10 mg daily"
    assert {c["code"] for c in ibuprofen["category"]["coding"]} == {"otc", "patientspecified"}
    assert {c["code"] for c in cetirizine["category"]["coding"]} == {"prescription", "patientspecified"}
    assert ibuprofen["informationSource"] == {"reference": f"urn:uuid:{patient_id}"}
    assert "MedicationRequest" not in resources  # what the patient reported is not an order made here
    [response] = resources["QuestionnaireResponse"]
    assert response["status"] == "completed" and response["questionnaire"] == f"{fhir.INTAKE_QUESTIONNAIRE}|1"
    answers = {item["linkId"]: item["answer"][0]["valueString"] for item in response["item"]}
    assert answers["reason"] == "An itchy rash on both forearms\nworse at night"
    assert (answers["since"], answers["allergies"], answers["contact_time"]) == ("A few weeks", "Penicillin", "Evenings")
    assert "Ibuprofen, 200 mg twice a day (over the counter)" in answers["medications"]


def test_rec2_a_consultation_from_the_public_form_accepted_as_a_new_chart_shows_every_answer_and_exports_it(world, signed_in, tmp_path):
    submission = _send(world)
    client = signed_in(Role.CLINICIAN)
    review = client.get(reverse("intake:detail", kwargs={"submission_id": submission.pk})).content.decode()
    assert "Ibuprofen — 200 mg twice a day (over the counter)" in review and "Cetirizine — 10 mg daily (prescription)" in review
    response = client.post(reverse("intake:accept", kwargs={"submission_id": submission.pk}))
    assert response.status_code == 302
    with tenant_context(practice_id=world.a.practice.id):
        patient_id = Patient.objects.get().pk
    _check_chart(client, patient_id, allergies=1, medications=2)
    _check_export(world, patient_id, tmp_path)


def test_rec2_a_consultation_merged_into_an_existing_chart_adds_its_answers_without_duplicating_what_is_there(world, signed_in, tmp_path):
    from confide.core.actors import StaffActor
    from confide.records import services

    clinician = StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=world.a.practice.id):
        known = services.do_create_patient(actor=clinician, given_name="Noor", family_name="Haddad", email="noor.haddad@example.test")
        services.do_add_item(actor=clinician, patient_id=known.pk, list_name="allergies", item={"substance": "penicillin"})
    submission = _send(world)
    client = signed_in(Role.CLINICIAN)
    assert "Add to Noor Haddad (same email)" in client.get(reverse("intake:detail", kwargs={"submission_id": submission.pk})).content.decode()
    response = client.post(reverse("intake:accept", kwargs={"submission_id": submission.pk}), {"merge_into": str(known.pk)})
    assert response.status_code == 302
    with tenant_context(practice_id=world.a.practice.id):
        assert list(Patient.objects.values_list("pk", flat=True)) == [known.pk]
    _check_chart(client, known.pk, allergies=0, medications=2)
    clinical = client.get(reverse("records:chart-clinical", kwargs={"patient_id": known.pk})).content.decode()
    _row(clinical, "penicillin")  # one row: already listed, so not added twice
    _check_export(world, known.pk, tmp_path)


@pytest.mark.parametrize(("typed", "expected"), [("Penicillin; peanuts, latex.", ["Penicillin", "peanuts", "latex"]),
                                                 ("None", []), ("NKDA", []), ("", [])])  # fmt: skip
def test_rec2_the_allergies_answer_becomes_one_allergy_per_substance(typed, expected):
    from confide.records.intake import allergy_items

    assert [item["substance"] for item in allergy_items(typed)] == expected
