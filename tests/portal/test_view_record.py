"""RTS1: "My record" shows what the practice shares with the patient, in plain words, read
through the chart door as the patient; never psychotherapy notes, never the staff's notes."""

from __future__ import annotations

import re

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from confide.accounts.portal import SESSION_PORTAL_LINK
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from tests.portal.record_world import DOCUMENT_TITLE, PSYCHOTHERAPY_NOTE, STAFF_NOTE, fill_record
from tests.portal_world import portal_sign_in

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def filled(world, portal):
    return fill_record(world.a, portal.adult.patient)


def _page(client, user):
    portal_sign_in(client, user)
    response = client.get(reverse("portal:record"))
    assert response.status_code == 200
    return response.content.decode()


def test_rts1_the_record_page_shows_what_the_practice_shares_in_plain_words(client, portal, filled):
    page = _page(client, portal.adult.user)
    for expected in (
        "Ada Portal", "11 February 1984", "she/her", "Spanish",  # demographics, the language in words
        "ada@a.portal.test", "(415) 555-0142", "12 Alder St", "Lucía Quintero",  # contact details
        "salbutamol", "100 mcg as needed", "penicillin", "Serious", "Asthma",  # medicines, allergies, conditions
        "Peak flow", "410 L/min", "Influenza, seasonal", "1 October 2025",  # results, vaccines, dates written out
        "General examination", "Spirometry", "Acme Health", "XJ-99812", DOCUMENT_TITLE,  # visits, insurance, documents
    ):
        assert expected in page, expected
    assert 'aria-current="page" href="/portal/record/"' in page  # the nav marks "My record"
    assert "<h1" in page and "<h2" in page


def test_rts1_the_record_page_shows_no_codes_and_no_ids_except_the_document_links(client, portal, filled):
    page = _page(client, portal.adult.user)
    assert "195967001" not in page  # the condition's SNOMED code
    assert "MRN-0042" not in page
    ids = set(UUID_RE.findall(page))
    assert ids == {str(filled.document.pk)}  # only in its download link


def test_the_record_page_holds_no_psychotherapy_note_and_no_staff_note(client, portal, filled):
    page = _page(client, portal.adult.user)
    assert PSYCHOTHERAPY_NOTE not in page
    assert STAFF_NOTE not in page


def test_the_record_page_is_one_door_opening_as_the_patient_without_notes(client, portal, filled):
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    _page(client, portal.adult.user)
    openings = list(AuditEntry.objects.filter(id__gt=before, event=AuditEvent.CHART_OPENED.value))
    assert len(openings) == 1
    opening = openings[0]
    assert (opening.actor_kind, opening.actor_id, opening.actor_role) == ("patient", str(portal.adult.user.pk), "self")
    assert opening.purpose == "patient_request"
    assert "health.notes" not in opening.categories and "health.psychotherapy_notes" not in opening.categories
    assert {"health.medications", "health.documents", "financial.insurance"} <= set(opening.categories)


def test_a_parent_sees_their_childs_record_after_switching(client, portal):
    portal_sign_in(client, portal.parent.user)
    session = client.session
    session[SESSION_PORTAL_LINK] = str(portal.child_link.id)
    session.save()
    page = client.get(reverse("portal:record")).content.decode()
    assert "Kit Parent&#x27;s record" in page or "Kit Parent's record" in page
    assert "Paula Parent (mother)" in page  # the child's parent or guardian, from the child's record
    opening = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED.value, subject_id=portal.child.pk).latest("id")
    assert opening.actor_role == "representative"


def test_a_shared_document_downloads_as_a_stream(client, portal, filled):
    portal_sign_in(client, portal.adult.user)
    response = client.get(reverse("portal:record-document", kwargs={"document_id": filled.document.pk}))
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith("attachment;")
    assert DOCUMENT_TITLE not in response["Content-Disposition"]


def test_another_records_document_is_404_like_a_missing_one(client, world, portal, filled):
    portal_sign_in(client, portal.parent.user)  # the parent's own record, not Ada's
    other = client.get(reverse("portal:record-document", kwargs={"document_id": filled.document.pk}))
    missing = client.get(reverse("portal:record-document", kwargs={"document_id": "00000000-0000-4000-8000-000000000000"}))
    assert other.status_code == missing.status_code == 404
    assert DOCUMENT_TITLE not in other.content.decode()


def test_another_practices_patient_cannot_reach_the_document(client, portal, portal_b, filled):
    portal_sign_in(client, portal_b.adult.user)
    response = client.get(reverse("portal:record-document", kwargs={"document_id": filled.document.pk}))
    assert response.status_code == 404


def test_anonymous_is_sent_to_the_portal_sign_in(client):
    response = client.get(reverse("portal:record"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:signin"))


def test_rts1_a_results_normal_range_is_shown_where_it_was_recorded(client, world, portal):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_add_item

    item = {"name": "Potassium", "value": 4.1, "unit": "mmol/L", "category": "laboratory", "reference_range": "3.5–5.0 mmol/L"}
    with tenant_context(practice_id=world.a.practice.id):
        do_add_item(actor=StaffActor.from_membership(world.a.memberships[Role.CLINICIAN]), patient_id=portal.adult.patient.pk,
                    list_name="lab_results", item=item)  # fmt: skip
    page = _page(client, portal.adult.user)
    assert "Potassium" in page and "4.1 mmol/L" in page
    assert "Normal range: 3.5–5.0 mmol/L" in page


def test_the_record_page_makes_the_same_number_of_queries_for_one_document_as_for_six(client, world, portal, filled, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.files import do_add_file
    from tests.records.uploads import pdf_upload

    portal_sign_in(client, portal.adult.user)
    client.get(reverse("portal:record"))  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("portal:record")).status_code == 200
    with tenant_context(practice_id=world.a.practice.id):
        for n in range(5):
            do_add_file(actor=StaffActor.from_membership(world.a.memberships[Role.CLINICIAN]), patient_id=portal.adult.patient.pk,
                        kind="document", upload=pdf_upload(), title=f"Letter {n}")  # fmt: skip
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("portal:record")).content.decode()
    assert "Letter 4" in page


class _WithMinorControlled:
    """The declaration in force, with a per-category exception list: the minor controls their
    medications (the declaration issue adds the real setting; the door already reads it)."""

    def __init__(self, declaration, categories):
        self._declaration, self._categories = declaration, frozenset(categories)

    def __getattr__(self, name):
        return getattr(self._declaration, name)

    def minor_controlled_categories(self):
        return self._categories


def test_a_parent_does_not_see_what_the_practice_leaves_to_the_minor_and_the_page_still_opens(client, portal):
    from unittest import mock

    from confide.policy import services as policy_services

    real = policy_services.declaration_in_force

    def declaration_in_force(*args, **kwargs):
        return _WithMinorControlled(real(*args, **kwargs), {"health.medications"})

    portal_sign_in(client, portal.parent.user)
    session = client.session
    session[SESSION_PORTAL_LINK] = str(portal.child_link.id)
    session.save()
    with mock.patch.object(policy_services, "declaration_in_force", declaration_in_force):
        response = client.get(reverse("portal:record"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Kit Parent" in page and "Allergies" in page
    assert "Medicines" not in page and "salbutamol" not in page
    opening = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED.value, subject_id=portal.child.pk).latest("id")
    assert "health.medications" not in opening.categories
    assert not AuditEntry.objects.filter(event=AuditEvent.ACCESS_DENIED.value, subject_id=portal.child.pk).exists()
