"""The notes tab: progress notes newest first with addenda and their signature check;
psychotherapy notes in a section of their own, only ever their author's."""

from __future__ import annotations

import re

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records import notes
from confide.records.models import ProgressNote
from tests.conftest import CANARIES
from tests.records.conftest import HOSTILE, assert_escaped, denied, tab_names, url

NOTES = "records:chart-notes"


def test_front_desk_never_sees_the_notes_tab(signed_in, chart, patient):
    chart.note(Role.CLINICIAN, signed=True)
    client = signed_in(Role.FRONT_DESK)
    assert "notes" not in tab_names(client.get(url("records:chart", patient)).content.decode())
    before = len(denied())
    page = client.get(url(NOTES, patient))
    assert page.status_code == 403 and b"Sleeps badly" not in page.content
    [refusal] = denied()[before:]
    assert (refusal.actor_role, refusal.purpose, refusal.reason) == ("front_desk", "operations", "category_not_granted")
    assert "health.notes" in refusal.categories


def test_billing_never_sees_the_notes_tab(signed_in, chart, patient):
    chart.note(Role.CLINICIAN, signed=True)
    client = signed_in(Role.BILLING)
    assert "notes" not in tab_names(client.get(url("records:chart", patient)).content.decode())
    assert client.get(url(NOTES, patient)).status_code == 403
    assert denied()[-1].actor_role == "billing"


def test_the_privacy_officer_cannot_open_the_notes_tab(signed_in, patient):
    assert signed_in(Role.PRIVACY_OFFICER).get(url(NOTES, patient)).status_code == 403


def test_notes_are_listed_newest_first_with_their_addenda_and_signature_check(signed_in, chart, patient, in_a):
    older = chart.note(Role.CLINICIAN, signed=True)
    notes.do_add_addendum(actor=chart.actor(Role.CLINICIAN), note_id=older.pk, text="Addendum text.")
    newer = chart.note(Role.OWNER, signed=False)
    body = signed_in(Role.CLINICIAN).get(url(NOTES, patient)).content.decode()
    assert body.index(f'id="note-{newer.pk}"') < body.index(f'id="note-{older.pk}"')
    assert "Addendum text." in body and body.count('data-testid="intact"') == 2  # the note and its addendum
    assert "Sleeps badly since March." in body and "by Olivia" not in body


def test_a_signed_note_whose_content_no_longer_matches_says_so(signed_in, chart, patient):
    note = chart.note(Role.CLINICIAN, signed=True)
    with tenant_context(practice_id=patient.practice_id):
        ProgressNote.objects.filter(pk=note.pk).update(content_hash="0" * 64)  # what tampering looks like
    body = signed_in(Role.CLINICIAN).get(url(NOTES, patient)).content.decode()
    assert 'data-testid="not-intact"' in body and "Signature check failed" in body


def test_only_the_author_is_offered_edit_and_sign_on_a_draft(signed_in, chart, patient, colleague_client):
    draft = chart.note(Role.CLINICIAN, signed=False)
    mine = signed_in(Role.CLINICIAN).get(url(NOTES, patient)).content.decode()
    theirs = colleague_client.get(url(NOTES, patient)).content.decode()
    edit = url("records:note-edit", patient, note_id=draft.pk)
    assert edit in mine and edit not in theirs and "edited and signed by its author only" in theirs


def test_note_text_with_markup_is_shown_escaped(signed_in, chart, patient, in_a):
    notes.do_create_note(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, template="free", content={"text": HOSTILE})
    assert_escaped(signed_in(Role.CLINICIAN).get(url(NOTES, patient)).content.decode())


PSYCHOTHERAPY = "records:chart-psychotherapy"


def _psychotherapy_section(body: str) -> str:
    section = re.search(r'<section class="psychotherapy-notes[^"]*".*?</section>', body, re.S)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", section.group(0)) if section else ""


