"""The canonical bytes every audit hash is computed over, built fast.

The definition (what an entry's hash commits to, and what any verifier in any language must
reproduce) is

    json.dumps({name: normalised(value) for name in fields}, sort_keys=True,
               separators=(",", ":"), ensure_ascii=True).encode()

where `normalised` turns `at` into "%Y-%m-%dT%H:%M:%S.%fZ" in UTC and a uuid.UUID into its
string; everything else (str, int, bool, None, JSON lists and dicts as decoded) as is.
`reference(fields)` is that definition, kept as the oracle of the property tests
(tests/audit/test_canonical.py).

`encoder(fields)` returns a function from a values tuple (in `fields` order, as `values_list`
returns it on SQLite and PostgreSQL; longer tuples are fine, the extra values are ignored) to the
same bytes, about ten times faster: `json.dumps(sort_keys=True)` per row was ~93% of the time of
`confide audit verify`. The keys are sorted once into one preallocated `%` template; each value
goes through the cheapest path that gives json's exact output: the C string escaper
(`encode_basestring_ascii`, what json itself calls) for strings, a join of escaped strings for a
list of strings, "{}" for an empty dict, a `%`-format for a UTC datetime; anything else (a
non-empty dict, a list holding non-strings, a float, a naive or non-UTC datetime, a year before
1000 where strftime does not pad) goes to json's own encoder, so an unusual (or tampered)
value costs more but never hashes differently.
"""

from __future__ import annotations

import datetime
import json
import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring_ascii

AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_UTC = datetime.UTC  # what Django hands back on SQLite
_ZONE_UTC = zoneinfo.ZoneInfo("UTC")  # what psycopg may hand back (ZoneInfo caches: one instance)
_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode  # ≡ json.dumps(...) with these options


def normalised(name: str, value):
    """A value as the canonical JSON holds it (the reference's one rule per type)."""
    if name == "at":
        return value.astimezone(datetime.UTC).strftime(AT_FORMAT)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def reference(fields: Sequence[str]) -> Callable[[Sequence], bytes]:
    """The definition, slowly: the oracle the fast encoder is tested against."""
    names = tuple(fields)

    def encode(values: Sequence) -> bytes:
        return json.dumps(
            {name: normalised(name, value) for name, value in zip(names, values)}, sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode()

    return encode


def json_value(value) -> str:
    """One value (not `at`) as json.dumps writes it inside the canonical object."""
    kind = type(value)  # most frequent first: strings, UUIDs, lists, None
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is _UUID:
        return _uuid_json(value)
    if value is None:
        return "null"
    if kind is list:
        if not value:
            return "[]"
        try:
            return "[" + ",".join(map(encode_basestring_ascii, value)) + "]"  # TypeError on a non-string item
        except TypeError:
            return _json(value)
    if kind is dict and not value:
        return "{}"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if isinstance(value, uuid.UUID):
        return encode_basestring_ascii(str(value))
    return _json(value)


_UUID = uuid.UUID
_uuid_texts: dict[int, str] = {}


def _uuid_json(value: uuid.UUID) -> str:
    """str(UUID) is Python code (~0.6 µs); a chain repeats its practice id in every entry and a
    patient's id in many, so the quoted text is remembered (a bounded dict, emptied when full),
    keyed by the UUID's int (UUID.__hash__ is Python code too). Only for uuid.UUID itself."""
    key = value.int
    text = _uuid_texts.get(key)
    if text is None:
        if len(_uuid_texts) >= 4096:
            _uuid_texts.clear()
        text = _uuid_texts[key] = '"' + str(value) + '"'
    return text


def at_value(value) -> str:
    """The `at` field: "%Y-%m-%dT%H:%M:%S.%fZ" in UTC, quoted. strftime costs ~2 µs, a `%`-format of
    the parts a third of that; they agree for a UTC datetime from year 1000 on (strftime's %Y is
    not zero-padded below it on glibc), so anything else takes the reference's path."""
    if type(value) is datetime.datetime and (value.tzinfo is _UTC or value.tzinfo is _ZONE_UTC) and value.year >= 1000:
        return '"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"' % (
            value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond,
        )  # fmt: skip
    return encode_basestring_ascii(value.astimezone(datetime.UTC).strftime(AT_FORMAT))


def encoder(fields: Sequence[str], layout: Sequence[str] | None = None) -> Callable[[Sequence], bytes]:
    """A function from a values tuple in `fields` order to the canonical bytes (see the module).
    `layout`: the tuple holds these names in this order instead, `fields` among them; only
    `fields` are encoded (verify encodes a v2 entry's content straight from its row, which also
    holds seq, prev_hash and the hashes)."""
    names = tuple(fields)
    if len(set(names)) != len(names) or not all(isinstance(name, str) and name.isidentifier() for name in names):
        raise ValueError(f"fields must be distinct identifiers: {names!r}")
    layout = tuple(layout) if layout is not None else names
    if not set(names) <= set(layout) or len(set(layout)) != len(layout):
        raise ValueError(f"the layout must hold every field once: {layout!r}")
    order = sorted(range(len(names)), key=names.__getitem__)
    template = "{" + ",".join(f"{encode_basestring_ascii(names[i])}:%s" for i in order) + "}"
    parts = []
    for i in order:
        v = f"v[{layout.index(names[i])}]"
        if names[i] == "at":
            parts.append(f"_at({v})")
        else:  # inlined: most values are strings, and a call saved per field is ~5% of the row
            parts.append(f"(_s({v}) if type({v}) is _str else _value({v}))")
    # Generated once per field list (a handful per process), from identifiers only: one
    # expression with no loop and no per-field dispatch left to do at run time.
    source = f"def encode(v):\n    return ({template!r} % ({', '.join(parts)},)).encode('ascii')\n"
    namespace = {"_s": encode_basestring_ascii, "_str": str, "_value": json_value, "_at": at_value}
    exec(compile(source, f"<canonical encoder of {len(names)} fields>", "exec"), namespace)  # noqa: S102 — names checked above
    encode = namespace["encode"]
    encode.fields = names
    return encode
