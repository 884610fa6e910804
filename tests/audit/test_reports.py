"""confide/audit/reports.py: the per-patient access report, the viewer's filters and scope, the
CSV export and its formula-injection escaping."""

from __future__ import annotations

import csv
import datetime
import io
import uuid

import pytest
import time_machine

from confide.accounts.services import record_security_event
from confide.audit import reports
from confide.audit.chain import record, system_actor
from confide.audit.events import AuditEvent
from confide.audit.reports import LogFilter, csv_safe, export_csv_rows, filtered_entries, patient_access_report
from confide.core.errors import Forbidden
from confide.core.permissions import Role
from tests.audit.sealing import seal_all, sealed
from tests.audit.viewer_helpers import chart_opened, staff, without_genesis


# --- Per-patient access report ------------------------------------------------------------------
def test_patient_access_report_says_who_opened_the_record_when_in_what_role_for_what_purpose(world, clock):
    patient, other_patient = uuid.uuid4(), uuid.uuid4()
    first = chart_opened(world.a, patient, role=Role.CLINICIAN, purpose="treatment", categories=["health", "contact"])
    clock.shift(60)
    second = chart_opened(world.a, patient, role=Role.BILLING, purpose="payment", categories=["insurance"])
    chart_opened(world.a, other_patient)  # another patient's
    record(AuditEvent.PATIENTS_LISTED, practice_id=world.a.practice.id, actor=staff(world.a, Role.FRONT_DESK), resource_ids=[patient])  # no subject

    rows = patient_access_report(world.a.practice.id, patient, shown_to_user=None)

    assert [(r.when, r.actor_id, r.actor_role, r.purpose, r.event, r.categories) for r in rows] == [
        (second.at, str(world.a.user(Role.BILLING).pk), "billing", "payment", "records:chart:opened", ("insurance",)),
        (first.at, str(world.a.user(Role.CLINICIAN).pk), "clinician", "treatment", "records:chart:opened", ("contact", "health")),
    ]  # newest first; ids, roles and categories only
    assert rows[0].when == datetime.datetime(2026, 3, 2, 9, 1, tzinfo=datetime.UTC)


def test_patient_access_report_names_system_actors_and_never_reads_another_practices_chain(world):
    patient = uuid.uuid4()
    record(AuditEvent.CHART_OPENED, practice_id=world.a.practice.id, actor=system_actor("reminder-job"), subject_id=patient, purpose="operations", categories=["contact"])
    record(AuditEvent.CHART_OPENED, practice_id=world.b.practice.id, actor=staff(world.b, Role.CLINICIAN), subject_id=patient, purpose="treatment")
    rows = patient_access_report(world.a.practice.id, patient, shown_to_user=None)
    assert [(r.actor_kind, r.actor_id, r.actor_role, r.purpose) for r in rows] == [("system", "reminder-job", "", "operations")]
    assert patient_access_report(world.a.practice.id, uuid.uuid4(), shown_to_user=None) == []


def test_rec3_the_access_report_leaves_out_entries_about_someone_elses_psychotherapy_notes(world):
    patient = uuid.uuid4()
    clinician = str(world.a.user(Role.CLINICIAN).pk)
    about = chart_opened(world.a, patient, categories=["health.psychotherapy_notes"])
    both = chart_opened(world.a, patient, categories=["health.notes", "health.psychotherapy_notes"])
    plain = chart_opened(world.a, patient, categories=["health.notes"])

    def whens(user):
        return [r.when for r in patient_access_report(world.a.practice.id, patient, shown_to_user=user)]

    assert whens(clinician) == [plain.at, both.at, about.at]  # their author sees them
    assert whens(str(world.a.owner.pk)) == whens(None) == [plain.at]  # nobody else does, not even in part


# --- Scope and filters ----------------------------------------------------------------------------
def _events(queryset) -> list[tuple[str, str]]:
    return [(e.chain, e.event) for e in without_genesis(queryset)]


def test_scope_is_the_practice_chain_plus_its_members_platform_entries(world):
    officer = staff(world.a, Role.PRIVACY_OFFICER)
    chart_opened(world.a, uuid.uuid4())
    chart_opened(world.b, uuid.uuid4())  # B's chain
    record_security_event(AuditEvent.SIGNIN_FAILED, user=world.a.user(Role.BILLING))  # a member of A, platform chain
    record_security_event(AuditEvent.SIGNIN_SUCCEEDED, user=world.b.user(Role.BILLING))  # a member of B only
    record_security_event(AuditEvent.SIGNIN_FAILED, identifier="nobody@example.test")  # no account at all
    assert sorted(_events(filtered_entries(officer, LogFilter()))) == [
        (str(world.a.practice.id), "records:chart:opened"),
        ("platform", "accounts:signin:failed"),
    ]