def test_psychotherapy_notes_are_shown_only_to_their_author(signed_in, chart, patient, colleague_client, in_a):
    notes.do_create_psychotherapy_note(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, text=CANARIES["note"])
    mine = signed_in(Role.CLINICIAN).get(url(PSYCHOTHERAPY, patient)).content.decode()
    assert CANARIES["note"] in _psychotherapy_section(mine)
    assert CANARIES["note"] not in signed_in(Role.CLINICIAN).get(url(NOTES, patient)).content.decode()  # a tab of their own
    for client in (colleague_client, signed_in(Role.OWNER)):
        body = client.get(url(PSYCHOTHERAPY, patient)).content.decode()
        assert CANARIES["note"] not in body
        assert 'data-testid="no-psychotherapy-notes"' in body


def test_another_clinician_sees_the_same_empty_section_whether_or_not_a_colleague_keeps_any(chart, patient, colleague_client, in_a):
    before = _psychotherapy_section(colleague_client.get(url(PSYCHOTHERAPY, patient)).content.decode())
    notes.do_create_psychotherapy_note(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, text="Private.")
    after = _psychotherapy_section(colleague_client.get(url(PSYCHOTHERAPY, patient)).content.decode())
    assert before == after and before


def test_viewing_the_tabs_opens_psychotherapy_notes_only_through_their_own_door(signed_in, chart, patient, in_a):
    from confide.audit.models import AuditEntry

    mine = notes.do_create_psychotherapy_note(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, text="Private.")
    start = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    client = signed_in(Role.CLINICIAN)
    client.get(url(NOTES, patient))
    client.get(url(PSYCHOTHERAPY, patient))
    opened = list(AuditEntry.objects.filter(id__gt=start, event=AuditEvent.CHART_OPENED).order_by("id"))
    assert [sorted(e.categories) for e in opened] == [
        ["health.notes", "identifiers.dob", "identifiers.name"], ["health.psychotherapy_notes", "identifiers.dob", "identifiers.name"],
    ]  # fmt: skip
    assert opened[1].resource_ids == [str(mine.pk)]


def _notes(chart, patient, count: int) -> list:
    with tenant_context(practice_id=patient.practice_id):
        actor = chart.actor(Role.CLINICIAN)
        return [notes.do_create_note(actor=actor, patient_id=patient.id, template="free", content={"text": f"Note {k}."}) for k in range(count)]


def test_the_notes_tab_pages_its_notes_newest_first_none_skipped_or_repeated(signed_in, chart, patient):
    from confide.records.chart import NOTES_PAGE_SIZE

    made = _notes(chart, patient, NOTES_PAGE_SIZE + 3)
    client = signed_in(Role.CLINICIAN)
    first, second = client.get(url(NOTES, patient)).content.decode(), client.get(url(NOTES, patient), {"page": "2"}).content.decode()
    ids = [re.findall(r'id="note-([0-9a-f-]{36})"', body) for body in (first, second)]
    assert ids[0] + ids[1] == [str(n.pk) for n in reversed(made)]  # newest first, each once
    assert 'href="?page=2" rel="next">Older notes<' in first and 'href="?page=1" rel="prev">Newer notes<' in second
    assert "Older notes" not in second


def test_a_bad_notes_page_number_is_a_400_with_a_message(signed_in, chart, patient):
    response = signed_in(Role.CLINICIAN).get(url(NOTES, patient), {"page": "0"})
    assert response.status_code == 400 and b"Page numbers are whole numbers from 1." in response.content


def test_the_notes_tab_makes_the_same_number_of_queries_for_one_note_as_for_a_hundred(signed_in, chart, patient, django_assert_max_num_queries):
    """Only a page of notes and their addenda are read: the count does not grow with the chart."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    note = chart.note(Role.CLINICIAN, signed=True)
    with tenant_context(practice_id=patient.practice_id):
        notes.do_add_addendum(actor=chart.actor(Role.CLINICIAN), note_id=note.pk, text="Addendum.")
    client = signed_in(Role.CLINICIAN)
    client.get(url(NOTES, patient))  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(NOTES, patient)).status_code == 200
    _notes(chart, patient, 100)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url(NOTES, patient)).status_code == 200
    assert len(few.captured_queries) <= 36  # PostgreSQL adds the tenant setting per transaction
