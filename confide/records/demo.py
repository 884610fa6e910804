"""The demo practice's charts (`confide demo`): made-up people, no real ones, with a living record.

Everything is written through the services, so through the chart door and into the audit log,
by the demo staff member whose work it is: the front desk registers (demographics, address,
emergency contact, the guardian of the minor, the ID checked at the desk), billing records
insurance, the clinician writes the clinical lists, the notes (one signed with an addendum, one
draft, one more signed), a psychotherapy note, and adds a document and a photo (a PDF and a PNG
made here, in memory). Terminology codes are real (SNOMED CT, LOINC, RxNorm, CVX); the people,
numbers and addresses are invented (555 phone numbers, example.org mail).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"


def _code(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def _person(name: str, relationship: str, phone: str, email: str = "") -> dict:
    return {"name": name, "relationship": relationship, "phone": phone, "email": email}


def _address(line: str, city: str, postal_code: str, state: str = "CA") -> dict:
    return {"lines": [line], "city": city, "state": state, "postal_code": postal_code, "country": "US"}


def _bp(when: str, systolic: float, diastolic: float) -> dict:
    return {
        "name": "Blood pressure", "coding": _code(LOINC, "85354-9", "Blood pressure panel"), "category": "vital-signs", "effective": when,
        "components": [
            {"name": "Systolic", "coding": _code(LOINC, "8480-6", "Systolic blood pressure"), "value": systolic, "unit": "mm[Hg]"},
            {"name": "Diastolic", "coding": _code(LOINC, "8462-4", "Diastolic blood pressure"), "value": diastolic, "unit": "mm[Hg]"},
        ],
    }  # fmt: skip


def _score(name: str, loinc: str, value: float, when: str) -> dict:
    return {"name": name, "coding": _code(LOINC, loinc, name), "category": "survey", "value": value, "unit": "{score}", "effective": when}


def _session(start: str, minutes: int = 50, reason: str = "") -> dict:
    import datetime

    begin = datetime.datetime.fromisoformat(start)
    return {"kind": "Psychotherapy session", "coding": _code(SCT, "75516001", "Psychotherapy"), "klass": "ambulatory",
            "start": start, "end": (begin + datetime.timedelta(minutes=minutes)).isoformat(), "reason": reason}  # fmt: skip


FLU = _code(CVX, "140", "Influenza, seasonal, injectable, preservative free")

# Keyed by (given name, family name) of confide.site.management.commands.demo.PATIENTS.
CHARTS: dict[tuple[str, str], dict] = {
    ("Marisol", "Quintero"): {
        "registration": {"sex": "female", "pronouns": "she/her", "language": "es", "medical_record_number": "DEMO-0001",
                         "address": _address("12 Alder St", "Oakland", "94607"),
                         "emergency_contact": _person("Lucía Quintero", "sister", "+1 415 555 0150")},
        "insurance": {"payer": "Demo Mutual Health", "member_id": "DMH-100231", "group": "G-4410"},
        "health_background": "Panic attacks since 2022; no hospital admissions. Runs twice a week.",
        "medications": [
            {"name": "sertraline 50 MG Oral Tablet", "coding": _code(RXNORM, "312940", "sertraline 50 MG Oral Tablet"),
             "dose": "50 mg once daily", "route": "oral", "start": "2025-09-15", "prescriber": "Chris Clinician"},
            {"name": "Ibuprofen 200 MG Oral Tablet", "coding": _code(RXNORM, "310965", "Ibuprofen 200 MG Oral Tablet"),
             "kind": "otc", "dose": "200-400 mg as needed for headache", "route": "oral"},
        ],
        "allergies": [{"substance": "Penicillin", "category": "medication", "criticality": "high", "reaction": "hives",
                       "coding": _code(SCT, "764146007", "Penicillin")}],
        "conditions": [{"name": "Generalized anxiety disorder", "coding": _code(SCT, "21897009", "Generalized anxiety disorder"),
                        "onset": "2022-04-01"}],
        "lab_results": [_score("GAD-7 total score", "70274-6", 14, "2025-09-15T16:00:00+00:00"),
                        _score("GAD-7 total score", "70274-6", 9, "2025-12-01T16:00:00+00:00"),
                        _bp("2025-09-15T16:05:00+00:00", 124, 79)],
        "immunizations": [{"vaccine": "Influenza, seasonal", "coding": FLU, "date": "2025-10-06", "lot_number": "FL2025-118"}],
        "encounters": [_session("2025-09-15T16:00:00+00:00", 60, "intake assessment"), _session("2025-12-01T16:00:00+00:00")],
        "procedures": [{"name": "Cognitive behavioral therapy", "coding": _code(SCT, "304891004", "Cognitive and behavioral therapy"),
                        "performed": "2025-12-01T16:00:00+00:00"}],
    },
    ("Tobias", "Lindqvist"): {
        "registration": {"sex": "male", "pronouns": "he/him", "language": "sv", "medical_record_number": "DEMO-0002",
                         "address": _address("480 Harrison St, Apt 5", "San Francisco", "94105"),
                         "emergency_contact": _person("Elin Lindqvist", "partner", "+1 415 555 0188")},
        "medications": [{"name": "Hydrochlorothiazide 25 MG", "coding": _code(RXNORM, "316049", "Hydrochlorothiazide 25 MG"),
                         "dose": "25 mg every morning", "route": "oral", "start": "2024-02-01", "prescriber": "his GP"}],
        "allergies": [{"substance": "Tree pollen", "category": "environment", "criticality": "low", "reaction": "sneezing, itchy eyes",
                       "coding": _code(SCT, "419263009", "Allergy to tree pollen")}],
        "conditions": [{"name": "Major depressive disorder", "coding": _code(SCT, "370143000", "Major depressive disorder"),
                        "onset": "2025-06-10"},
                       {"name": "Hypertension", "coding": _code(SCT, "38341003", "Hypertension"), "onset": "2024-02-01"}],
        "lab_results": [_score("PHQ-9 total score", "44261-6", 17, "2025-06-10T15:00:00+00:00"),
                        _score("PHQ-9 total score", "44261-6", 11, "2025-10-20T15:00:00+00:00"),
                        _bp("2025-10-20T15:05:00+00:00", 138, 88)],
        "immunizations": [{"vaccine": "Td (adult)", "coding": _code(CVX, "113", "Td (adult) preservative free"), "date": "2021-03-14"}],
        "encounters": [_session("2025-06-10T15:00:00+00:00", 60, "low mood"), _session("2025-10-20T15:00:00+00:00")],
    },
    ("Aurélie", "Fontaine"): {
        "registration": {"sex": "female", "pronouns": "she/her", "language": "fr", "medical_record_number": "DEMO-0003",
                         "address": _address("77 Rue Street", "Daly City", "94014"),
                         "emergency_contact": _person("Marc Fontaine", "husband", "+1 628 555 0120")},
        "insurance": {"payer": "Demo Mutual Health", "member_id": "DMH-208815"},
        "medications": [{"name": "Acetaminophen 325 MG Oral Tablet", "coding": _code(RXNORM, "313782", "Acetaminophen 325 MG Oral Tablet"),
                         "kind": "otc", "dose": "650 mg up to three times a day", "route": "oral"}],
        "conditions": [{"name": "Osteoarthritis of hip", "coding": _code(SCT, "239872002", "Osteoarthritis of hip"), "onset": "2019-05-01"}],
        "lab_results": [{"name": "Body weight", "coding": _code(LOINC, "29463-7", "Body Weight"), "category": "vital-signs",
                         "value": 68.4, "unit": "kg", "effective": "2025-11-03T10:00:00+00:00"}],
        "encounters": [_session("2025-11-03T10:00:00+00:00", 50, "adjusting to chronic pain")],
    },
    ("Kwame", "Mensah"): {
        "registration": {"sex": "male", "pronouns": "he/him", "language": "en", "medical_record_number": "DEMO-0004",
                         "address": _address("2140 Shattuck Ave", "Berkeley", "94704"), "drivers_licence": "CA D0000417",
                         "emergency_contact": _person("Ama Mensah", "mother", "+1 510 555 0164", "ama.mensah@example.com")},
        "allergies": [{"substance": "Peanuts", "category": "food", "criticality": "high", "reaction": "throat swelling",
                       "coding": _code(SCT, "91935009", "Allergy to peanuts")}],
        "medications": [{"name": "Epinephrine 1 MG/ML Auto-Injector",
                         "coding": _code(RXNORM, "1870230", "NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector"),
                         "dose": "0.3 mg once if needed", "route": "intramuscular", "start": "2019-08-01"}],
        "conditions": [{"name": "Perennial allergic rhinitis", "coding": _code(SCT, "446096008", "Perennial allergic rhinitis")}],
        "lab_results": [_score("GAD-7 total score", "70274-6", 6, "2025-11-18T17:00:00+00:00")],
        "immunizations": [{"vaccine": "Influenza, seasonal", "coding": FLU, "date": "2025-10-14"}],
        "encounters": [_session("2025-11-18T17:00:00+00:00", 50, "exam stress")],
    },
    ("Ingrid", "Halvorsen"): {
        "registration": {"sex": "female", "pronouns": "she/her", "language": "no", "medical_record_number": "DEMO-0005",
                         "address": _address("5 Vista Ct", "San Mateo", "94401"),
                         "emergency_contact": _person("Nils Halvorsen", "son", "+1 650 555 0106")},
        "insurance": {"payer": "Demo Senior Care", "member_id": "DSC-55120", "group": "RET-02"},
        "medications": [{"name": "predniSONE 5 MG Oral Tablet", "coding": _code(RXNORM, "312617", "predniSONE 5 MG Oral Tablet"),
                         "dose": "5 mg daily", "route": "oral", "status": "completed", "start": "2025-08-01", "end": "2025-08-21"}],
        "conditions": [{"name": "Contact dermatitis", "coding": _code(SCT, "40275004", "Contact dermatitis"), "onset": "2025-07-28",
                        "abatement": "2025-09-01", "status": "resolved"}],
        "lab_results": [_bp("2025-10-07T09:00:00+00:00", 142, 84)],
        "immunizations": [{"vaccine": "Zoster", "coding": _code(CVX, "121", "zoster"), "date": "2023-04-19"}],
        "encounters": [_session("2025-10-07T09:00:00+00:00", 50, "bereavement")],
    },
    ("Dev", "Raghunathan"): {
        # The minor (born 2010): his mother is his guardian, registered by the front desk.
        "registration": {"sex": "male", "pronouns": "he/him", "language": "en", "medical_record_number": "DEMO-0006",
                         "address": _address("31 Cortland Ave", "San Francisco", "94110"),
                         "guardian": _person("Lakshmi Raghunathan", "mother", "+1 415 555 0132", "raghunathan.family@example.org"),
                         "emergency_contact": _person("Arjun Raghunathan", "father", "+1 415 555 0133")},
        "insurance": {"payer": "Demo Family Plan", "member_id": "DFP-77310-03", "group": "FAM-1"},
        "allergies": [{"substance": "Dander (animal)", "category": "environment", "criticality": "low",
                       "coding": _code(SCT, "232347008", "Dander (animal) allergy")}],
        "conditions": [{"name": "Asthma", "coding": _code(SCT, "195967001", "Asthma"), "onset": "2016-02-01"}],
        "medications": [{"name": "Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
                         "coding": _code(RXNORM, "745679", "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"),
                         "dose": "2 puffs as needed", "route": "inhaled", "start": "2016-02-01"}],
        "lab_results": [_score("PHQ-9 total score", "44261-6", 8, "2025-11-25T16:00:00+00:00")],
        "immunizations": [{"vaccine": "HPV, quadrivalent", "coding": _code(CVX, "62", "HPV, quadrivalent"), "date": "2022-05-02"},
                          {"vaccine": "Influenza, seasonal", "coding": FLU, "date": "2025-10-11"}],
        "encounters": [_session("2025-11-25T16:00:00+00:00", 45, "school refusal, seen with his mother")],
    },
}  # fmt: skip

LISTS = ("medications", "allergies", "conditions", "lab_results", "immunizations", "encounters", "procedures")


@dataclass(frozen=True)
class DemoStaff:
    clinician: object
    front_desk: object
    billing: object


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a few lines of Helvetica, built by hand (no PDF library needed)."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = "BT /F1 12 Tf 16 TL 72 720 Td " + " ".join(f"({escape(line)}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode() + b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    return out + f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()


def _png() -> bytes:
    """A small picture of a forearm with a patch of rash: shapes drawn here, no camera, no EXIF."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), (236, 222, 206))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((10, 40, 150, 80), radius=18, fill=(224, 186, 160))
    for x, y in ((70, 55), (82, 60), (76, 66), (90, 54), (66, 63)):
        draw.ellipse((x, y, x + 7, y + 6), fill=(196, 74, 74))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def seed_charts(patients: dict[tuple[str, str], object], staff: DemoStaff) -> None:
    """Fill the charts of `patients` ((given, family) → patient id). Run once per practice: the
    demo command checks first (no notes by the demo clinician yet), so a second run changes
    nothing and writes no audit entries."""
    from confide.records import notes
    from confide.records.files import do_add_file
    from confide.records.services import do_add_item, do_update_patient

    for key, chart in CHARTS.items():
        patient_id = patients.get(key)
        if patient_id is None:
            continue
        do_update_patient(actor=staff.front_desk, patient_id=patient_id, reason="patient_request", **chart["registration"])
        if chart.get("insurance"):
            do_update_patient(actor=staff.billing, patient_id=patient_id, reason="patient_request", insurance=chart["insurance"])
        if chart.get("health_background"):
            do_update_patient(actor=staff.clinician, patient_id=patient_id, reason="patient_request",
                              health_background=chart["health_background"])  # fmt: skip
        for list_name in LISTS:
            for item in chart.get(list_name, []):
                do_add_item(actor=staff.clinician, patient_id=patient_id, list_name=list_name, item=item)

    marisol, kwame, ingrid = (patients.get(k) for k in (("Marisol", "Quintero"), ("Kwame", "Mensah"), ("Ingrid", "Halvorsen")))
    clinician = staff.clinician
    if marisol:
        signed = notes.do_create_note(actor=clinician, patient_id=marisol, content={
            "subjective": "Fewer panic attacks since starting sertraline (two in six weeks, was weekly). Sleeping better.",
            "objective": "Calm, good eye contact, speech normal. GAD-7 9 (was 14).",
            "assessment": "Generalized anxiety disorder, improving on medication and CBT.",
            "plan": "Continue sertraline 50 mg. CBT: interoceptive exposure homework. Review in 4 weeks.",
        })  # fmt: skip
        notes.do_sign_note(actor=clinician, note_id=signed.pk)
        notes.do_add_addendum(actor=clinician, note_id=signed.pk,
                              text="Correction to the plan: review in 3 weeks, before her trip, as agreed at the end of the session.")  # fmt: skip
        notes.do_create_note(actor=clinician, patient_id=marisol, content={
            "subjective": "Wants to talk about the upcoming flight.", "objective": "", "assessment": "", "plan": "",
        })  # a draft, unsigned  # fmt: skip
        notes.do_create_psychotherapy_note(actor=clinician, patient_id=marisol, text=(
            "Process notes: the fear of flying seems tied to losing control more than to the plane itself. "
            "Explore the link with her father's illness next time; she was close to tears when it came up."))  # fmt: skip
        do_add_file(actor=clinician, patient_id=marisol, kind="document", title="Referral letter from primary care",
                    upload=SimpleUploadedFile("referral.pdf", _pdf([
                        "Demo Family Practice - referral (synthetic demo document)",
                        "Re: Marisol Quintero, born 1984-02-11",
                        "Please see for anxiety with panic attacks; started sertraline 50 mg.",
                        "Dr. A. Example, 555-0100"]), content_type="application/pdf"))  # fmt: skip
    if kwame:
        note = notes.do_create_note(actor=clinician, patient_id=kwame, template="free", content={
            "text": "Exam stress, sleeping 5 h a night. Agreed a revision timetable with breaks and a wind-down routine. GAD-7 6."})  # fmt: skip
        notes.do_sign_note(actor=clinician, note_id=note.pk)
    if ingrid:
        do_add_file(actor=clinician, patient_id=ingrid, kind="photo", title="Rash on the left forearm, before prednisone",
                    upload=SimpleUploadedFile("forearm.png", _png(), content_type="image/png"))  # fmt: skip
