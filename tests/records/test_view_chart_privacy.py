"""The privacy tab: who opened this record, when, in what role, for what purpose
(audit.reports.patient_access_report), for the owner, clinicians and the privacy officer."""

from __future__ import annotations

import re
import uuid

import pytest

from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.records import notes
from confide.records.chart import PRIVACY_PAGE_SIZE
from tests.audit.viewer_helpers import chart_opened
from tests.records.conftest import tab_names, url

PRIVACY = "records:chart-privacy"
# The whole request, session and door included; the same for 5 entries or 150
# (test_the_privacy_tab_makes_the_same_number_of_queries_however_long_the_history).
PRIVACY_QUERIES = 34  # PostgreSQL adds the tenant setting per transaction


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


@pytest.mark.parametrize("bad", [{"before": "-1"}, {"before": "two"}, {"after": "²"}, {"before": "9" * 20}, {"before": "1", "after": "2"}])
def test_a_bad_page_link_is_a_400_with_a_message(signed_in, patient, bad):
    response = signed_in(Role.OWNER).get(url(PRIVACY, patient), bad)
    assert response.status_code == 400 and b"Pages are named by whole numbers from 1." in response.content


def _ids(body: str) -> list[str]:
    return re.findall(r'data-testid="access-row" data-entry="(\d+)"', body)


def test_the_pages_are_links_with_numbers_only_and_walk_every_entry_once_each_way(signed_in, patient, world, clock):
    """Older and Newer walk the whole history, none skipped or repeated, newest first, also
    across entries written in the same instant (a fixed clock: they differ by id only)."""
    client = signed_in(Role.OWNER)
    for _ in range(2 * PRIVACY_PAGE_SIZE + 7):
        chart_opened(world.a, patient.id)
    body = client.get(url(PRIVACY, patient)).content.decode()
    newest = AuditEntry.objects.latest("id").pk  # this page's own opening: what it shows is as of here
    pages, links = [_ids(body)], []
    while (link := re.search(r'href="\?before=(\d+)" rel="next">Older<', body)) is not None:
        links.append(link.group(1))
        body = client.get(url(PRIVACY, patient), {"before": link.group(1)}).content.decode()
        pages.append(_ids(body))
    entries = AuditEntry.objects.filter(subject_id=patient.id, id__lte=newest).order_by("-at", "-id")
    expected = [str(pk) for pk in entries.values_list("id", flat=True)]
    assert [len(p) for p in pages] == [PRIVACY_PAGE_SIZE, PRIVACY_PAGE_SIZE, len(expected) - 2 * PRIVACY_PAGE_SIZE]
    assert sum(pages, []) == expected  # every entry once, in order
    back = []
    while (link := re.search(r'href="\?after=(\d+)" rel="prev">Newer<', body)) is not None:
        body = client.get(url(PRIVACY, patient), {"after": link.group(1)}).content.decode()
        back.append(_ids(body))
    # The way back shows every entry of the pages before once more, once each, and the openings
    # made while walking (newer, so among them) too.
    walked_back = sum(back, [])
    assert len(walked_back) == len(set(walked_back)) and set(pages[0] + pages[1]) <= set(walked_back)
    assert 'href="?"' in client.get(url(PRIVACY, patient), {"before": links[0]}).content.decode()  # "Newest"


def test_another_patients_entry_as_a_page_link_shows_nothing_of_it(signed_in, patient, world):
    foreign = chart_opened(world.a, uuid.uuid4())
    body = signed_in(Role.OWNER).get(url(PRIVACY, patient), {"before": str(foreign.pk)}).content.decode()
    assert _ids(body) == [] and "Nothing recorded." in body


def test_psychotherapy_entries_are_filtered_in_the_database_so_pages_stay_full(signed_in, patient, world, clock):
    """Someone else's entries about psychotherapy notes are left out by the query, not after it:
    a page still holds PRIVACY_PAGE_SIZE entries when many are hidden."""
    for n in range(2 * PRIVACY_PAGE_SIZE + 10):  # half of them hidden: still more than a page
        chart_opened(world.a, patient.id, categories=["health.psychotherapy_notes"] if n % 2 else ["health.notes"])
    body = signed_in(Role.PRIVACY_OFFICER).get(url(PRIVACY, patient)).content.decode()
    assert len(_ids(body)) == PRIVACY_PAGE_SIZE and "psychotherapy" not in body.split('aria-label="Who opened')[1]


@pytest.mark.parametrize("entries", [5, 3 * PRIVACY_PAGE_SIZE])
def test_the_privacy_tab_makes_the_same_number_of_queries_however_long_the_history(signed_in, patient, world, entries, django_assert_max_num_queries):
    client = signed_in(Role.OWNER)
    client.get(url(PRIVACY, patient))  # warm the session
    for _ in range(entries):
        chart_opened(world.a, patient.id)
    first = AuditEntry.objects.filter(subject_id=patient.id).order_by("-at", "-id").values_list("id", flat=True)[2]
    for query in ({}, {"before": str(first)}):
        with django_assert_max_num_queries(PRIVACY_QUERIES):
            assert client.get(url(PRIVACY, patient), query).status_code == 200
