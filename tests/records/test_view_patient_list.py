"""The patient list: blind-index search (posted, never in the URL), pages of 25 in a stable
order, a "New patient" link for those who register patients, a bounded number of queries."""

import datetime

from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.services import PAGE_SIZE, do_create_patient
from tests.conftest import CANARIES

LIST = reverse("records:patient-list")


def _patient(world, where, **data):
    with tenant_context(practice_id=where.practice.id):
        actor = StaffActor.from_membership(where.memberships[Role.CLINICIAN])
        return do_create_patient(actor=actor, **data)


def _patients(world, n, where=None):
    return [_patient(world, where or world.a, given_name=f"P{k:02d}", family_name="Test") for k in range(n)]


def test_front_desk_finds_a_patient_by_phone(signed_in, world):
    _patient(world, world.a, given_name="Marisol", family_name="Quintero", phone="+1 415 555 0142",
             date_of_birth=datetime.date(1984, 2, 11))  # fmt: skip
    _patient(world, world.a, given_name="Tobias", family_name="Lindqvist")
    page = signed_in(Role.FRONT_DESK).post(LIST, {"q": "(415) 555-0142"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Marisol Quintero" in body and "1984-02-11" in body and "Tobias" not in body


def test_each_row_links_to_the_chart_by_id_only(signed_in, world):
    patient = _patient(world, world.a, given_name="Marisol", family_name="Quintero")
    body = signed_in(Role.FRONT_DESK).get(LIST).content.decode()
    assert f'href="{reverse("records:chart", kwargs={"patient_id": patient.id})}"' in body


def test_a_search_is_posted_and_never_put_in_the_address(signed_in, world):
    _patient(world, world.a, given_name=CANARIES["name"].split()[0], family_name=CANARIES["name"].split()[1], email=CANARIES["email"])
    client = signed_in(Role.FRONT_DESK)
    page = client.get(LIST)
    assert 'method="post"' in page.content.decode() and 'hx-post="' in page.content.decode()
    # A search in the query string is not a search: the list shows as if none were asked.
    in_url = client.get(LIST, {"q": "nobody@example.test"})
    assert in_url.status_code == 200 and CANARIES["name"].split()[1].encode() in in_url.content
    posted = client.post(LIST, {"q": CANARIES["email"]})
    assert CANARIES["name"].split()[1].encode() in posted.content


def test_htmx_search_returns_only_the_rows(signed_in, world):
    _patient(world, world.a, given_name="Marisol", family_name="Quintero")
    page = signed_in(Role.CLINICIAN).post(LIST, {"q": "quintero"}, headers={"HX-Request": "true"})
    assert page.status_code == 200 and b"<html" not in page.content and b"Marisol Quintero" in page.content


def test_a_bad_date_search_says_what_is_wrong(signed_in, world):
    page = signed_in(Role.CLINICIAN).post(LIST, {"q": "1984-02-31"})
    assert page.status_code == 400 and b"not a date (YYYY-MM-DD)" in page.content


def test_an_htmx_search_error_is_swapped_in_with_its_message(signed_in, world):
    page = signed_in(Role.CLINICIAN).post(LIST, {"q": "1984-02-31"}, headers={"HX-Request": "true"})
    assert page.status_code == 200 and b"not a date (YYYY-MM-DD)" in page.content


def test_other_practices_patients_never_appear(signed_in, world):
    _patient(world, world.b, given_name="Bravo", family_name="Only", email="bravo@example.test")
    client = signed_in(Role.OWNER)
    assert b"Bravo" not in client.get(LIST).content
    assert b"Bravo" not in client.post(LIST, {"q": "bravo@example.test"}).content


def test_the_list_is_paged_by_25_in_registration_order(signed_in, world):
    made = _patients(world, PAGE_SIZE + 3)
    client = signed_in(Role.FRONT_DESK)
    first, second = client.get(LIST), client.get(LIST, {"page": "2"})
    assert first.status_code == second.status_code == 200
    first_ids = [str(p.id) for p in made[:PAGE_SIZE]]
    second_ids = [str(p.id) for p in made[PAGE_SIZE:]]
    body1, body2 = first.content.decode(), second.content.decode()
    assert all(i in body1 for i in first_ids) and not any(i in body1 for i in second_ids)
    assert all(i in body2 for i in second_ids) and not any(i in body2 for i in first_ids)
    positions = [body1.index(i) for i in first_ids]
    assert positions == sorted(positions), "a page lists patients in the order they were registered"
    assert "page 1 of 2" in body1 and 'href="/patients/?page=2"' in body1
    # Someone registered now joins the end: the first page does not shift.
    _patient(world, world.a, given_name="Late", family_name="Comer")
    assert [i for i in first_ids if i in client.get(LIST).content.decode()] == first_ids


def test_a_page_past_the_end_shows_the_last_page_and_a_bad_page_number_is_a_400(signed_in, world):
    _patients(world, 3)
    client = signed_in(Role.FRONT_DESK)
    assert b"P02" in client.get(LIST, {"page": "99"}).content
    bad = client.get(LIST, {"page": "two"})
    assert bad.status_code == 400 and b"Page numbers are whole numbers from 1." in bad.content


def test_only_the_page_shown_is_recorded_as_listed(signed_in, world):
    made = _patients(world, PAGE_SIZE + 2)
    signed_in(Role.FRONT_DESK).get(LIST, {"page": "2"})
    entry = AuditEntry.objects.filter(event=AuditEvent.PATIENTS_LISTED).latest("id")
    assert sorted(entry.resource_ids) == sorted(str(p.id) for p in made[PAGE_SIZE:])


def test_new_patient_is_offered_to_those_who_register_patients(signed_in, world):
    for role, offered in [(Role.FRONT_DESK, True), (Role.CLINICIAN, True), (Role.OWNER, True), (Role.BILLING, False)]:
        body = signed_in(role).get(LIST).content.decode()
        assert (reverse("records:patient-new") in body) is offered, role


def test_the_list_view_makes_the_same_number_of_queries_for_3_patients_as_for_a_full_page(
    signed_in, world, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _patients(world, 3)
    client = signed_in(Role.CLINICIAN)
    client.get(LIST)  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(LIST).status_code == 200
    _patients(world, PAGE_SIZE)
    # One audit entry for the whole page and one key lookup for all its patients: nothing per row.
    with django_assert_num_queries(len(few.captured_queries)):
        assert client.get(LIST).status_code == 200
    assert len(few.captured_queries) <= 32
