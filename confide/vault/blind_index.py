"""Blind indexes: exact search over encrypted values without decrypting them.

A blind index entry is HMAC-SHA256(practice index key, kind ‖ normalised value), truncated to
128 bits (32 hex characters). What it leaks, to someone who can read the database but not the
keyring: which rows share a value of the same kind within one practice (equality), and how
many tokens a name has. It does not leak the value, and the same value in two practices gives
unrelated digests (per-practice keys). Truncation to 128 bits keeps collisions negligible.

Normalisation: email — trimmed, lower-cased; phone — E.164 via `phonenumbers` (the
installation's region, CONFIDE_PHONE_REGION, for numbers written without a country code); date
of birth — ISO date; name — each token case-folded with diacritics removed.

Name prefixes (kind `name_prefix`): each name token is also indexed by its first 1..PREFIX_MAX
characters, so "mar quin" finds Marisol Quintero, under a key of its own (derived from the
index key for this purpose only), so a prefix digest can never equal an exact-name digest.
What they add to the leakage, for someone with the database but not the keyring: which
patients share a name prefix of each length (all the "M…" patients form one group, the
"Ma…" a smaller one), and the length of each token (the number of prefix entries). Never the
letters themselves: the groups are unlabelled keyed hashes, per practice. docs/architecture.md
("Finding a patient") has the whole analysis.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import unicodedata
import uuid

import phonenumbers
from django.conf import settings

from confide.vault import keys
from confide.vault.models import BlindIndexEntry

KINDS = ("email", "phone", "dob", "name", "name_prefix")
# Prefixes of a name token are indexed up to this length; a longer query token is cut to it
# (sixteen letters in common is as good as the same name for a search box).
PREFIX_MAX = 16
_PREFIX_KEY_LABEL = b"confide blind index: name prefixes v1"


def phone_region() -> str:
    """The region a phone number written without its country code belongs to (ISO 3166 code)."""
    return getattr(settings, "CONFIDE_PHONE_REGION", "US")


class NotSearchable(ValueError):
    """The value cannot be normalised for its kind (e.g. not a phone number)."""


def normalise_email(value: str) -> str:
    value = value.strip().lower()
    if "@" not in value or value.startswith("@") or value.endswith("@"):
        raise NotSearchable("not an email address")
    return value


def normalise_phone(value: str, region: str | None = None) -> str:
    try:
        number = phonenumbers.parse(value, region or phone_region())
    except phonenumbers.NumberParseException:
        raise NotSearchable("not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise NotSearchable("not a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_dob(value) -> str:
    if isinstance(value, datetime.date):
        return value.isoformat()
    try:
        return datetime.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise NotSearchable("not a date (YYYY-MM-DD)") from None


def name_tokens(value: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    cleaned = "".join(ch if ch.isalnum() else " " for ch in folded)
    return sorted({token for token in cleaned.split() if token})


def name_prefixes(value: str) -> list[str]:
    """Every prefix of 1..PREFIX_MAX characters of every name token."""
    return sorted({token[:n] for token in name_tokens(value) for n in range(1, min(len(token), PREFIX_MAX) + 1)})


def prefix_query_tokens(value: str) -> list[str]:
    """A search box's name tokens as prefixes: each cut to PREFIX_MAX characters."""
    return sorted({token[:PREFIX_MAX] for token in name_tokens(value)})


def tokens(kind: str, value) -> list[str]:
    if kind == "email":
        return [normalise_email(value)]
    if kind == "phone":
        return [normalise_phone(value)]
    if kind == "dob":
        return [normalise_dob(value)]
    if kind == "name":
        return name_tokens(value)
    if kind == "name_prefix":
        return name_prefixes(value)
    raise ValueError(f"unknown blind index kind {kind}")


def _key(practice_id: uuid.UUID, kind: str) -> bytes:
    key = keys.index_key(practice_id)
    if kind == "name_prefix":  # a key of its own: HMAC(index key, label), a one-step KDF
        return hmac.new(key, _PREFIX_KEY_LABEL, hashlib.sha256).digest()
    return key


def digest(practice_id: uuid.UUID, kind: str, token: str) -> str:
    mac = hmac.new(_key(practice_id, kind), f"{kind}\x1f{token}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def source_keyer(practice_id: uuid.UUID):
    """A function text → HMAC-SHA256(practice index key, text) in 64 hex characters.

    For where an imported record came from (`fhir:<system>:<type>/<id>`): Patient.source_key
    and each clinical item's source_key hold this, never the source's own id, so re-importing
    finds the same rows while the database holds no identifier of the other system. The index
    key is unwrapped once here (outside an allowance nothing caches it), not once per item.
    Not a blind index entry: no kind prefix, and the messages ("fhir:…") cannot collide with one
    ("<kind>\\x1f<token>")."""
    key = keys.index_key(practice_id)

    def keyed(text: str) -> str:
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()

    return keyed


def replace_entries(practice_id: uuid.UUID, subject_id: uuid.UUID, kind: str, values: list) -> None:
    """Make the subject's entries of `kind` exactly those of `values` (None/blank ignored)."""
    digests = set()
    for value in values:
        if value in (None, ""):
            continue
        try:
            digests.update(digest(practice_id, kind, token) for token in tokens(kind, value))
        except NotSearchable:
            continue  # unsearchable values are still stored (encrypted), just not indexed
    BlindIndexEntry.objects.filter(subject_id=subject_id, kind=kind).exclude(digest__in=digests).delete()
    existing = set(BlindIndexEntry.objects.filter(subject_id=subject_id, kind=kind).values_list("digest", flat=True))
    BlindIndexEntry.objects.bulk_create(
        [BlindIndexEntry(practice_id=practice_id, subject_id=subject_id, kind=kind, digest=d) for d in digests - existing]
    )


def search(practice_id: uuid.UUID, kind: str, query) -> set[uuid.UUID]:
    """Subjects whose indexed values of `kind` match `query` (all tokens, for names; for
    `name_prefix`, every token of the query begins a name token of the subject)."""
    query_tokens = prefix_query_tokens(query) if kind == "name_prefix" else tokens(kind, query)
    if not query_tokens:
        return set()
    result: set[uuid.UUID] | None = None
    for token in query_tokens:
        matches = set(
            BlindIndexEntry.objects.filter(kind=kind, digest=digest(practice_id, kind, token)).values_list(
                "subject_id", flat=True
            )
        )
        result = matches if result is None else result & matches
    return result or set()


def classify(query: str) -> str:
    """Guess what a free-text search box holds: email, dob, phone or name."""
    text = query.strip()
    if "@" in text:
        return "email"
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
        return "dob"
    digits = sum(ch.isdigit() for ch in text)
    if digits >= 7 and digits >= len(text.replace(" ", "")) * 0.6:
        return "phone"
    return "name"
