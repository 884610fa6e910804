"""The privacy tab: who opened this record, when, in what role, for what purpose
(audit.reports.patient_access_report), for the owner, clinicians and the privacy officer."""

from __future__ import annotations

import pytest

from confide.core.permissions import Role
from confide.records import notes
from tests.records.conftest import tab_names, url

PRIVACY = "records:chart-privacy"


def test_the_privacy_officer_sees_who_opened_the_record_and_who_was_refused(signed_in, patient):
    signed_in(Role.CLINICIAN).get(url("records:chart-clinical", patient))
    signed_in(Role.FRONT_DESK).get(url("records:chart-notes", patient))  # refused, and recorded
    client = signed_in(Role.PRIVACY_OFFICER)
    page = client.get(url(PRIVACY, patient))
    body = page.content.decode()
    assert page.status_code == 200 and tab_names(body) == {"privacy"}
    assert "Zebulon Canarywood" in body and "Front desk A" in body  # staff names (the canary clinician of the world)
    assert "Was refused access" in body and "health.notes" in body and "treatment" in body
    assert "Marisol" in body  # the header: the patient's name (operations grants it)
    assert "asthma" not in body and "salbutamol" not in body  # never the information itself


def test_front_desk_and_billing_have_no_privacy_tab(signed_in, patient):
    for role in (Role.FRONT_DESK, Role.BILLING):
        assert signed_in(role).get(url(PRIVACY, patient)).status_code == 403


@pytest.mark.parametrize("author", [Role.CLINICIAN, Role.OWNER])
def test_rec3_entries_about_psychotherapy_notes_are_shown_on_it_to_their_author_only(signed_in, chart, patient, colleague_client, in_a, author):
    """"Nobody else can tell whether you keep any": not a colleague, not the owner, not the
    privacy officer (the full entries stay for `confide audit verify` and the compliance export)."""
    notes.do_create_psychotherapy_note(actor=chart.actor(author), patient_id=patient.id, text="Private.")
    mine = signed_in(author).get(url(PRIVACY, patient)).content.decode()
    assert "health.psychotherapy_notes" in mine and "Started a note" in mine
    others = [colleague_client] + [signed_in(role) for role in (Role.OWNER, Role.CLINICIAN, Role.PRIVACY_OFFICER) if role != author]
    for client in others:
        theirs = client.get(url(PRIVACY, patient)).content.decode()
        # (the tab bar names the psychotherapy tab to every role that writes such notes, whoever keeps any)
        theirs = theirs.split('aria-label="Chart sections"', 1)[1].split("</nav>", 1)[1]
        assert "psychotherapy" not in theirs and "Started a note" not in theirs


def test_a_bad_page_number_is_a_400_and_pages_are_links_with_numbers_only(signed_in, patient):
    client = signed_in(Role.OWNER)
    bad = client.get(url(PRIVACY, patient), {"page": "-1"})
    assert bad.status_code == 400 and b"Page numbers are whole numbers from 1." in bad.content
    for _ in range(60):
        client.get(url("records:chart", patient))
    body = client.get(url(PRIVACY, patient)).content.decode()
    assert 'href="?page=2"' in body
