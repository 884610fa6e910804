"""`confide audit export`: the compliance export. Everything the viewer shows a practice (its
chain and its members' platform-chain entries), entries about psychotherapy notes included in
full, for an investigation or a legal request. Run by the operator, never from the web; the
export itself is recorded on the practice's chain (ids and counts)."""

from __future__ import annotations

import csv
import io
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from confide.audit import reports
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records import notes
from tests.records.chart_world import chart_world


def _export(tmp_path, *args: str) -> list[dict]:
    target = tmp_path / "export.csv"
    call_command("audit", "export", *args, "--output", str(target), stdout=io.StringIO())
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    return list(csv.DictReader(io.StringIO(target.read_text())))


def test_rec3_the_compliance_export_holds_entries_about_psychotherapy_notes_in_full(world, tmp_path):
    chart = chart_world(world.a)
    with tenant_context(practice_id=world.a.practice.id):
        notes.do_create_psychotherapy_note(actor=chart.actor(Role.CLINICIAN), patient_id=chart.patient.id, text="Private.")
    rows = _export(tmp_path, "--practice", world.a.practice.slug)
    about = [r for r in rows if "health.psychotherapy_notes" in r["categories"]]
    assert [r["event"] for r in about] == [AuditEvent.NOTE_CREATED, AuditEvent.CHART_OPENED]  # newest first
    assert {r["subject_id"] for r in about} == {str(chart.patient.id)}
    assert list(rows[0]) == list(reports.CSV_COLUMNS) and {r["chain"] for r in rows} <= {str(world.a.practice.id), "platform"}
    exported = AuditEntry.objects.filter(event=AuditEvent.LOG_EXPORTED, chain=str(world.a.practice.id)).get()
    assert exported.actor_kind == "system" and exported.detail == {"entries": len(rows), "author_only": 2}
    assert "Private." not in (tmp_path / "export.csv").read_text()


def test_the_export_takes_the_viewers_filters_and_refuses_bad_ones(world, tmp_path):
    rows = _export(tmp_path, "--practice", world.a.practice.slug, "--event", AuditEvent.CHAIN_STARTED.value)
    assert [r["event"] for r in rows] == [AuditEvent.CHAIN_STARTED]
    with pytest.raises(CommandError, match="no practice with slug 'nope'"):
        _export(tmp_path, "--practice", "nope")
    with pytest.raises(CommandError, match="date_to"):
        _export(tmp_path, "--practice", world.a.practice.slug, "--from", "2026-03-04", "--to", "2026-03-02")
    with pytest.raises(CommandError, match="exists"):
        _export(tmp_path, "--practice", world.a.practice.slug)  # export.csv is there already: never overwritten
