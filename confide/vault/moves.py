"""Moving records from one data subject to another (two charts of one person merged, or that
merge undone).

A subject-scoped ciphertext is bound to its table, column, row and subject by its associated
data (vault/fields.py), so a row cannot simply be pointed at another patient: its values would
no longer open. `move_rows` re-seals every subject-scoped encrypted field of the rows under the
new subject's key, with the new binding, and points the rows' subject column at the new subject,
in the caller's transaction. `move_file` re-encrypts a stored file under the new subject (a new
stored name; the caller deletes the old one after its transaction commits).

Key maintenance, like rotation (vault/rotation.py): values are decrypted in memory only to be
sealed again and are never returned, so this module opens its own allowance, narrowed to the
two subjects. Deciding *whether* records may move — who asks, for which patients, under whose
locks, with which audit entry — is the caller's (records/merge.py).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid

from confide.vault.allowance import ALL, allow
from confide.vault.errors import VaultError
from confide.vault.fields import Sealed, encrypted_fields, is_erased

SPOOL_BYTES = 8 * 1024 * 1024  # a file is re-encrypted through memory up to this size, then a temporary file


def move_rows(model, pks, *, subject_field: str, from_subject: uuid.UUID, to_subject: uuid.UUID) -> list:
    """Re-seal the rows `pks` of `model` (those still belonging to `from_subject`) under
    `to_subject` and point their `subject_field` (an attname such as "patient_id") at it. Rows
    are written with a queryset update, never `save()`: a signed note keeps its lock and its
    content hash (the content is the same). Returns the pks moved."""
    fields = [f for f in encrypted_fields(model) if f.scope == "s" and f.subject_field == subject_field]
    moved = []
    with allow({ALL}, subjects={from_subject, to_subject}):
        rows = model._default_manager.select_for_update().filter(pk__in=list(pks), **{subject_field: from_subject}).order_by("pk")
        for row in rows:
            plain = {}
            for f in fields:
                raw = row.__dict__.get(f.attname)
                if raw is None:
                    continue
                value = f.open(row, raw)
                if is_erased(value):
                    raise VaultError(f"{model.__name__} {row.pk}: its subject was erased; nothing to move")
                plain[f] = value
            row.__dict__[subject_field] = to_subject
            updates = {subject_field: to_subject, **{f.attname: Sealed(f.seal(row, value)) for f, value in plain.items()}}
            model._default_manager.filter(pk=row.pk).update(**updates)
            moved.append(row.pk)
    return moved


def move_file(storage, name: str, *, practice_id, from_subject, to_subject, kind: str, content_type: str, category: str) -> str:
    """Re-encrypt the stored file `name` of `from_subject` as a new file of `to_subject`;
    returns its stored name. The old file is left in place for the caller to delete once the
    rows pointing at the new one have committed (or to keep, if they roll back)."""
    with allow({category}, subjects={from_subject, to_subject}):
        with storage.open_decrypted(name, practice_id=practice_id, subject_id=from_subject, category=category) as source:
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
                shutil.copyfileobj(source, spool, 64 * 1024)
                spool.seek(0)
                return storage.save_encrypted(
                    kind, spool, practice_id=practice_id, subject_id=to_subject, content_type=content_type, category=category
                )
