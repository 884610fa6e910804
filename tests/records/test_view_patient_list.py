"""The patient list searches through blind indexes; front desk may use it, nobody cross-practice."""

import datetime

from django.urls import reverse

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.services import do_create_patient


def _patient(world, where, **data):
    with tenant_context(practice_id=where.practice.id):
        actor = StaffActor.from_membership(where.memberships[Role.CLINICIAN])
        return do_create_patient(actor=actor, **data)


def test_front_desk_finds_a_patient_by_phone(signed_in, world):
    _patient(world, world.a, given_name="Marisol", family_name="Quintero", phone="+1 415 555 0142",
             date_of_birth=datetime.date(1984, 2, 11))
    _patient(world, world.a, given_name="Tobias", family_name="Lindqvist")
    page = signed_in(Role.FRONT_DESK).get(reverse("records:patient-list"), {"q": "(415) 555-0142"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Marisol Quintero" in body and "1984-02-11" in body and "Tobias" not in body


def test_htmx_search_returns_only_the_rows(signed_in, world):
    _patient(world, world.a, given_name="Marisol", family_name="Quintero")
    page = signed_in(Role.CLINICIAN).get(reverse("records:patient-list"), {"q": "quintero"}, headers={"HX-Request": "true"})
    assert page.status_code == 200 and b"<html" not in page.content and b"Marisol Quintero" in page.content


def test_a_bad_date_search_says_what_is_wrong(signed_in, world):
    page = signed_in(Role.CLINICIAN).get(reverse("records:patient-list"), {"q": "1984-02-31"})
    assert page.status_code == 400 and b"not a date (YYYY-MM-DD)" in page.content


def test_other_practices_patients_never_appear(signed_in, world):
    _patient(world, world.b, given_name="Bravo", family_name="Only", email="bravo@example.test")
    client = signed_in(Role.OWNER)
    assert b"Bravo" not in client.get(reverse("records:patient-list")).content
    assert b"Bravo" not in client.get(reverse("records:patient-list"), {"q": "bravo@example.test"}).content


def test_the_list_view_makes_a_bounded_number_of_queries(signed_in, world, django_assert_max_num_queries):
    for n in range(5):
        _patient(world, world.a, given_name=f"P{n}", family_name="Test")
    client = signed_in(Role.CLINICIAN)
    # 25 before the chart door; it adds the membership re-check and one audit entry for the
    # whole list (a chained append: locked head, insert, head update) — not one per row.
    with django_assert_max_num_queries(30):
        assert client.get(reverse("records:patient-list")).status_code == 200


def test_an_htmx_search_error_is_swapped_in_with_its_message(signed_in, world):
    page = signed_in(Role.CLINICIAN).get(reverse("records:patient-list"), {"q": "1984-02-31"}, headers={"HX-Request": "true"})
    assert page.status_code == 200 and b"not a date (YYYY-MM-DD)" in page.content
