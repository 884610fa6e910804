"""confide/records/chart.py: which tab opens which categories for which purpose, per role
(ACC3 on screen). The whole table is written out here, so a change to it is a visible diff."""

from __future__ import annotations

import pytest

from confide.access import policy
from confide.access.errors import AccessRefused
from confide.core.permissions import Role
from confide.core.routes import ROUTE_POLICY
from confide.records import chart as chart_service
from confide.records import notes
from tests.vault.decrypts import decrypts, opened  # noqa: F401 (decrypts is a fixture)

pytestmark = pytest.mark.usefixtures("in_a")

NAME_DOB = ["identifiers.dob", "identifiers.name"]
# role → tab → (purpose, categories opened), for every tab the role is granted.
EXPECTED = {
    "owner": {
        "overview": ("treatment", ["contact.address", "contact.email", "contact.emergency", "contact.guardian", "contact.phone",
                                   "identifiers.demographics", "identifiers.dob", "identifiers.medical_record_number", "identifiers.name"]),
        "clinical": ("treatment", ["health.allergies", "health.background", "health.conditions", "health.encounters",
                                   "health.immunizations", "health.lab_results", "health.medications", *NAME_DOB]),
        "notes": ("treatment", ["health.notes", *NAME_DOB]),
        "documents": ("treatment", ["contact.guardian", "health.documents", "health.photos", *NAME_DOB]),
        "consultations": ("treatment", ["health.intake", *NAME_DOB]),
        "privacy": ("operations", NAME_DOB),
    },
    "clinician": {
        "overview": ("treatment", ["contact.address", "contact.email", "contact.emergency", "contact.guardian", "contact.phone",
                                   "identifiers.demographics", "identifiers.dob", "identifiers.medical_record_number", "identifiers.name"]),
        "clinical": ("treatment", ["health.allergies", "health.background", "health.conditions", "health.encounters",
                                   "health.immunizations", "health.lab_results", "health.medications", *NAME_DOB]),
        "notes": ("treatment", ["health.notes", *NAME_DOB]),
        "documents": ("treatment", ["contact.guardian", "health.documents", "health.photos", *NAME_DOB]),
        "consultations": ("treatment", ["health.intake", *NAME_DOB]),
        "privacy": ("operations", NAME_DOB),
    },
    "front_desk": {
        "overview": ("operations", ["contact.address", "contact.email", "contact.emergency", "contact.guardian", "contact.phone",
                                    "identifiers.demographics", "identifiers.dob", "identifiers.government",
                                    "identifiers.medical_record_number", "identifiers.name"]),
    },
    "billing": {
        "overview": ("payment", ["contact.address", "contact.email", "contact.phone", "financial.insurance", "identifiers.demographics",
                                 "identifiers.dob", "identifiers.medical_record_number", "identifiers.name"]),
    },
    "privacy_officer": {
        "privacy": ("operations", NAME_DOB),
    },
}  # fmt: skip


def test_the_tabs_each_role_is_granted_and_what_each_opens_are_exactly_this():
    actual = {}
    for role in Role:
        granted = {}
        for tab in chart_service.TABS.values():
            if chart_service.tab_allowed(role, tab):
                purpose, categories = chart_service.tab_opening(role, tab)
                granted[tab.name] = (purpose.value, sorted(categories))
        actual[role.value] = granted
    assert actual == EXPECTED


def test_acc3_front_desk_and_billing_are_granted_nothing_clinical_and_billing_no_photo():
    for role in (Role.FRONT_DESK, Role.BILLING):
        for tab in chart_service.TABS.values():
            if chart_service.tab_allowed(role, tab):
                _, categories = chart_service.tab_opening(role, tab)
                assert not {c for c in categories if c.startswith("health.")}, (role, tab.name)


def test_only_roles_granted_photos_may_upload_one(chart):
    assert [role for role in Role if chart_service.may_upload(chart.actor(role), "photo")] == [Role.OWNER, Role.CLINICIAN]


def test_no_tab_ever_opens_psychotherapy_notes():
    for role in Role:
        for tab in chart_service.TABS.values():
            assert policy.PSYCHOTHERAPY_NOTES not in chart_service.tab_opening(role, tab)[1]


def test_each_tab_names_the_permission_of_its_route():
    for tab in chart_service.TABS.values():
        assert ROUTE_POLICY[tab.route].perm == tab.perm, tab.route


def test_a_tab_a_role_is_not_granted_is_refused_by_the_door_itself(chart, patient):
    """Even called directly (no route, no tab bar), the service's opening is refused."""
    for role, getter in [(Role.FRONT_DESK, chart_service.get_notes), (Role.FRONT_DESK, chart_service.get_clinical),
                         (Role.BILLING, chart_service.get_documents), (Role.BILLING, chart_service.get_notes)]:  # fmt: skip
        with pytest.raises(AccessRefused):
            getter(chart.actor(role), patient.id)


def test_the_edit_forms_offer_each_role_only_what_it_may_write():
    assert chart_service.writable_fields(Role.FRONT_DESK, "registration") == chart_service.REGISTRATION_FIELDS
    assert chart_service.writable_fields(Role.FRONT_DESK, "health") == ()
    assert chart_service.writable_fields(Role.FRONT_DESK, "insurance") == ()
    assert chart_service.writable_fields(Role.BILLING, "registration") == ()
    assert chart_service.writable_fields(Role.BILLING, "insurance") == ("insurance",)
    assert chart_service.writable_fields(Role.CLINICIAN, "health") == ("health_background",)
    assert chart_service.writable_fields(Role.CLINICIAN, "insurance") == ()
    assert chart_service.writable_fields(Role.PRIVACY_OFFICER, "registration") == ()


def test_the_age_and_the_minor_flag_come_from_the_date_of_birth():
    import datetime

    today = datetime.date(2026, 3, 2)
    assert chart_service.age_on(datetime.date(2008, 3, 2), today) == 18
    assert chart_service.age_on(datetime.date(2008, 3, 3), today) == 17
    assert chart_service.age_on(None, today) is None


def test_the_notes_tab_opens_each_note_and_addendum_once(chart, patient, decrypts):
    """The sections shown, the content for the edit form and the signature check are one read."""
    clinician = chart.actor(Role.CLINICIAN)
    signed = chart.note(Role.CLINICIAN, signed=True)
    chart.note(Role.CLINICIAN, signed=False)
    notes.do_add_addendum(actor=clinician, note_id=signed.pk, text="Also discussed sleep hygiene.")
    decrypts.clear()
    page = chart_service.get_notes(clinician, patient.id)
    assert sorted((n.status, n.intact, len(n.addenda)) for n in page.notes) == [("draft", True, 0), ("signed", True, 1)]
    assert opened(decrypts, "records_progressnote", "content") == 2
    assert opened(decrypts, "records_addendum", "content") == 1
    decrypts.clear()
    _, item = chart_service.get_note(clinician, patient.id, signed.pk)
    assert item.intact and item.content == dict(item.content)
    assert opened(decrypts, "records_progressnote", "content") == 1
