"""The fast canonical encoder (confide/audit/canonical.py) writes exactly the bytes of its
definition, json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True) of the normalised
values, for every value the database can hand back — and for the odd ones a tamperer can put
there: a hash that differed by one byte would make verify call every entry edited, or worse,
accept a changed one. Hypothesis draws rows typed as `values_list` returns them on SQLite and
PostgreSQL (aware UTC datetimes as either database gives them, naive and other-zone ones too,
UUIDs, nested JSON, any unicode including lone surrogates and control characters), and rows where
any field holds any kind of value."""

from __future__ import annotations

import datetime
import json
import uuid
import zoneinfo

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from confide.audit.canonical import encoder, reference
from confide.audit.chain import CONTENT_FIELDS, HASHED_FIELDS, canonical, content_canonical, entry_hash
from confide.audit.verify import ROW_FIELDS

nasty_text = st.text(st.characters(codec=None, categories=None), max_size=30) | st.sampled_from(
    ["", '"', "\\", "\\u0000", "\x00", "\x7f", "\u2028", "é", "\U0001f600", "\ud800", "</script>", '{"a":1}', "null"]
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | nasty_text
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4), max_leaves=12
)
zones = st.sampled_from([datetime.UTC, zoneinfo.ZoneInfo("UTC"), datetime.timezone(datetime.timedelta(hours=-5)),
                         zoneinfo.ZoneInfo("Europe/Berlin"), None])  # fmt: skip
datetimes = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30)),
    zones,
)
uuids = st.uuids() | st.none()
strings_list = st.lists(nasty_text, max_size=5)
TYPED = {
    "chain": nasty_text, "seq": st.integers(), "at": datetimes, "event": nasty_text, "practice_id": uuids,
    "actor_kind": nasty_text, "actor_id": nasty_text, "actor_role": nasty_text, "purpose": nasty_text, "subject_id": uuids,
    "resource_ids": strings_list | json_values, "categories": strings_list, "fields_changed": strings_list, "outcome": nasty_text,
    "reason": nasty_text, "flagged": st.booleans(), "detail": st.dictionaries(nasty_text, json_values, max_size=5) | st.just({}),
    "request_id": nasty_text, "ip_address": st.none() | nasty_text, "user_agent": nasty_text, "prev_hash": nasty_text,
}  # fmt: skip
assert set(TYPED) == set(HASHED_FIELDS)


def outcome(encode, values):
    """The bytes, or that it refused (what JSON cannot hold, the definition refuses: so must the
    encoder; which error comes first depends on which field is looked at first)."""
    try:
        return encode(values)
    except (TypeError, ValueError, OverflowError, AttributeError):
        return "refused"


def rows(fields, strategy_of):
    return st.tuples(*(strategy_of(name) for name in fields))


@pytest.mark.parametrize("fields", [HASHED_FIELDS, CONTENT_FIELDS], ids=["hashed", "content"])
@hsettings(max_examples=250, deadline=None)
@given(data=st.data())
def test_the_encoder_writes_the_definitions_bytes_for_database_values(fields, data):
    values = data.draw(rows(fields, TYPED.__getitem__))
    assert outcome(encoder(fields), values) == outcome(reference(fields), values)


@pytest.mark.parametrize("fields", [HASHED_FIELDS, CONTENT_FIELDS], ids=["hashed", "content"])
@hsettings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_encoder_agrees_whatever_kind_of_value_a_field_holds(fields, data):
    """A tampered row can hold anything anywhere (a dict in `categories`, a number in `event`)."""
    anything = json_values | datetimes | st.uuids() | st.builds(bytes) | st.tuples(st.integers())
    values = data.draw(rows(fields, lambda name: anything if name != "at" else datetimes | anything))
    assert outcome(encoder(fields), values) == outcome(reference(fields), values)


@hsettings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_content_encoder_over_a_verify_row_writes_the_content_definitions_bytes(data):
    """verify encodes a v2 entry's content straight from its row (ROW_FIELDS: seq, prev_hash and
    the hashes among the content fields), record() from the content values: the same bytes."""
    values = dict(zip(HASHED_FIELDS, data.draw(rows(HASHED_FIELDS, TYPED.__getitem__)), strict=True))
    row = tuple(values.get(name, "stored") for name in ROW_FIELDS)
    content = tuple(values[name] for name in CONTENT_FIELDS)
    from_row = outcome(encoder(CONTENT_FIELDS, layout=ROW_FIELDS), row)
    assert from_row == outcome(reference(CONTENT_FIELDS), content) == outcome(content_canonical, content)


def test_a_real_row_and_the_tricky_cases_by_hand():
    encode, slow = encoder(HASHED_FIELDS), reference(HASHED_FIELDS)
    row = dict.fromkeys(HASHED_FIELDS, "") | {
        "seq": 7, "at": datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC), "practice_id": uuid.UUID(int=1),
        "subject_id": None, "resource_ids": ["b", "a\u00e9"], "categories": [], "fields_changed": [1, "x"],
        "flagged": True, "detail": {"z": [1.5, {"y": None}], "a": "\ud800"}, "ip_address": None,
    }  # fmt: skip
    values = tuple(row[name] for name in HASHED_FIELDS)
    assert encode(values) == slow(values)
    assert json.loads(encode(values))["at"] == "2026-03-02T09:00:00.000000Z"
    assert encode((*values, "the stored hash")) == encode(values)  # a verify row carries its hash after the fields
    for year in (1, 999, 1000):  # strftime does not zero-pad %Y below 1000: the slow path keeps its output
        early = tuple(datetime.datetime(year, 5, 6, tzinfo=datetime.UTC) if name == "at" else row[name] for name in HASHED_FIELDS)
        assert encode(early) == slow(early)


def test_chain_canonical_takes_an_entry_or_a_row():
    from confide.audit.models import AuditEntry
    from confide.audit.verify import Row

    values = {name: "x" for name in HASHED_FIELDS} | {"seq": 1, "at": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), "flagged": False,
                                                       "resource_ids": [], "categories": [], "fields_changed": [], "detail": {}}  # fmt: skip
    entry, row = AuditEntry(**values), Row(**values, hash="h")
    assert canonical(entry) == canonical(row) == reference(HASHED_FIELDS)(tuple(values[name] for name in HASHED_FIELDS))
    assert entry_hash(entry) == entry_hash(row)


def test_fields_must_be_distinct_identifiers():
    with pytest.raises(ValueError, match="distinct identifiers"):
        encoder(("a", "a"))
    with pytest.raises(ValueError, match="distinct identifiers"):
        encoder(("a", "b) or __import__('os') or (c",))
