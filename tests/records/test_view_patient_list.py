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


def test_the_list_is_paged_by_25_by_last_name_then_first_name(signed_in, world):
    # Registered in reverse order of their names: the list still reads A…Z by last name.
    made = [_patient(world, world.a, given_name=f"G{k:02d}", family_name=f"Family{PAGE_SIZE + 3 - k:02d}") for k in range(PAGE_SIZE + 3)]
    client = signed_in(Role.FRONT_DESK)
    first, second = client.get(LIST), client.get(LIST, {"page": "2"})
    assert first.status_code == second.status_code == 200
    by_name = sorted(made, key=lambda p: PAGE_SIZE + 3 - int(made.index(p)))  # Family01 … Family28
    first_ids, second_ids = [str(p.id) for p in by_name[:PAGE_SIZE]], [str(p.id) for p in by_name[PAGE_SIZE:]]
    body1, body2 = first.content.decode(), second.content.decode()
    assert all(i in body1 for i in first_ids) and not any(i in body1 for i in second_ids)
    assert all(i in body2 for i in second_ids) and not any(i in body2 for i in first_ids)
    positions = [body1.index(i) for i in first_ids]
    assert positions == sorted(positions), "a page lists patients by last name"
    assert "page 1 of 2" in body1 and "by last name" in body1 and 'href="/patients/?sort=name&amp;page=2"' in body1


def test_last_name_ordering_folds_case_and_accents_and_ties_go_by_first_name(signed_in, world):
    for given, family in [("Zoe", "Ödegaard"), ("Anna", "Zhang"), ("Bea", "Adams"), ("Al", "adams"), ("Ole", "Oberg")]:
        _patient(world, world.a, given_name=given, family_name=family)
    body = signed_in(Role.FRONT_DESK).get(LIST).content.decode()
    names = ["Al adams", "Bea Adams", "Ole Oberg", "Zoe Ödegaard", "Anna Zhang"]
    assert [body.index(n) for n in names] == sorted(body.index(n) for n in names)


def test_recent_shows_the_most_recently_updated_first(signed_in, world):
    _patient(world, world.a, given_name="Older", family_name="Aaron")
    _patient(world, world.a, given_name="Newer", family_name="Zed")
    body = signed_in(Role.FRONT_DESK).get(LIST, {"sort": "recent"}).content.decode()
    assert body.index("Newer Zed") < body.index("Older Aaron") and "Recently updated</strong>" in body
    by_name = signed_in(Role.FRONT_DESK).get(LIST).content.decode()
    assert by_name.index("Older Aaron") < by_name.index("Newer Zed")


def test_an_unknown_order_is_a_message_not_an_error(signed_in, world):
    response = signed_in(Role.FRONT_DESK).get(LIST, {"sort": "ssn"})
    assert response.status_code == 400 and b"Sort the list by last name or by recent changes." in response.content


def test_a_page_past_the_end_shows_the_last_page_and_a_bad_page_number_is_a_400(signed_in, world):
    _patients(world, 3)
    client = signed_in(Role.FRONT_DESK)
    assert b"P02" in client.get(LIST, {"page": "99"}).content
    bad = client.get(LIST, {"page": "two"})
    assert bad.status_code == 400 and b"Page numbers are whole numbers from 1." in bad.content


def test_by_recent_only_the_page_shown_is_recorded_as_listed(signed_in, world):
    made = _patients(world, PAGE_SIZE + 2)
    signed_in(Role.FRONT_DESK).get(LIST, {"page": "2", "sort": "recent"})
    entry = AuditEntry.objects.filter(event=AuditEvent.PATIENTS_LISTED).latest("id")
    assert sorted(entry.resource_ids) == sorted(str(p.id) for p in made[:2]), "the two registered first are on page 2"


def test_by_last_name_every_patient_whose_name_was_read_to_sort_is_recorded_as_listed(signed_in, world):
    made = _patients(world, PAGE_SIZE + 2)
    signed_in(Role.FRONT_DESK).get(LIST, {"page": "2"})
    entry = AuditEntry.objects.filter(event=AuditEvent.PATIENTS_LISTED).latest("id")
    assert sorted(entry.resource_ids) == sorted(str(p.id) for p in made), "sorting read every name: the entry says so"


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


def test_names_are_found_by_their_beginning(signed_in, world):
    _patient(world, world.a, given_name="Marisol", family_name="Quintero")
    _patient(world, world.a, given_name="Mario", family_name="Quist")
    _patient(world, world.a, given_name="Tobias", family_name="Lindqvist")
    client = signed_in(Role.FRONT_DESK)
    both = client.post(LIST, {"q": "qui"}).content.decode()
    assert "Marisol Quintero" in both and "Mario Quist" in both and "Tobias" not in both
    one = client.post(LIST, {"q": "Mar Quin"}).content.decode()
    assert "Marisol Quintero" in one and "Quist" not in one
    accents = client.post(LIST, {"q": "QUÍN"}).content.decode()
    assert "Marisol Quintero" in accents
    assert "Marisol" not in client.post(LIST, {"q": "arisol"}).content.decode(), "a prefix, not any substring"


