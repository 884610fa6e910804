"""The chart's overview tab (/patients/<id>/): identity, contact, guardian (a minor flagged
from the date of birth), insurance for billing and the owner; each role sees what its grant
opens, through one opening per purpose."""

from __future__ import annotations

import datetime

from django.test import Client

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from tests.conftest import sign_in
from tests.records.conftest import assert_escaped, entries, tab_names, url
from tests.security.routes_helpers import assert_no_writes

OVERVIEW = "records:chart"


def test_a_clinician_sees_identity_contact_and_guardian_but_neither_insurance_nor_the_licence(signed_in, patient):
    body = signed_in(Role.CLINICIAN).get(url(OVERVIEW, patient)).content.decode()
    for shown in ("Marisol", "Quintero", "1984-02-11", "she/her", "MRN-0042", "marisol@example.test", "(415) 555-0142",
                  "12 Alder St", "Lucía Quintero", "Rosa Quintero"):  # fmt: skip
        assert shown in body, shown
    assert "Acme Health" not in body and "XJ-99812" not in body and 'data-testid="insurance"' not in body
    assert "CA D1234567" not in body  # a government ID is the front desk's (operations), not a clinician's care


def test_front_desk_sees_the_registration_with_the_licence_and_nothing_financial(signed_in, patient):
    body = signed_in(Role.FRONT_DESK).get(url(OVERVIEW, patient)).content.decode()
    assert "CA D1234567" in body and "Rosa Quintero" in body
    assert "Acme Health" not in body


def test_billing_sees_insurance_and_the_address_but_no_emergency_contact_or_guardian(signed_in, patient):
    body = signed_in(Role.BILLING).get(url(OVERVIEW, patient)).content.decode()
    assert "Acme Health" in body and "XJ-99812" in body and "12 Alder St" in body
    assert "Lucía Quintero" not in body and "Rosa Quintero" not in body and "Parent or guardian" not in body
    opened = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED).latest("id")
    assert opened.purpose == "payment" and "financial.insurance" in opened.categories


def test_the_owner_sees_insurance_on_its_own_page_opened_for_payment(signed_in, patient):
    """One opening per page (issue 12): the overview is the owner's treatment opening, with a
    link to the insurance, which opens for payment on its own page."""
    before = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED).count()
    client = signed_in(Role.OWNER)
    body = client.get(url(OVERVIEW, patient)).content.decode()
    assert "Acme Health" not in body and "Rosa Quintero" in body and 'data-testid="insurance-elsewhere"' in body
    [treatment] = entries(AuditEvent.CHART_OPENED)[before:]
    assert treatment.purpose == "treatment" and not [c for c in treatment.categories if c.startswith("financial.")]
    assert "Acme Health" in client.get(url("records:patient-edit-insurance", patient)).content.decode()
    payment = entries(AuditEvent.CHART_OPENED)[-1]
    assert payment.purpose == "payment" and "financial.insurance" in payment.categories


def test_each_opening_names_exactly_the_tabs_categories(signed_in, patient):
    signed_in(Role.CLINICIAN).get(url(OVERVIEW, patient))
    opened = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED).latest("id")
    assert (opened.purpose, sorted(opened.categories)) == ("treatment", [
        "contact.address", "contact.email", "contact.emergency", "contact.guardian", "contact.phone", "identifiers.demographics",
        "identifiers.dob", "identifiers.medical_record_number", "identifiers.name",
    ])  # fmt: skip


def test_a_minor_is_flagged_from_the_date_of_birth_and_a_missing_guardian_is_said(signed_in, make_patient):
    today = datetime.date.today()
    minor = make_patient(date_of_birth=today.replace(year=today.year - 12), guardian=None)
    body = signed_in(Role.FRONT_DESK).get(url(OVERVIEW, minor)).content.decode()
    assert 'data-testid="minor"' in body and "12 years" in body
    assert 'data-testid="guardian-missing"' in body
    adult = signed_in(Role.FRONT_DESK).get(url(OVERVIEW, make_patient(guardian=None))).content.decode()
    assert 'data-testid="minor"' not in adult and 'data-testid="guardian-missing"' not in adult


def test_the_tab_bar_shows_each_role_only_the_tabs_the_door_opens(world, patient):
    expected = {
        Role.OWNER: {"overview", "clinical", "notes", "psychotherapy", "documents", "consultations", "privacy"},
        Role.CLINICIAN: {"overview", "clinical", "notes", "psychotherapy", "documents", "consultations", "privacy"},
        Role.FRONT_DESK: {"overview"},
        Role.BILLING: {"overview"},
    }
    for role, tabs in expected.items():
        body = sign_in(Client(), world.a.user(role), world.a.practice).get(url(OVERVIEW, patient)).content.decode()
        assert tab_names(body) == tabs, role
        assert 'aria-current="page"' in body and 'aria-label="Chart sections"' in body


def test_the_privacy_officer_has_no_overview(signed_in, patient):
    client = signed_in(Role.PRIVACY_OFFICER)
    with assert_no_writes():
        assert client.get(url(OVERVIEW, patient)).status_code == 403


def test_another_practices_patient_is_the_same_404_as_a_missing_one(world, patient):
    from uuid import uuid4

    client = sign_in(Client(), world.b.owner, world.b.practice)
    other, missing = client.get(url(OVERVIEW, patient)), client.get(url(OVERVIEW, uuid4()))
    assert other.status_code == missing.status_code == 404
    assert b"Marisol" not in other.content


def test_values_are_shown_escaped_and_the_name_stays_out_of_the_title(signed_in, make_patient):
    from tests.records.conftest import HOSTILE

    hostile = make_patient(preferred_name=HOSTILE, gender_identity=HOSTILE)  # pronouns: 60 characters at most
    body = signed_in(Role.CLINICIAN).get(url(OVERVIEW, hostile)).content.decode()
    assert_escaped(body)
    title = body[body.index("<title>"):body.index("</title>")]
    assert "Marisol" not in title and "Chart" in title
