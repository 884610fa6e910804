"""The privacy tab: who opened this record, when, in what role, for what purpose
(audit.reports.patient_access_report), for the owner, clinicians and the privacy officer."""

from __future__ import annotations

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


def test_another_clinician_does_not_learn_of_psychotherapy_notes_from_it(signed_in, chart, patient, colleague_client, in_a):
    notes.do_create_psychotherapy_note(actor=chart.actor(Role.CLINICIAN), patient_id=patient.id, text="Private.")
    theirs = colleague_client.get(url(PRIVACY, patient)).content.decode()
    assert "psychotherapy" not in theirs
    mine = signed_in(Role.CLINICIAN).get(url(PRIVACY, patient)).content.decode()
    assert "health.psychotherapy_notes" in mine
    # The privacy officer reviews the whole audit log anyway: the tab hides nothing from them.
    assert "health.psychotherapy_notes" in signed_in(Role.PRIVACY_OFFICER).get(url(PRIVACY, patient)).content.decode()


def test_a_bad_page_number_is_a_400_and_pages_are_links_with_numbers_only(signed_in, patient):
    client = signed_in(Role.OWNER)
    bad = client.get(url(PRIVACY, patient), {"page": "-1"})
    assert bad.status_code == 400 and b"Page numbers are whole numbers from 1." in bad.content
    for _ in range(60):
        client.get(url("records:chart", patient))
    body = client.get(url(PRIVACY, patient)).content.decode()
    assert 'href="?page=2"' in body
