"""verify streams raw driver rows (`verify.stream_rows`), not `values_list`'s: Django's per-row
converters cost twice the driver's own fetch. The rows must hash exactly as `values_list` rows do
and carry the same values for the walk's checks, on both databases — for what `record()` writes
and, on SQLite (where a column holds whatever it is given), for odd values written behind the
application's back: an upper-case or dashed UUID, a time without microseconds or with an offset,
JSON of another shape, a flag of 2."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from django.db.models import F, Q

from confide.audit.chain import HASHED_FIELDS, canonical, record, seal, system_actor
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.audit.scope import chain_scope
from confide.audit.verify import ROW_FIELDS, stream_rows
from tests.audit.conftest import new_chain, sqlite_triggers_dropped

assert ROW_FIELDS == (*HASHED_FIELDS, "hash", "content_hash", "id")  # what verify's walk indexes
WALKED = [ROW_FIELDS.index(name) for name in ("seq", "at", "event", "detail", "prev_hash", "hash", "content_hash", "id")]


def _both(chain: str, **bounds):
    with chain_scope(chain):
        fast = list(stream_rows(chain, 3, **bounds))  # chunks of 3: the batches join up
        sealed = Q(seq__isnull=False)
        if bounds.get("lo") is not None:
            sealed &= Q(seq__gte=bounds["lo"])
        if bounds.get("hi") is not None:
            sealed &= Q(seq__lt=bounds["hi"])
        # the tail (no hi) ends with the unsealed entries, by id, on both databases
        query = AuditEntry.objects.filter(Q(chain=chain) & (sealed | Q(seq__isnull=True)) if bounds.get("hi") is None else Q(chain=chain) & sealed)
        slow = list(query.order_by(F("seq").asc(nulls_last=True), "id").values_list(*ROW_FIELDS))
    return fast, slow


def _assert_same(fast, slow):
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert canonical(a) == canonical(b)
        assert [a[i] for i in WALKED] == [b[i] for i in WALKED]


def _entries(chain: str, n: int) -> None:
    for i in range(n):
        record(AuditEvent.CHART_OPENED, practice_id=chain, actor=system_actor(f"w{i}"), purpose="treatment",
               subject_id=uuid.uuid4() if i % 2 else None, resource_ids=[str(uuid.uuid4()), "é\u2028"], categories=["contact.phone"],
               fields_changed=["phone"] if i % 3 else [], detail={"n": i, "nested": {"z": [1, 2.5, None, "\U0001f600"]}} if i % 4 else {})  # fmt: skip


def test_raw_rows_hash_and_walk_as_values_list_rows(db):
    chain = new_chain()
    _entries(chain, 10)
    seal(chain)
    fast, slow = _both(chain)
    _assert_same(fast, slow)
    assert [row[1] for row in fast] == list(range(1, 11))
    _assert_same(*_both(chain, lo=3, hi=8))
    assert [row[1] for row in _both(chain, lo=3, hi=8)[0]] == [3, 4, 5, 6, 7]


def test_the_tail_ends_with_the_unsealed_entries_by_id_on_both_databases(db):
    """SQLite sorts NULL first, PostgreSQL last: verify's walk needs them last (after the sealed
    entries it checks in seq order), in a segment that reads the tail as in a single pass."""
    chain = new_chain()
    _entries(chain, 5)
    seal(chain)
    _entries(chain, 3)  # written after the seal: unsealed
    fast, slow = _both(chain)
    _assert_same(fast, slow)
    seq_at, id_at = ROW_FIELDS.index("seq"), ROW_FIELDS.index("id")
    assert [row[seq_at] for row in fast] == [1, 2, 3, 4, 5, None, None, None]
    assert [row[id_at] for row in fast[5:]] == sorted(row[id_at] for row in fast[5:])
    assert [row[seq_at] for row in _both(chain, lo=4)[0]] == [4, 5, None, None, None]
    assert [row[seq_at] for row in _both(chain, lo=2, hi=4)[0]] == [2, 3]  # a segment with an end holds sealed entries only


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite: a column holds whatever it is given")
@pytest.mark.parametrize(
    "edit",
    [
        "practice_id = upper(practice_id)",
        "subject_id = '12345678-1234-5678-1234-567812345678'",
        "at = '2026-03-02 09:00:00'",
        "at = '2026-03-02 09:00:00.5+02:00'",
        "detail = '\"a string\"'",
        "resource_ids = '[1, {\"b\": 2, \"a\": [true]}]'",
        "flagged = 2",
        "ip_address = NULL",
    ],
)
def test_odd_stored_values_read_the_same(db, edit):
    chain = new_chain()
    _entries(chain, 4)
    seal(chain)
    with sqlite_triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE audit_auditentry SET {edit} WHERE chain = %s AND seq = 2", [chain])
    _assert_same(*_both(chain))
