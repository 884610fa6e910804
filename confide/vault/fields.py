"""Encrypted model fields.

Each field declares its data category; its value is stored as

    cv1:<scope>:<key version>:<base64 Tink ciphertext>

where scope is `s` (the row's data subject's key) or `p` (the practice's key), and the
associated data binds table, column, row id and subject, so a ciphertext copied to another
row or column fails to open. Reading the attribute outside an allowance for the category
raises PHIAccessDenied; a shredded subject reads as ERASED. Filtering, lookups and ordering
on these columns are refused: search goes through blind indexes.

A value is decrypted once per model instance and attribute, and the allowance is checked on
every read: the plaintext is remembered on the instance (`_Memo`) next to the ciphertext it
came from, and handed out again only inside an allowance that permits it and while vault.keys
still holds the subject's key (so a shred reads as ERASED at once). Assigning the attribute,
`refresh_from_db`, or any code that puts another ciphertext in place makes the next read open
afresh. The work that does not depend on the value is done once: the associated data's table
and column per field, the ids' text per instance; the key comes from the allowance's cache.
"""

from __future__ import annotations

import datetime
import json
import logging

import pybase64
import tink
from django.core.exceptions import FieldError
from django.db import models
from django.utils.functional import cached_property

from confide.vault import allowance, keys
from confide.vault.errors import DecryptionFailed, RefusedOperation

logger = logging.getLogger(__name__)
PREFIX = "cv1"


class Erased(str):
    """What a crypto-shredded value reads as: a clear placeholder, never a crash."""

    def __new__(cls):
        return super().__new__(cls, "[erased]")

    def __bool__(self) -> bool:  # "if patient.email:" treats erased like absent
        return False


ERASED = Erased()


def is_erased(value) -> bool:
    return isinstance(value, Erased)


class Sealed(str):
    """Ciphertext as loaded from the database, not yet opened."""


class _Memo:
    """The vault's per-instance work, kept on the instance under MEMO: the ids as text (the
    allowance compares the subject's), the id part of the associated data, and each attribute's
    opened plaintext. Every entry remembers the very objects it was computed from and is used
    only while the instance still holds those same objects (`is`): assigning an attribute,
    `refresh_from_db`, rotation or a subject move replace them, so nothing here goes stale.
    A pickled or copied instance gets an empty memo: opened plaintext never travels."""

    __slots__ = ("texts", "ids", "opened")

    def __init__(self):
        self.texts: dict = {}  # id(an id object) -> (that object, str of it)
        self.ids: dict = {}  # subject attname (practice_id: practice scope) -> (pk, subject, b"<pk>\x1f<subject>")
        self.opened: dict = {}  # field attname -> (the Sealed object, pk, subject, scope, key version, value or bytes)

    def __reduce__(self):
        return (_Memo, ())

    def __copy__(self):
        return _Memo()

    def __deepcopy__(self, memo):
        return _Memo()


MEMO = "_vault_memo"


def _memo(instance) -> _Memo:
    memo = instance.__dict__.get(MEMO)
    if memo is None:
        memo = instance.__dict__[MEMO] = _Memo()
    return memo


def _text(memo: _Memo, value) -> str | None:
    """str(value), made once per instance and object: a patient's id is its own subject, so the
    allowance check and the associated data share one UUID's text."""
    known = memo.texts.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    text = None if value is None else str(value)
    memo.texts[id(value)] = (value, text)  # holding `value` keeps its id from being reused
    return text


def _attr(instance, attname: str):
    """instance.<attname>, from the instance's dict when it is there: a foreign key's id
    (`patient_id`, `practice_id`) is otherwise read through Django's descriptor, which costs
    more than the rest of a cached read."""
    value = instance.__dict__.get(attname)
    return value if value is not None else getattr(instance, attname, None)


class EncryptedDescriptor:
    """Reads check the allowance every time; the ciphertext is opened once per instance and
    attribute, and later reads return that plaintext only while the subject's key is still
    live (`keys.subject_aead` answers, so a shred or a retired version reads as it always did)."""

    def __init__(self, field: EncryptedField):
        self.field = field
        self.attname = field.attname

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__.get(self.attname)
        if value is None:
            return None
        field = self.field
        memo = instance.__dict__.get(MEMO) or _memo(instance)
        allowance.require(field.category, field._subject_text(instance, memo))
        if isinstance(value, Sealed):
            return field._read(instance, value, memo)
        return value

    def __set__(self, instance, value):
        instance.__dict__[self.attname] = value
        memo = instance.__dict__.get(MEMO)
        if memo is not None:
            memo.opened.pop(self.attname, None)


