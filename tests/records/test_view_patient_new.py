"""Registering a patient: the registration fields the role may write, a message per field,
nothing created from a bad form, values escaped when the form comes back."""

from __future__ import annotations

import datetime
import re

from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from tests.records.conftest import HOSTILE, assert_escaped, entries
from tests.security.routes_helpers import assert_no_writes

NEW = reverse("records:patient-new")


def _count(world) -> int:
    with tenant_context(practice_id=world.a.practice.id):
        return Patient.objects.count()


def test_front_desk_registers_a_patient_and_lands_on_the_chart(signed_in, world):
    client = signed_in(Role.FRONT_DESK)
    form = client.get(NEW).content.decode()
    assert 'name="drivers_licence"' in form and 'name="guardian_name"' in form and 'name="reason"' not in form
    assert 'name="health_background"' not in form and 'name="payer"' not in form
    response = client.post(NEW, {
        "given_name": "Ada", "family_name": "Okafor", "date_of_birth": "1990-04-01", "email": "ada@example.org",
        "phone": "+1 415 555 0100", "drivers_licence": "CA Y7654321", "address_line1": "1 Main St", "city": "Oakland",
    })  # fmt: skip
    assert response.status_code == 302
    assert re.fullmatch(r"/patients/[0-9a-f-]{36}/", response["Location"]), "the chart's URL carries the id only"
    page = client.get(response["Location"]).content.decode()
    assert "Ada" in page and "Okafor" in page and "CA Y7654321" in page and "1 Main St" in page
    created = entries(AuditEvent.PATIENT_CREATED)[-1]
    assert created.purpose == "operations" and "identifiers.government" in created.categories
    assert "Patient registered." in page


def test_a_patient_without_names_is_refused_per_field_and_nothing_is_created(signed_in, world):
    client, before = signed_in(Role.FRONT_DESK), _count(world)
    with assert_no_writes():
        response = client.post(NEW, {"given_name": "", "family_name": "  ", "email": "ada@example.org"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Enter the patient&#x27;s given name." in body and "Enter the patient&#x27;s family name." in body
    assert 'value="ada@example.org"' in body  # what was typed comes back
    assert _count(world) == before


def test_a_future_birth_date_a_bad_email_or_phone_is_refused_per_field(signed_in, world):
    client, before = signed_in(Role.CLINICIAN), _count(world)
    future = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    with assert_no_writes():
        response = client.post(NEW, {"given_name": "Ada", "family_name": "Okafor", "date_of_birth": future, "email": "ada@",
                                     "phone": "call me maybe", "guardian_relationship": "mother"})  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 400
    for message in ("The date of birth cannot be in the future.", "Enter an email address such as name@example.org.",
                    "Enter a phone number: digits, spaces, + ( ) - . only.", "Enter the parent or guardian&#x27;s name"):  # fmt: skip
        assert message in body, message
    assert body.count('aria-invalid="true"') == 4 and "id_email_error" in body
    assert _count(world) == before


def test_an_impossible_date_is_a_message_not_an_error_page(signed_in, world):
    response = signed_in(Role.FRONT_DESK).post(NEW, {"given_name": "Ada", "family_name": "Okafor", "date_of_birth": "1990-02-30"})
    assert response.status_code == 400 and b"Enter the date of birth as YYYY-MM-DD." in response.content


def test_billing_and_the_privacy_officer_cannot_register_a_patient(signed_in, world):
    for role in (Role.BILLING, Role.PRIVACY_OFFICER):
        client = signed_in(role)
        with assert_no_writes():
            assert client.post(NEW, {"given_name": "Ada", "family_name": "Okafor"}).status_code == 403


def test_markup_typed_into_the_form_comes_back_escaped(signed_in, world):
    response = signed_in(Role.FRONT_DESK).post(NEW, {"given_name": HOSTILE, "family_name": "", "email": "bad"})
    assert response.status_code == 400
    assert_escaped(response.content.decode())


def test_a_field_the_form_does_not_have_is_ignored(signed_in, world):
    client = signed_in(Role.FRONT_DESK)
    response = client.post(NEW, {"given_name": "Ada", "family_name": "Okafor", "health_background": "smuggled", "insurance": "x"})
    assert response.status_code == 302
    created = entries(AuditEvent.PATIENT_CREATED)[-1]
    assert sorted(created.fields_changed) == ["family_name", "given_name"]


# --- likely duplicates (issue 12, item 7) --------------------------------------------------------
ADA = {"given_name": "Ada", "family_name": "Okafor", "date_of_birth": "1990-04-01", "email": "ada@example.org"}


def test_registering_the_same_person_twice_warns_with_the_match_and_creates_nothing(signed_in, world):
    client = signed_in(Role.FRONT_DESK)
    first = client.post(NEW, ADA)
    assert first.status_code == 302
    existing = first["Location"]
    before = _count(world)
    warned = client.post(NEW, {**ADA, "given_name": "ada", "email": "ADA@example.org"})
    body = warned.content.decode()
    assert warned.status_code == 409 and _count(world) == before, "nothing is created before the user confirms"
    assert "This patient may already be registered" in body
    assert f'href="{existing}"' in body and "Ada Okafor" in body and "1990-04-01" in body
    assert "same name, date of birth and email" in body
    assert 'name="create_anyway" value="yes"' in body and 'value="ADA@example.org"' in body, "what was typed comes back"
    listed = entries(AuditEvent.PATIENTS_LISTED)[-1]
    assert listed.resource_ids == [existing.split("/")[2]] and sorted(listed.categories) == ["identifiers.dob", "identifiers.name"]


def test_register_anyway_creates_the_second_chart(signed_in, world):
    client = signed_in(Role.CLINICIAN)
    assert client.post(NEW, ADA).status_code == 302
    before = _count(world)
    assert client.post(NEW, ADA).status_code == 409 and _count(world) == before
    confirmed = client.post(NEW, {**ADA, "create_anyway": "yes"})
    assert confirmed.status_code == 302 and _count(world) == before + 1


def test_one_shared_identifier_alone_is_not_a_likely_duplicate(signed_in, world):
    client = signed_in(Role.FRONT_DESK)
    assert client.post(NEW, ADA).status_code == 302
    # The same name, someone else (another birthday, no shared contact): registered at once.
    assert client.post(NEW, {"given_name": "Ada", "family_name": "Okafor", "date_of_birth": "1971-09-09"}).status_code == 302
    # A family sharing an e-mail address: not the same person either.
    assert client.post(NEW, {"given_name": "Tobi", "family_name": "Okafor", "email": "ada@example.org"}).status_code == 302


def test_a_registration_without_a_match_reads_nobody(signed_in, world):
    client = signed_in(Role.FRONT_DESK)
    listed_before = len(entries(AuditEvent.PATIENTS_LISTED))
    assert client.post(NEW, ADA).status_code == 302
    assert len(entries(AuditEvent.PATIENTS_LISTED)) == listed_before


def test_another_practices_patient_is_never_a_match(signed_in, world):
    assert signed_in(Role.FRONT_DESK).post(NEW, ADA).status_code == 302
    from django.test import Client

    from tests.conftest import sign_in

    other = sign_in(Client(), world.b.user(Role.FRONT_DESK), world.b.practice)
    assert other.post(NEW, ADA).status_code == 302
