"""Encrypted model fields.

Each field declares its data category; its value is stored as

    cv1:<scope>:<key version>:<base64 Tink ciphertext>

where scope is `s` (the row's data subject's key) or `p` (the practice's key), and the
associated data binds table, column, row id and subject, so a ciphertext copied to another
row or column fails to open. Reading the attribute outside an allowance for the category
raises PHIAccessDenied; a shredded subject reads as ERASED. Filtering, lookups and ordering
on these columns are refused: search goes through blind indexes.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging

import tink
from django.core.exceptions import FieldError
from django.db import models

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


class EncryptedDescriptor:
    def __init__(self, field: EncryptedField):
        self.field = field

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__.get(self.field.attname)
        if value is None:
            return None
        allowance.require(self.field.category, self.field.subject_of(instance))
        if isinstance(value, Sealed):
            return self.field.open(instance, value)
        return value

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value


class EncryptedField(models.TextField):
    scope = "s"
    refuses_ordering = True  # read by TenantQuerySet.order_by

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

    # --- serialisation of plaintext, overridden per type --------------------------------------
    def to_bytes(self, value) -> bytes:
        return str(value).encode()

    def from_bytes(self, raw: bytes):
        return raw.decode()

    # --- crypto ---------------------------------------------------------------------------------
    def _ad(self, instance) -> bytes:
        subject = getattr(instance, self.subject_field) if self.scope == "s" else instance.practice_id
        return f"{self.model._meta.db_table}\x1f{self.column}\x1f{instance.pk}\x1f{subject}".encode()

    def seal(self, instance, value) -> str:
        if self.scope == "s":
            version, primitive = keys.subject_aead(instance.practice_id, getattr(instance, self.subject_field))
        else:
            version, primitive = 0, keys.practice_aead(instance.practice_id)
        ciphertext = primitive.encrypt(self.to_bytes(value), self._ad(instance))
        return f"{PREFIX}:{self.scope}:{version}:{base64.b64encode(ciphertext).decode()}"

    def open(self, instance, sealed: str):
        try:
            prefix, scope, version, body = sealed.split(":", 3)
            if prefix != PREFIX or scope not in ("s", "p"):
                raise ValueError
            ciphertext = base64.b64decode(body, validate=True)
            version = int(version)
        except ValueError:
            raise DecryptionFailed(f"{self.model.__name__}.{self.name} of {instance.pk}: not a vault ciphertext") from None
        try:
            if scope == "s":
                _, primitive = keys.subject_aead(instance.practice_id, getattr(instance, self.subject_field), version)
            else:
                primitive = keys.practice_aead(instance.practice_id)
            return self.from_bytes(primitive.decrypt(ciphertext, self._ad(instance)))
        except keys.SubjectErased:
            return ERASED
        except tink.TinkError:
            logger.error("ciphertext did not open", extra={"object_id": str(instance.pk), "path_name": self.name})
            raise DecryptionFailed(
                f"{self.model.__name__}.{self.name} of {instance.pk}: ciphertext did not open (tampered or moved)"
            ) from None

    # --- the ORM boundary -------------------------------------------------------------------------
    def from_db_value(self, value, expression, connection):
        return None if value is None else Sealed(value)

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, Sealed):
            return value
        if is_erased(value):
            raise DecryptionFailed("an erased value cannot be written back")
        allowance.require(self.category, self.subject_of(model_instance))
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
