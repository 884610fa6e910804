"""The privacy officer's audit viewer (/audit/) and its CSV export: who may see it, the filters,
paging, invalid filters, re-authentication for the export, and never another practice's entries."""

from __future__ import annotations

import csv
import io
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from confide.accounts.models import TOTPDevice
from confide.accounts.services import record_security_event
from confide.audit.events import AuditEvent
from confide.core.middleware import SESSION_AUTH_FRESH_AT
from confide.core.permissions import Role
from tests.audit.sealing import sealed
from tests.audit.viewer_helpers import GENESIS_EVENT, chart_opened, without_genesis
from tests.conftest import CANARIES, PASSWORD

LOG = reverse("audit:log")
EXPORT = reverse("audit:log-export")


def _rows(response) -> list[dict]:
    """The exported rows, but for the practice's genesis entry."""
    body = b"".join(response.streaming_content).decode()
    return without_genesis(csv.DictReader(io.StringIO(body)))


def _shown(response, event: str | None = None) -> int:
    """Entries on the page (of one event), but for the practice's genesis entry. Signing in the
    test client records a sign-in too."""
    body = response.content.decode()
    if event:
        return body.count(f'data-event="{event}"')
    return body.count('data-testid="entry-') - body.count(f'data-event="{GENESIS_EVENT}"')


# --- Who ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.PRIVACY_OFFICER, Role.OWNER])
def test_privacy_officer_and_owner_see_the_log(signed_in, world, role):
    chart_opened(world.a, uuid.uuid4())
    response = signed_in(role).get(LOG)
    assert response.status_code == 200
    assert _shown(response, "records:chart:opened") == 1
    assert _shown(response, "accounts:signin:succeeded") == 1  # the viewer's own sign-in (platform chain)
    assert b'data-testid="export"' in response.content


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.CLINICIAN, Role.BILLING])
@pytest.mark.parametrize("url", [LOG, EXPORT])
def test_other_roles_get_403(signed_in, world, role, url):
    chart_opened(world.a, uuid.uuid4())
    response = signed_in(role).get(url)
    assert response.status_code == 403
    assert b"records:chart:opened" not in response.content


def test_the_dashboard_links_the_log_only_for_roles_with_the_permission(signed_in, client):
    assert LOG.encode() in signed_in(Role.PRIVACY_OFFICER).get(reverse("core:dashboard")).content
    client.logout()
    assert LOG.encode() not in signed_in(Role.FRONT_DESK).get(reverse("core:dashboard")).content


# --- What ---------------------------------------------------------------------------------------
def test_another_practices_entries_are_never_shown_or_exported(signed_in, world):
    b_patient = uuid.uuid4()
    chart_opened(world.b, b_patient)
    record_security_event(AuditEvent.SIGNIN_FAILED, user=world.b.user(Role.CLINICIAN))  # a member of B only
    a_entry = sealed(chart_opened(world.a, uuid.uuid4()))
    client = signed_in(Role.PRIVACY_OFFICER)
    page = client.get(LOG)
    assert _shown(page, "records:chart:opened") == 1 and f"entry-{a_entry.chain}-{a_entry.seq}".encode() in page.content
    assert _shown(page, "accounts:signin:failed") == 0
    assert str(b_patient).encode() not in page.content
    assert _shown(client.get(LOG, {"patient": str(b_patient)})) == 0
    assert [r["chain"] for r in _rows(client.get(EXPORT, {"event": "records:chart:opened"}))] == [str(world.a.practice.id)]
    assert {r["actor_id"] for r in _rows(client.get(EXPORT))} == {a_entry.actor_id, str(world.a.user(Role.PRIVACY_OFFICER).pk)}
    assert _rows(client.get(EXPORT, {"patient": str(b_patient)})) == []
    # B's staff are not in A's user filter: asking for one is an invalid choice, not an empty page.
    assert client.get(LOG, {"user": str(world.b.user(Role.CLINICIAN).pk)}).status_code == 400


