"""Query-planner statistics and the tenant-scoped composite indexes (confide/core/db/statistics.py).

Every tenant-scoped lookup must use the index that leads with practice_id and matches its other
terms, not the practice FK's own index (which scans the whole practice: one FHIR bundle took
214–233 ms at 10,000 patients that way). Checked on SQLite, whose planner made that choice; on
PostgreSQL a table this small is read sequentially whatever the indexes, so there the test checks
that the statistics command runs."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import call_command
from django.db import connection

from confide.core.tenancy import tenant_context
from confide.records.models import Patient, ProgressNote
from confide.vault.models import BlindIndexEntry

sqlite_only = pytest.mark.skipif("connection.vendor != 'sqlite'", reason="the SQLite planner's choice")


@sqlite_only
@pytest.mark.django_db
def test_migrate_leaves_statistics_for_the_planner():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert cursor.fetchone()[0] == 1


@sqlite_only
@pytest.mark.parametrize(
    "query, index",
    [
        (lambda: Patient.objects.filter(source_key="k" * 64).values_list("id"), "patient_source_key"),
        (lambda: BlindIndexEntry.objects.filter(subject_id=uuid.uuid4(), kind="name").values_list("digest"), "blind_index_subject_kind"),
        (lambda: Patient.objects.filter(is_active__in=[True]).order_by("-updated_at", "-id").values_list("id")[:25], "patient_list_recent"),
        (lambda: ProgressNote.objects.filter(patient_id=uuid.uuid4()).order_by("-created_at", "-id")[:21], "progress_note_by_patient"),
    ],
)
def test_tenant_scoped_lookups_use_the_composite_index_not_the_practice_index(world, query, index):
    with tenant_context(practice_id=world.a.practice.id):
        plan = query().explain()
    assert index in plan, plan
    if "list" in index or "note" in index:  # a page: read in the index's order, no sort of the whole practice
        assert "TEMP B-TREE" not in plan, plan


@pytest.mark.django_db(databases="__all__")
def test_confide_db_optimize_refreshes_the_statistics():
    out = io.StringIO()
    call_command("db", "optimize", stdout=out)
    assert "statistics refreshed" in out.getvalue() or "skipped" in out.getvalue()
