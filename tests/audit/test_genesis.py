"""AUD2: every practice has a chain from the moment it exists: its genesis entry is written in the
practice's creation transaction, so a practice whose chain was deleted whole is a failure of
`confide audit verify` (tests/audit/test_verify_loud.py), not a practice nobody checks.

Practices made before genesis entries existed get one from the data migration
(audit 0004): at seq 1 of an empty chain, or appended to a chain that had entries already,
saying how many came before it."""

from __future__ import annotations

import importlib
from unittest import mock

import pytest
from django.apps import apps
from django.db import connection, transaction

from confide.audit.chain import PLATFORM_CHAIN, record
from confide.audit.events import AuditEvent
from confide.audit.models import GENESIS, AuditEntry, ChainHead
from confide.audit.verify import verify_chain
from confide.audit.verify import stream_rows
from confide.core.models import Practice
from tests.audit.conftest import ON_POSTGRES, sqlite_triggers_dropped
from tests.audit.sealing import sealed
from tests.factories import PracticeFactory

genesis_migration = importlib.import_module("confide.audit.migrations.0004_chain_genesis")


def _chain(practice) -> list[AuditEntry]:
    from confide.audit.chain import seal

    seal(str(practice.id))
    return list(AuditEntry.objects.filter(chain=str(practice.id)).order_by("seq"))


def test_aud2_a_new_practice_starts_its_chain_with_a_genesis_entry(db):
    practice = PracticeFactory(slug="genesis")
    [entry] = _chain(practice)
    assert (entry.seq, entry.event, entry.prev_hash, entry.practice_id) == (1, AuditEvent.CHAIN_STARTED, GENESIS, practice.id)
    assert (entry.actor_kind, entry.actor_id, entry.subject_id, entry.resource_ids, entry.detail) == ("system", "practice-setup", None, [], {})
    head = ChainHead.objects.get(chain=str(practice.id))
    assert (head.seq, head.hash) == (1, entry.hash)


def test_the_genesis_entry_commits_or_rolls_back_with_the_practice(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        practice = PracticeFactory(slug="rolled-back")
        raise RuntimeError("the practice's creation failed")
    assert not Practice.objects.filter(slug="rolled-back").exists()
    assert not AuditEntry.objects.filter(chain=str(practice.id)).exists()
    # And the other way round: no practice without its genesis entry, even created in autocommit.
    with mock.patch("confide.audit.chain.start_chain", side_effect=RuntimeError("the log is unwritable")):
        with pytest.raises(RuntimeError, match="unwritable"):
            Practice.objects.create(slug="no-chain", name="No chain")
    assert not Practice.objects.filter(slug="no-chain").exists()


def test_a_practice_saved_again_gets_no_second_genesis(db):
    practice = PracticeFactory(slug="saved-twice")
    practice.name = "Renamed"
    practice.save()
    assert [e.event for e in _chain(practice)] == [AuditEvent.CHAIN_STARTED]


@pytest.mark.skipif(ON_POSTGRES, reason="0004 ran before audit 0007, whose triggers refuse its sealed inserts: SQLite drops them in the test's transaction")
def test_the_data_migration_starts_the_chain_of_every_practice_that_has_none(db):
    # bulk_create sends no post_save: practices as they were before genesis entries existed.
    empty, busy = Practice.objects.bulk_create([Practice(slug="legacy-empty", name="E"), Practice(slug="legacy-busy", name="B")])
    with sqlite_triggers_dropped():  # the schema as 0004 found it: sealed inserts, entries in the format before 0007
        for _ in range(3):
            _legacy_append(str(busy.id))
        genesis_migration.start_chains(apps, connection.schema_editor())
        genesis_migration.start_chains(apps, connection.schema_editor())  # a second run (migrate back and forth) adds nothing

    [first] = _chain(empty)
    assert (first.seq, first.event, first.detail) == (1, AuditEvent.CHAIN_STARTED, {})
    busy_chain = _chain(busy)
    assert [e.event for e in busy_chain] == [AuditEvent.CHART_OPENED] * 3 + [AuditEvent.CHAIN_STARTED]
    assert busy_chain[-1].detail == {"existing_entries": 3} and busy_chain[-1].prev_hash == busy_chain[-2].hash
    for practice in (empty, busy):
        head = ChainHead.objects.get(chain=str(practice.id))
        report = verify_chain(str(practice.id), stream_rows(str(practice.id)), head=(head.seq, head.hash), practice=True)
        assert report.ok, report.problems


def _legacy_append(chain: str) -> None:
    """An entry as record() wrote it before audit 0007: sealed at insert, its hash over every field."""
    from django.utils import timezone

    from confide.audit.chain import entry_hash

    head, _ = ChainHead.objects.get_or_create(chain=chain)
    entry = AuditEntry(chain=chain, seq=head.seq + 1, at=timezone.now(), event=AuditEvent.CHART_OPENED.value, practice_id=chain,
                       actor_kind="anonymous", prev_hash=head.hash)  # fmt: skip
    entry.hash = entry_hash(entry)
    entry.save(force_insert=True)
    ChainHead.objects.filter(chain=chain).update(seq=entry.seq, hash=entry.hash)


def test_the_platform_chain_needs_no_genesis(db):
    entry = sealed(record(AuditEvent.SIGNIN_FAILED))
    report = verify_chain(PLATFORM_CHAIN, stream_rows(PLATFORM_CHAIN), head=(entry.seq, entry.hash))
    assert report.ok, report.problems