def test_filters_by_patient_user_event_and_date(signed_in, world, clock):
    patient = uuid.uuid4()
    clinician = world.a.user(Role.CLINICIAN)
    chart_opened(world.a, patient, role=Role.CLINICIAN)
    chart_opened(world.a, uuid.uuid4(), role=Role.BILLING)
    clock.shift(2 * 24 * 3600)  # 2026-03-04
    chart_opened(world.a, patient, role=Role.BILLING)
    record_security_event(AuditEvent.SIGNIN_SUCCEEDED, user=clinician)
    client = signed_in(Role.PRIVACY_OFFICER)  # its own sign-in is recorded now, 2026-03-04 too
    assert _shown(client.get(LOG)) == 5
    assert _shown(client.get(LOG, {"patient": str(patient)})) == 2
    assert _shown(client.get(LOG, {"user": str(clinician.pk)})) == 2
    assert _shown(client.get(LOG, {"event": AuditEvent.SIGNIN_SUCCEEDED.value})) == 2  # the clinician's and the viewer's
    assert _shown(client.get(LOG, {"date_from": "2026-03-03"})) == 3
    assert _shown(client.get(LOG, {"date_from": "2026-03-02", "date_to": "2026-03-02"})) == 2
    assert _shown(client.get(LOG, {"patient": str(patient), "date_to": "2026-03-02"})) == 1
    exported = _rows(client.get(EXPORT, {"patient": str(patient), "user": str(clinician.pk)}))
    assert [(r["subject_id"], r["actor_id"]) for r in exported] == [(str(patient), str(clinician.pk))]


