"""AUD2: `confide audit verify` fails loudly (exit 1) where it used to say OK.

* a practice whose whole chain (entries and chain head) was deleted: every practice's chain
  begins with a genesis entry when the practice is created, and verify cross-checks every
  practice against the chains;
* a chain deleted and begun again: its first entry is not the genesis entry;
* a missing or unreadable checkpoint sink (unless `--allow-missing-checkpoints`);
* checkpoints deleted and `checkpoint_seq` reset: entries older than the seal window (twice
  CONFIDE_AUDIT_CHECKPOINT_MINUTES: the task worker seals a tail within one) that no checkpoint
  covers;
* a rewrite with recomputed hashes is named at the first entry that differs from the state the
  checkpoint recorded, not at the checkpoint.

SQLite here, inside the test's transaction with the triggers dropped (tests/audit/conftest.py);
the PostgreSQL versions, with committed rows tampered with by the owning role, are in
tests/audit/test_verify_loud_postgres.py.
"""

from __future__ import annotations

import datetime
import io
import shutil

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from confide.audit.chain import content_hash, content_values, record, seal, sealed_hash
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry, ChainHead
from tests.audit.conftest import ON_POSTGRES, parse_failure, sqlite_triggers_dropped
from tests.audit.test_verify import verify_command
from tests.factories import PracticeFactory

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="SQLite pass: tests/audit/test_verify_loud_postgres.py is the PostgreSQL one")