def test_the_list_and_the_chart_header_write_the_name_the_same_way(signed_in, world):
    patient = _patient(world, world.a, given_name="Robert", family_name="Okafor", preferred_name="Bob")
    client = signed_in(Role.FRONT_DESK)
    assert "Robert Okafor (Bob)" in client.get(LIST).content.decode()
    chart = client.get(reverse("records:chart", kwargs={"patient_id": patient.id})).content.decode()
    assert 'data-testid="patient-name">Robert Okafor (Bob)</h1>' in chart


def test_phone_numbers_are_stored_in_e164_and_shown_in_national_format(signed_in, world):
    from confide.access.door import open_chart
    from confide.core.purposes import Purpose

    patient = _patient(world, world.a, given_name="Marisol", family_name="Quintero", phone="415.555.0142", phone_other="+44 20 7946 0958")
    with tenant_context(practice_id=world.a.practice.id):
        actor = StaffActor.from_membership(world.a.memberships[Role.FRONT_DESK])
        with open_chart(actor, patient.id, Purpose.OPERATIONS, categories={"contact.phone"}) as chart:
            assert (chart.patient.phone, chart.patient.phone_other) == ("+14155550142", "+442079460958")
    client = signed_in(Role.FRONT_DESK)
    assert "(415) 555-0142" in client.get(LIST).content.decode()
    overview = client.get(reverse("records:chart", kwargs={"patient_id": patient.id})).content.decode()
    assert "(415) 555-0142" in overview and "+44 20 7946 0958" in overview
    assert "Marisol" in client.post(LIST, {"q": "4155550142"}).content.decode()


def test_a_phone_number_stored_before_normalisation_is_shown_in_national_format(signed_in, world):
    from confide.core.purposes import Purpose
    from confide.access.door import open_chart
    from confide.records.models import Patient

    patient = _patient(world, world.a, given_name="Old", family_name="Row")
    with tenant_context(practice_id=world.a.practice.id):
        actor = StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])
        with open_chart(actor, patient.id, Purpose.OPERATIONS, categories={"contact.phone"}, for_update=True) as chart:
            chart.record_change(["phone"], "immaterial")
            chart.patient.phone = "415 555 0199"  # as an older version stored it, bypassing the service
            chart.patient.save(update_fields=["phone"])
        assert Patient.objects.filter(id=patient.id).exists()
    assert "(415) 555-0199" in signed_in(Role.FRONT_DESK).get(LIST).content.decode()


def test_reindex_gives_patients_registered_before_prefixes_their_prefix_entries(signed_in, world):
    from io import StringIO

    from django.core.management import call_command

    from confide.vault.models import BlindIndexEntry

    patient = _patient(world, world.a, given_name="Marisol", family_name="Quintero")
    with tenant_context(practice_id=world.a.practice.id):
        BlindIndexEntry.objects.filter(subject_id=patient.id, kind="name_prefix").delete()  # as before the upgrade
    client = signed_in(Role.FRONT_DESK)
    assert "Marisol" not in client.post(LIST, {"q": "quin"}).content.decode()
    assert "Marisol" in client.post(LIST, {"q": "quintero"}).content.decode(), "a whole name is still found meanwhile"
    out = StringIO()
    call_command("patients", "reindex", "--practice", world.a.practice.slug, stdout=out)
    assert out.getvalue() == f"{world.a.practice.slug}: 1 patient indexed\n"
    assert "Marisol" in client.post(LIST, {"q": "quin"}).content.decode()
    listed = AuditEntry.objects.filter(event=AuditEvent.PATIENTS_LISTED, actor_id="search-index-job").get()
    assert listed.resource_ids == [str(patient.id)]


def test_a_common_surname_search_makes_the_same_number_of_queries_for_one_match_as_for_a_page(signed_in, world, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _patient(world, world.a, given_name="Ada", family_name="Smith")
    client = signed_in(Role.FRONT_DESK)
    client.get(LIST)  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert b"Ada Smith" in client.post(LIST, {"q": "smith"}).content
    for k in range(PAGE_SIZE + 3):
        _patient(world, world.a, given_name=f"G{k:02d}", family_name="Smith")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.post(LIST, {"q": "smith"}).status_code == 200


def test_the_listing_door_loads_only_the_columns_of_the_categories_it_opens(world):
    """A list shows a name and a phone number: the rest of the chart (clinical lists of up to
    100 KiB a patient) is not even read from the database."""
    from confide.access.door import open_patient_list
    from confide.core.purposes import Purpose

    patient = _patient(world, world.a, given_name="Marisol", family_name="Quintero", phone="+1 415 555 0142")
    with tenant_context(practice_id=world.a.practice.id):
        actor = StaffActor.from_membership(world.a.memberships[Role.FRONT_DESK])
        with open_patient_list(actor, Purpose.OPERATIONS, [patient.id], categories={"identifiers.name"}) as [listed]:
            assert listed.family_name == "Quintero"
            assert {"medications", "health_background", "phone", "insurance"}.isdisjoint(listed.__dict__)