def test_pages_of_fifty_keep_their_filters(signed_in, world):
    patient = uuid.uuid4()
    for _ in range(120):
        chart_opened(world.a, patient)
    chart_opened(world.a, uuid.uuid4())  # filtered out
    client = signed_in(Role.PRIVACY_OFFICER)
    first = client.get(LOG, {"patient": str(patient)})
    assert _shown(first) == 50 and b"page 1 of 3" in first.content
    assert f'href="?patient={patient}&amp;page=2"'.encode() in first.content
    assert _shown(client.get(LOG, {"patient": str(patient), "page": "2"})) == 50
    assert _shown(client.get(LOG, {"patient": str(patient), "page": "3"})) == 20
    assert len(_rows(client.get(EXPORT, {"patient": str(patient), "page": "2"}))) == 120  # the export is never paged


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"patient": "not-a-uuid"}, b"paste a patient id"),
        ({"patient": CANARIES["email"]}, b"paste a patient id"),
        ({"date_from": "2026-13-40"}, b"Enter the date as YYYY-MM-DD"),
        ({"date_to": "yesterday"}, b"Enter the date as YYYY-MM-DD"),
        ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, b"The end date is before the start date"),
        ({"event": "records:chart:stolen"}, b"Choose an event from the list"),
        ({"user": "999999"}, b"Choose a staff member of this practice"),
        ({"page": "0"}, b"Page"),
    ],
)
@pytest.mark.parametrize("url", [LOG, EXPORT])
def test_invalid_filters_are_a_clear_400_and_nothing_is_exported(signed_in, world, url, params, message):
    chart_opened(world.a, uuid.uuid4())
    response = signed_in(Role.PRIVACY_OFFICER).get(url, params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response
    assert message in response.content and b'id="filter-errors"' in response.content
    assert _shown(response) == 0 and b'data-testid="export"' not in response.content
    if params.get("patient") == CANARIES["email"]:  # echoed in its own input only, never in the message
        assert response.content.count(CANARIES["email"].encode()) == 1


# --- Export ---------------------------------------------------------------------------------------
def test_export_is_csv_with_a_phi_free_file_name_and_escaped_cells(signed_in, world, client):
    patient = uuid.uuid4()
    chart_opened(world.a, patient)
    # What a client sends is stored as sent: a user agent crafted as a spreadsheet formula.
    client.post(reverse("accounts:login"), {"username": world.a.user(Role.BILLING).email, "password": "wrong-password-1"},
                HTTP_USER_AGENT="=cmd|' /C calc'!A0")  # fmt: skip
    response = signed_in(Role.PRIVACY_OFFICER).get(EXPORT, {"patient": "", "event": ""})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="audit-log-{world.a.practice.slug}-{time.strftime("%Y%m%d", time.gmtime())}.csv"'
    filtered = signed_in(Role.PRIVACY_OFFICER).get(EXPORT, {"patient": str(patient)})
    assert str(patient) not in filtered["Content-Disposition"]  # a filter value never names the file
    rows = _rows(response)
    failed = next(r for r in rows if r["event"] == "accounts:signin:failed")
    assert failed["user_agent"] == "'=cmd|' /C calc'!A0"
    assert failed["detail"].startswith('{"identifier_hash":"') and world.a.user(Role.BILLING).email not in failed["detail"]


def test_export_needs_a_recent_reauthentication_and_comes_back_with_its_filters(signed_in, world):
    patient = uuid.uuid4()
    chart_opened(world.a, patient)
    client = signed_in(Role.PRIVACY_OFFICER)
    session = client.session
    session[SESSION_AUTH_FRESH_AT] = int(time.time()) - 3600
    session.save()
    assert client.get(LOG).status_code == 200  # viewing does not need it
    stale = client.get(EXPORT, {"patient": str(patient), "event": "records:chart:opened"})
    assert stale.status_code == 302
    assert "Content-Disposition" not in stale
    location = urlsplit(stale["Location"])
    assert location.path == reverse("accounts:reauth")
    back = f"/audit/export/?patient={patient}&event=records%3Achart%3Aopened"
    assert parse_qs(location.query) == {"next": [back]}  # the whole export URL, filters included, as one parameter

    form = client.get(stale["Location"])
    assert f'value="{back.replace("&", "&amp;")}"'.encode() in form.content
    code = TOTPDevice.objects.get(user=world.a.user(Role.PRIVACY_OFFICER)).current_code()
    confirmed = client.post(stale["Location"], {"password": PASSWORD, "token": code, "next": back})
    assert confirmed.status_code == 302 and confirmed["Location"] == back
    fresh = client.get(confirmed["Location"])
    assert fresh.status_code == 200 and [r["subject_id"] for r in _rows(fresh)] == [str(patient)]


# --- Psychotherapy notes: their author's alone, counted for the rest ------------------------------------
def _psychotherapy_note(world, author: Role = Role.CLINICIAN):
    """A psychotherapy note by `author`: the door's opening and the note's creation, two entries
    about psychotherapy notes (category health.psychotherapy_notes)."""
    from confide.core.tenancy import tenant_context
    from confide.records import notes
    from tests.records.chart_world import chart_world

    chart = chart_world(world.a)
    with tenant_context(practice_id=world.a.practice.id):
        notes.do_create_psychotherapy_note(actor=chart.actor(author), patient_id=chart.patient.id, text="Private.")
    return chart.patient


@pytest.mark.parametrize("role", [Role.PRIVACY_OFFICER, Role.OWNER])
def test_rec3_entries_about_someone_elses_psychotherapy_notes_are_only_counted_without_patient_ids(signed_in, world, role):
    patient = _psychotherapy_note(world, Role.CLINICIAN)
    client = signed_in(role)
    body = client.get(LOG).content.decode()
    assert "health.psychotherapy_notes" not in body
    assert 'data-testid="author-only-count"' in body and "2 entries about psychotherapy notes" in body
    assert all("health.psychotherapy_notes" not in row["categories"] for row in _rows(client.get(EXPORT)))
    # A patient, an event or a person chosen: not even a count (it would say whose notes, or about whom).
    for filters in ({"patient": str(patient.id)}, {"event": AuditEvent.NOTE_CREATED.value}, {"user": str(world.a.user(Role.CLINICIAN).pk)}):
        filtered = client.get(LOG, filters).content.decode()
        assert "health.psychotherapy_notes" not in filtered and 'data-testid="author-only-count"' not in filtered, filters
        assert all("health.psychotherapy_notes" not in row["categories"] for row in _rows(client.get(EXPORT, filters)))


def test_an_owner_who_writes_psychotherapy_notes_sees_their_own_entries_in_full(signed_in, world):
    patient = _psychotherapy_note(world, Role.OWNER)
    body = signed_in(Role.OWNER).get(LOG, {"patient": str(patient.id)}).content.decode()
    assert body.count("health.psychotherapy_notes") == 2 and 'data-testid="author-only-count"' not in body
    officer = signed_in(Role.PRIVACY_OFFICER).get(LOG).content.decode()
    assert "health.psychotherapy_notes" not in officer and "2 entries about psychotherapy notes" in officer


def test_the_author_only_categories_are_the_chart_doors_psychotherapy_notes():
    from confide.access.policy import PSYCHOTHERAPY_NOTES
    from confide.audit.reports import AUTHOR_ONLY_CATEGORIES

    assert AUTHOR_ONLY_CATEGORIES == frozenset({PSYCHOTHERAPY_NOTES})