def test_each_filter_narrows_the_rows(world, clock):
    officer = staff(world.a, Role.PRIVACY_OFFICER)
    patient = uuid.uuid4()
    clinician, billing = world.a.user(Role.CLINICIAN), world.a.user(Role.BILLING)
    opened_day1 = chart_opened(world.a, patient, role=Role.CLINICIAN)
    clock.shift(24 * 3600)  # 2026-03-03
    opened_day2 = chart_opened(world.a, patient, role=Role.BILLING, purpose="payment")
    other = chart_opened(world.a, uuid.uuid4(), role=Role.CLINICIAN)
    clock.shift(24 * 3600)
    signin = record_security_event(AuditEvent.SIGNIN_SUCCEEDED, user=clinician)  # 2026-03-04

    def ids(**kw):
        return [e.id for e in without_genesis(filtered_entries(officer, LogFilter(**kw)))]

    assert ids() == [signin.id, other.id, opened_day2.id, opened_day1.id]  # newest first
    assert ids(patient_id=patient) == [opened_day2.id, opened_day1.id]
    assert ids(user_id=str(clinician.pk)) == [signin.id, other.id, opened_day1.id]
    assert ids(user_id=str(billing.pk)) == [opened_day2.id]
    assert ids(event=AuditEvent.SIGNIN_SUCCEEDED) == [signin.id]
    day1, day2, day3 = datetime.date(2026, 3, 2), datetime.date(2026, 3, 3), datetime.date(2026, 3, 4)
    assert ids(date_from=day2, date_to=day2) == [other.id, opened_day2.id]  # both ends inclusive, whole days (UTC)
    assert ids(date_from=day3) == [signin.id]
    assert ids(date_to=day1) == [opened_day1.id]
    assert ids(patient_id=patient, user_id=str(clinician.pk), date_from=day1, date_to=day3) == [opened_day1.id]
    assert ids(patient_id=uuid.uuid4()) == []


def test_another_practices_patient_or_user_finds_nothing(world):
    officer = staff(world.a, Role.PRIVACY_OFFICER)
    b_patient = uuid.uuid4()
    chart_opened(world.b, b_patient)
    assert list(filtered_entries(officer, LogFilter(patient_id=b_patient))) == []
    assert list(filtered_entries(officer, LogFilter(user_id=str(world.b.user(Role.CLINICIAN).pk)))) == []


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.CLINICIAN, Role.BILLING])
def test_roles_without_the_permission_are_refused_by_the_service_too(world, role):
    with pytest.raises(Forbidden):
        filtered_entries(staff(world.a, role), LogFilter())
    with pytest.raises(Forbidden):
        list(export_csv_rows(staff(world.a, role), LogFilter()))


def test_pages_hold_fifty_entries(world):
    officer = staff(world.a, Role.PRIVACY_OFFICER)
    for _ in range(reports.PAGE_SIZE * 2 + 2):
        chart_opened(world.a, uuid.uuid4())
    seal_all()
    page, rows, _ = reports.audit_log_page(officer, LogFilter(), 1)
    assert (page.paginator.count, page.paginator.num_pages, len(rows)) == (103, 3, 50)  # 102 and the genesis entry
    last, rows, _ = reports.audit_log_page(officer, LogFilter(), 3)
    assert len(rows) == 3 and rows[-1].entry.seq == 1  # the oldest entry is on the last page
    assert reports.audit_log_page(officer, LogFilter(), 99)[0].number == 3  # past the end: the last page


# --- CSV ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dangerous", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"http://x.test\")"])
def test_cells_a_spreadsheet_would_evaluate_get_a_leading_quote(dangerous):
    assert csv_safe(dangerous) == "'" + dangerous


@pytest.mark.parametrize("harmless", ["", "accounts:signin:failed", "1", "a=b", "Mozilla/5.0", " =x"])
def test_other_cells_are_unchanged(harmless):
    assert csv_safe(harmless) == harmless


def _parse(lines) -> list[dict]:
    return list(csv.DictReader(io.StringIO("".join(lines))))


def test_export_has_every_filtered_entry_and_escapes_what_clients_sent(world, rf):
    officer = staff(world.a, Role.PRIVACY_OFFICER)
    patient = uuid.uuid4()
    opened = chart_opened(world.a, patient)
    request = rf.get("/", HTTP_USER_AGENT='=HYPERLINK("http://evil.test","click")', REMOTE_ADDR="203.0.113.7")
    record_security_event(AuditEvent.SIGNIN_FAILED, user=world.a.user(Role.BILLING), request=request)
    chart_opened(world.b, patient)  # B's, never exported
    opened = sealed(opened)

    rows = without_genesis(_parse(export_csv_rows(officer, LogFilter())))

    assert [r["event"] for r in rows] == ["accounts:signin:failed", "records:chart:opened"]
    failed, chart = rows
    assert failed["user_agent"] == '\'=HYPERLINK("http://evil.test","click")'
    assert failed["ip_address"] == "203.0.113.7" and failed["chain"] == "platform"
    assert (chart["subject_id"], chart["actor_id"], chart["actor_role"]) == (str(patient), str(world.a.user(Role.CLINICIAN).pk), "clinician")
    assert (chart["categories"], chart["seq"], chart["hash"]) == ('["contact","health"]', str(opened.seq), opened.hash)
    assert list(rows[0]) == list(reports.CSV_COLUMNS)
    assert all(not value.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for value in r.values())
    assert [r["event"] for r in _parse(export_csv_rows(officer, LogFilter(patient_id=patient)))] == ["records:chart:opened"]


def test_export_of_nothing_is_just_the_header(world):
    lines = list(export_csv_rows(staff(world.a, Role.PRIVACY_OFFICER), LogFilter(patient_id=uuid.uuid4())))
    assert lines == [",".join(reports.CSV_COLUMNS) + "\r\n"]


def test_the_file_name_carries_no_phi_and_no_filter(world):
    name = reports.export_filename(staff(world.a, Role.PRIVACY_OFFICER), datetime.date(2026, 3, 2))
    assert name == f"audit-log-{world.a.practice.slug}-20260302.csv"


def test_the_time_is_utc_with_microseconds(world):
    with time_machine.travel(datetime.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC), tick=False):
        chart_opened(world.a, uuid.uuid4())
    (row,) = without_genesis(_parse(export_csv_rows(staff(world.a, Role.OWNER), LogFilter())))
    assert row["at"] == "2026-05-06T07:08:09.123456Z"