class EncryptedField(models.TextField):
    scope = "s"
    refuses_ordering = True  # read by TenantQuerySet.order_by
    # Whether a read may hand out the opened value itself. JSON values are mutable lists and
    # dicts: sharing one between reads would let a caller's in-place edit show in later reads
    # without ever being saved, so those fields keep the plaintext bytes and decode per read.
    shares_value = True

    def __init__(self, *args, category: str, subject_field: str = "id", scope: str = "s", **kwargs):
        if not category or "." not in category:
            raise ValueError("an encrypted field declares a data category such as 'contact.email'")
        self.category = category
        self.subject_field = subject_field
        self.scope = scope
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["category"] = self.category
        if self.subject_field != "id":
            kwargs["subject_field"] = self.subject_field
        if self.scope != "s":
            kwargs["scope"] = self.scope
        return name, path, args, kwargs

    def contribute_to_class(self, cls, name, private_only=False):
        super().contribute_to_class(cls, name, private_only)
        setattr(cls, self.attname, EncryptedDescriptor(self))

    def subject_of(self, instance):
        """The data subject a value belongs to (checked against a subject-bound allowance)."""
        return getattr(instance, self.subject_field, None)

    def _subject_text(self, instance, memo: _Memo):
        """str(subject), as the allowance compares it, made once per instance and subject."""
        return _text(memo, _attr(instance, self.subject_field))

    # --- serialisation of plaintext, overridden per type --------------------------------------
    def to_bytes(self, value) -> bytes:
        return str(value).encode()

    def from_bytes(self, raw: bytes):
        return raw.decode()

    # --- crypto ---------------------------------------------------------------------------------
    # The hot path (a chart read opens tens of values) is kept flat: per field the associated
    # data's prefix, per instance the rest of it, per attribute the plaintext; the key comes
    # from the allowance's cache in vault.keys every time.
    @cached_property
    def _ad_prefix(self) -> bytes:
        # Computed on first use, when the model's table and the column are final.
        return f"{self.model._meta.db_table}\x1f{self.column}\x1f".encode()

    @cached_property
    def _pk_attname(self) -> str:
        return self.model._meta.pk.attname

    @cached_property
    def _bound_attname(self) -> str:
        """The attribute the associated data binds as subject: the practice, for practice scope."""
        return self.subject_field if self.scope == "s" else "practice_id"

    def _ad(self, memo: _Memo, pk, bound) -> bytes:
        """table \x1f column \x1f row id \x1f subject; the ids' text made once per instance."""
        known = memo.ids.get(self._bound_attname)
        if known is None or known[0] is not pk or known[1] is not bound:
            known = memo.ids[self._bound_attname] = (pk, bound, f"{_text(memo, pk)}\x1f{_text(memo, bound)}".encode())
        return self._ad_prefix + known[2]

    def _key(self, instance, scope: str, version: int | None) -> tuple[int, object]:
        """(key version, AEAD), asked of vault.keys for every value: its allowance cache makes
        that a dictionary lookup, and keys alone decides whether the key is still live."""
        if scope == "s":
            return keys.subject_aead(_attr(instance, "practice_id"), _attr(instance, self.subject_field), version)
        return 0, keys.practice_aead(_attr(instance, "practice_id"))

    def seal(self, instance, value) -> str:
        version, primitive = self._key(instance, self.scope, None)
        ad = self._ad(_memo(instance), _attr(instance, self._pk_attname), _attr(instance, self._bound_attname))
        ciphertext = primitive.encrypt(self.to_bytes(value), ad)
        return f"{PREFIX}:{self.scope}:{version}:{pybase64.b64encode_as_string(ciphertext)}"

    def _parse(self, sealed: str, pk) -> tuple[str, int, bytes]:
        try:
            prefix, scope, version, body = sealed.split(":", 3)
            if prefix != PREFIX or scope not in ("s", "p"):
                raise ValueError
            # pybase64: the standard alphabet, strictly, like base64.b64decode(validate=True),
            # at memory speed (the stdlib decodes ~200 MB/s: 1 ms for a 116 KiB clinical list).
            return scope, int(version), pybase64.b64decode(body, validate=True)
        except ValueError:  # binascii.Error is one
            raise DecryptionFailed(f"{self.model.__name__}.{self.name} of {pk}: not a vault ciphertext") from None

    def _decrypt(self, primitive, ciphertext: bytes, ad: bytes, pk) -> bytes:
        try:
            return primitive.decrypt(ciphertext, ad)
        except tink.TinkError:
            logger.error("ciphertext did not open", extra={"object_id": str(pk), "path_name": self.name})
            raise DecryptionFailed(f"{self.model.__name__}.{self.name} of {pk}: ciphertext did not open (tampered or moved)") from None

    def open(self, instance, sealed: str):
        """The value of `sealed` on `instance`, opened now (no allowance check, nothing kept)."""
        pk = _attr(instance, self._pk_attname)
        scope, version, ciphertext = self._parse(sealed, pk)
        try:
            _, primitive = self._key(instance, scope, version)
        except keys.SubjectErased:
            return ERASED
        return self.from_bytes(self._decrypt(primitive, ciphertext, self._ad(_memo(instance), pk, _attr(instance, self._bound_attname)), pk))

    def _read(self, instance, sealed: Sealed, memo: _Memo):
        """The descriptor's read (the allowance already checked): opened once, then remembered
        for as long as the instance holds the same ciphertext, row id and subject."""
        values = instance.__dict__
        pk = values.get(self._pk_attname)
        bound = values.get(self._bound_attname) or getattr(instance, self._bound_attname, None)
        opened = memo.opened.get(self.attname)
        try:
            if opened is not None and opened[0] is sealed and opened[1] is pk and opened[2] is bound:
                # Asking for the key again is what keeps a remembered value honest: after a
                # shred or a retired version this answers exactly as a first read would.
                self._key(instance, opened[3], opened[4])
                plain = opened[5]
            else:
                scope, version, ciphertext = self._parse(sealed, pk)
                _, primitive = self._key(instance, scope, version)
                raw = self._decrypt(primitive, ciphertext, self._ad(memo, pk, bound), pk)
                plain = self.from_bytes(raw) if self.shares_value else raw
                memo.opened[self.attname] = (sealed, pk, bound, scope, version, plain)
        except keys.SubjectErased:
            memo.opened.pop(self.attname, None)
            return ERASED
        return plain if self.shares_value else self.from_bytes(plain)

    # --- the ORM boundary -------------------------------------------------------------------------
    def from_db_value(self, value, expression, connection):
        return None if value is None else Sealed(value)

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, Sealed):
            return value
        if is_erased(value):
            raise DecryptionFailed("an erased value cannot be written back")
        allowance.require(self.category, self._subject_text(model_instance, _memo(model_instance)))
        sealed = Sealed(self.seal(model_instance, value))
        return sealed

    def get_prep_value(self, value):
        if value is None or isinstance(value, Sealed):
            return value
        raise RefusedOperation(f"{self.name} is encrypted: it cannot be compared in a query; use its blind index")

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(f"{self.name} is encrypted: lookup '{lookup_name}' is refused; search by blind index")

    def get_transform(self, lookup_name):
        raise FieldError(f"{self.name} is encrypted: transform '{lookup_name}' is refused")

    def value_to_string(self, obj):
        raise RefusedOperation(f"{self.name} is encrypted: serialising it outside the vault is refused")


class EncryptedTextField(EncryptedField):
    pass


class EncryptedJSONField(EncryptedField):
    shares_value = False  # a list or dict: each read decodes its own copy

    def to_bytes(self, value) -> bytes:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()

    def from_bytes(self, raw: bytes):
        return json.loads(raw)


class EncryptedDateField(EncryptedField):
    def to_bytes(self, value) -> bytes:
        if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
            raise TypeError(f"{self.name} takes a date")
        return value.isoformat().encode()

    def from_bytes(self, raw: bytes):
        return datetime.date.fromisoformat(raw.decode())


def encrypted_fields(model) -> list[EncryptedField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