def _sql(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _practice_with_entries(slug: str, n: int, capture) -> str:
    """A committed-looking practice chain: its genesis entry, then n openings."""
    with capture(execute=True):
        practice = PracticeFactory(slug=slug)
        for _ in range(n):
            record(AuditEvent.CHART_OPENED, practice_id=practice.id, purpose="treatment")
        seal(str(practice.id))  # the sealer's pass, committed with them
    return str(practice.id)


def _later(minutes: int):
    return time_machine.travel(timezone.now() + datetime.timedelta(minutes=minutes), tick=False)


def test_aud2_a_practice_whose_whole_chain_was_deleted_fails_verify(db, sink_dir, django_capture_on_commit_callbacks):
    chain = _practice_with_entries("gone", 3, django_capture_on_commit_callbacks)
    assert verify_command()[0] == 0
    with transaction.atomic():
        with sqlite_triggers_dropped():
            _sql("DELETE FROM audit_auditentry WHERE chain = %s", [chain])
            _sql("DELETE FROM audit_chainhead WHERE chain = %s", [chain])
        code, output = verify_command()
        transaction.set_rollback(True)
    failure = parse_failure(output).get(chain)
    assert code == 1 and failure, output
    assert (failure["seq"], failure["kind"]) == (1, "deleted") and "(gone)" in failure["line"] and "no audit chain" in failure["line"]


def test_aud2_a_chain_deleted_and_begun_again_has_no_genesis_and_fails_verify(db, sink_dir, django_capture_on_commit_callbacks):
    chain = _practice_with_entries("restarted", 3, django_capture_on_commit_callbacks)
    with transaction.atomic():
        with sqlite_triggers_dropped():
            _sql("DELETE FROM audit_auditentry WHERE chain = %s", [chain])
            _sql("DELETE FROM audit_chainhead WHERE chain = %s", [chain])
        record(AuditEvent.CHART_OPENED, practice_id=chain)  # the application carries on: a new seq 1
        code, output = verify_command("--chain", chain)
        transaction.set_rollback(True)
    failure = parse_failure(output).get(chain)
    assert code == 1 and failure and (failure["seq"], failure["kind"]) == (1, "genesis"), output


def test_aud2_a_deleted_checkpoint_sink_fails_verify_unless_allowed(db, settings, sink_dir, django_capture_on_commit_callbacks):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 2
    _practice_with_entries("sinkless", 5, django_capture_on_commit_callbacks)
    assert verify_command()[0] == 0
    shutil.rmtree(sink_dir)
    code, output = verify_command()
    assert code == 1 and f"FAIL checkpoint sink directory {sink_dir}: missing" in output, output
    code, output = verify_command("--allow-missing-checkpoints")
    assert code == 0 and f"WARNING checkpoint sink directory {sink_dir}: missing" in output and "OK " in output, output


def test_aud2_a_full_rewrite_under_a_deleted_sink_fails_verify(db, settings, sink_dir, django_capture_on_commit_callbacks):
    """The report's case: the sink gone and the chain rewritten with recomputed hashes."""
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 2
    chain = _practice_with_entries("rewritten", 5, django_capture_on_commit_callbacks)
    shutil.rmtree(sink_dir)
    with transaction.atomic():
        with sqlite_triggers_dropped():
            _rewrite_from(chain, 3)
        code, output = verify_command()
        transaction.set_rollback(True)
    assert code == 1 and "FAIL checkpoint sink" in output, output


def test_aud2_an_unreadable_checkpoint_sink_fails_verify(db, settings, sink_dir, tmp_path, django_capture_on_commit_callbacks):
    _practice_with_entries("unreadable", 1, django_capture_on_commit_callbacks)
    not_a_directory = tmp_path / "not-a-directory"
    not_a_directory.write_text("")
    settings.CONFIDE_AUDIT_CHECKPOINT_DIR = not_a_directory
    code, output = verify_command()
    assert code == 1 and f"FAIL checkpoint sink directory {not_a_directory}: not a directory" in output, output


def test_aud2_checkpoints_deleted_and_checkpoint_seq_reset_fail_verify_once_the_seal_window_has_passed(
    db, settings, sink_dir, django_capture_on_commit_callbacks
):
    """Checkpoints at 4, 8 and 12; the tail cut back to 8, the checkpoints at 8 and 12 deleted,
    the head's checkpoint_seq reset to 4: nothing in the database says what is gone. Entries 5..8
    are older than the seal window and covered by no checkpoint, which the worker would have written."""
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 4
    settings.CONFIDE_AUDIT_CHECKPOINT_MINUTES = 10
    chain = _practice_with_entries("reset", 11, django_capture_on_commit_callbacks)  # genesis + 11: seq 1..12
    with transaction.atomic():
        with sqlite_triggers_dropped():
            _sql("DELETE FROM audit_auditentry WHERE chain = %s AND seq > 8", [chain])
            eighth = AuditEntry.objects.get(chain=chain, seq=8).hash
            _sql("UPDATE audit_chainhead SET seq = 8, hash = %s, checkpoint_seq = 4 WHERE chain = %s", [eighth, chain])
        for seq in (8, 12):
            path = sink_dir / chain / f"{seq:012d}.json"
            path.chmod(0o644)
            path.unlink()
        within = verify_command("--chain", chain)
        with _later(21):
            code, output = verify_command("--chain", chain)
            allowed = verify_command("--chain", chain, "--allow-missing-checkpoints")
        transaction.set_rollback(True)
    assert within[0] == 0, within  # inside the window a tail may be unsealed: the limit, stated in docs/operations.md
    failure = parse_failure(output).get(chain)
    assert code == 1 and failure and (failure["seq"], failure["kind"]) == (5, "unsealed"), output
    assert allowed[0] == 0, allowed


def test_an_old_tail_no_checkpoint_covers_fails_verify_until_it_is_sealed(db, settings, sink_dir, django_capture_on_commit_callbacks):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 1000
    settings.CONFIDE_AUDIT_CHECKPOINT_MINUTES = 10
    chain = _practice_with_entries("sealed", 3, django_capture_on_commit_callbacks)
    with _later(21):
        code, output = verify_command("--chain", chain)
    assert code == 1 and parse_failure(output)[chain]["kind"] == "unsealed", output
    call_command("audit", "checkpoint", "--chain", chain, stdout=io.StringIO())
    with _later(21):
        assert verify_command("--chain", chain) == (0, "OK 4 entries, 1 checkpoints\n")


def _rewrite_from(chain: str, first: int) -> None:
    """Edit entry `first` and recompute the hash and link of it and of every entry after it."""
    entries = list(AuditEntry.objects.filter(chain=chain).order_by("seq"))
    prev = entries[first - 2].hash if first > 1 else "0" * 64
    for entry in entries[first - 1 :]:
        if entry.seq == first:
            entry.outcome = "denied"
        entry.prev_hash = prev
        entry.content_hash = content_hash(content_values(entry))
        entry.hash = sealed_hash(entry)
        _sql("UPDATE audit_auditentry SET outcome = %s, content_hash = %s, prev_hash = %s, hash = %s WHERE id = %s",
             [entry.outcome, entry.content_hash, entry.prev_hash, entry.hash, entry.id])  # fmt: skip
        prev = entry.hash
    _sql("UPDATE audit_chainhead SET hash = %s WHERE chain = %s", [prev, chain])


def test_aud2_a_rewrite_is_named_at_the_first_entry_that_differs_from_the_checkpointed_state(
    db, settings, sink_dir, django_capture_on_commit_callbacks
):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 5
    chain = _practice_with_entries("pinpoint", 11, django_capture_on_commit_callbacks)  # seq 1..12, checkpoints at 5 and 10
    with transaction.atomic():
        with sqlite_triggers_dropped():
            _rewrite_from(chain, 7)
        code, output = verify_command("--chain", chain)
        transaction.set_rollback(True)
    failure = parse_failure(output).get(chain)
    assert code == 1 and failure and (failure["seq"], failure["kind"]) == (7, "rewritten"), output
    assert "checkpoint at seq 10" in failure["line"]


def test_verbose_verify_names_every_practice_chain(db, sink_dir, django_capture_on_commit_callbacks):
    """Every practice is cross-checked, each chain in one streamed walk."""
    chains = [_practice_with_entries(f"many-{n}", 2, django_capture_on_commit_callbacks) for n in range(3)]
    out = io.StringIO()
    call_command("audit", "verify", verbosity=2, stdout=out)
    assert all(f"ok chain {chain} (many-" in out.getvalue() for chain in chains), out.getvalue()
    assert ChainHead.objects.filter(chain__in=chains, seq=3).count() == 3
