"""Key rotation: a practice's KEK, and one subject's data key.

KEK rotation (`rotate_kek`) re-wraps keys only: the practice data keyset, the index key and
every live subject key version move from the old KEK to a new one in one transaction; no
ciphertext column changes. The old KEK is destroyed only after that transaction commits, and
only if the key manager can destroy a single KEK (the env manager cannot: its KEKs are derived
from the master secret, so the old one stays derivable until the master key is rotated).

Subject key rotation (`rotate_subject`) re-encrypts data: version N is marked RETIRING and N+1
ACTIVE in one transaction; then every ciphertext of the subject is opened with its version and
sealed with N+1, `batch_size` ciphertexts per transaction; only when a locked final scan finds
no ciphertext left under a RETIRING version are those versions DESTROYED. Every committed state
is readable: before the switch everything is under N; during the walk each ciphertext is under
N or N+1 and both keys exist; N is destroyed only once nothing refers to it. A crash anywhere
leaves a state the next call resumes from (a RETIRING version means "rotation in progress").
"""

from __future__ import annotations

import importlib.util
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from confide.core import tenancy
from confide.env import env_str
from confide.vault import keys, signals, tombstones
from confide.vault.allowance import ALL, allow
from confide.vault.errors import KeyManagerError, VaultError
from confide.vault.fields import PREFIX, EncryptedField, Sealed, encrypted_fields, is_erased
from confide.vault.kms import key_manager
from confide.vault.models import PracticeKey, SubjectKey

logger = logging.getLogger(__name__)

# Test hook: seconds to sleep after each committed batch of a subject rotation, and after a KEK
# rotation has made its new KEK, so a test can kill the process mid-rotation. Honoured only in
# dev mode (CONFIDE_DEV_MODE=1); ignored in production.
PAUSE_ENV = "CONFIDE_TEST_ROTATION_PAUSE"
# Full walks before giving up when concurrent writers keep sealing under a retiring version
# (a request that cached the old active key); the next call continues.
MAX_PASSES = 5


def _require_context(practice_id: uuid.UUID) -> None:
    if tenancy.current_practice_id() != practice_id:
        raise VaultError("key rotation runs only inside its own practice's context")


# --- KEK rotation -------------------------------------------------------------------------------


@dataclass
class KekRotation:
    practice_id: uuid.UUID
    key_manager: str
    old_kek_id: str
    new_kek_id: str
    subject_keys_rewrapped: int = 0
    subject_keys_skipped: int = 0  # destroyed versions, and tombstoned subjects' leftovers
    stragglers_rewrapped: int = 0  # made under the old KEK by a concurrent writer; fixed after commit
    old_kek_destroyed: bool = False
    old_kek_note: str = ""  # why the old KEK was not destroyed
    unused_removed: list[str] = field(default_factory=list)  # KEKs left by interrupted rotations, removed first
    unused_note: str = ""  # why an unused KEK could not be removed


def rotate_kek(practice_id: uuid.UUID) -> KekRotation:
    """Move every key of the practice under a new KEK; then destroy the old KEK if possible.

    First removes the KEKs an interrupted rotation of this practice left unused
    (`remove_unused_keks`). The practice's key row is locked before the new KEK is made and
    until the transaction ends, so rotations of one practice run one after another (each
    rotates from the KEK the one before left in force) and nobody takes this rotation's new,
    not yet committed KEK for an unused one. Call outside a transaction: the old KEK is
    destroyed on commit of the outermost one."""
    _require_context(practice_id)
    manager = key_manager()
    removed, unused_note = remove_unused_keks(practice_id)
    new_kek_id = None
    committed = []
    try:
        with transaction.atomic():
            practice_key = PracticeKey.objects.select_for_update().filter(practice_id=practice_id).first()
            if practice_key is None:
                raise VaultError(f"practice {practice_id} has no keys yet: nothing to rotate")
            _same_manager(practice_key, manager)
            new_kek_id = manager.create_kek(str(practice_id))
            if new_kek_id == practice_key.kek_id:
                new_kek_id = None  # derived, not made: it is the KEK in use and must not be destroyed
                raise KeyManagerError(
                    f"the {manager.name} key manager gave back the same KEK ({practice_key.kek_id}): its KEKs are derived "
                    "from the master key and the practice id; rotate the master key instead"
                )
            _pause_for_tests()  # a test kills the process here: a new KEK made, nothing re-wrapped
            result = KekRotation(practice_id, manager.name, practice_key.kek_id, new_kek_id, unused_removed=removed, unused_note=unused_note)
            new_kek = manager.kek_aead(new_kek_id)
            old_kek = manager.kek_aead(practice_key.kek_id)
            wrapped_data, wrapped_index = keys.rewrap_practice_keys(practice_key, old_kek, new_kek)
            rewrapped: set[uuid.UUID] = set()
            live = SubjectKey.objects.select_for_update().order_by("subject_id", "version")
            for row in live:
                if row.wrapped_keyset is None or row.state == SubjectKey.State.DESTROYED or tombstones.is_shredded(str(row.subject_id)):
                    # A tombstoned subject's leftover key stays under the old KEK and dies with it.
                    result.subject_keys_skipped += 1
                    continue
                row.wrapped_keyset = keys.rewrap_subject_keyset(practice_id, row, old_kek, new_kek)
                row.save(update_fields=["wrapped_keyset", "updated_at"])
                rewrapped.add(row.pk)
            result.subject_keys_rewrapped = len(rewrapped)
            practice_key.kek_id = new_kek_id
            practice_key.wrapped_data_keyset = wrapped_data
            practice_key.wrapped_index_key = wrapped_index
            practice_key.kek_rotated_at = timezone.now()
            practice_key.save(update_fields=["kek_id", "wrapped_data_keyset", "wrapped_index_key", "kek_rotated_at", "updated_at"])
            _record(
                "KEK_ROTATED",
                practice_id,
                {
                    "old_kek_id": result.old_kek_id,
                    "new_kek_id": new_kek_id,
                    "subject_keys_rewrapped": result.subject_keys_rewrapped,
                    "subject_keys_skipped": result.subject_keys_skipped,
                },
            )

            def after_commit() -> None:
                committed.append(True)
                _retire_old_kek(result, manager, old_kek, new_kek, rewrapped)

            transaction.on_commit(after_commit, robust=True)
    except BaseException:
        if new_kek_id is not None and not committed:  # the new KEK was never put to use: drop it (best effort)
            try:
                manager.destroy_kek(new_kek_id)
            except Exception:  # noqa: BLE001 - an unused KEK left behind is removed by the next rotation
                pass
        raise
    return result


def _same_manager(practice_key: PracticeKey, manager) -> None:
    if practice_key.key_manager != manager.name:
        raise KeyManagerError(
            f"practice {practice_key.practice_id} keys are under the {practice_key.key_manager} key manager, "
            f"but CONFIDE_KEY_MANAGER is {manager.name}"
        )


# --- KEKs nobody uses ---------------------------------------------------------------------------------
# A rotation makes its new KEK before it re-wraps anything; a process killed in between leaves
# that KEK in the key manager, wrapping nothing. So does one killed after its commit but before
# it destroyed the old KEK. Both are key material protecting nothing: the next rotation of the
# practice removes them, and `confide keys status` lists them.


def unused_keks(practice_id: uuid.UUID) -> list[str] | None:
    """The KEKs the key manager holds for this practice other than the one its keys are under;
    None when the manager cannot list its KEKs (env: nothing is stored; aws-kms: see docs).
    Read-only and unlocked: a rotation running right now shows its new KEK here until it commits."""
    _require_context(practice_id)
    manager = key_manager()
    practice_key = PracticeKey.objects.filter(practice_id=practice_id).first()
    if practice_key is None or practice_key.key_manager != manager.name or not hasattr(manager, "keks_labelled"):
        return None
    return [k for k in manager.keks_labelled(str(practice_id)) if k != practice_key.kek_id]


def remove_unused_keks(practice_id: uuid.UUID) -> tuple[list[str], str]:
    """Destroy the practice's KEKs that no key is under; (their ids, a note if some could not
    be removed). Found with the practice's key row locked, so a rotation still running holds
    the lock and its new KEK is never taken for an unused one. Before a KEK goes, any subject
    key still wrapped under it (a writer that read the KEK id before a rotation committed) is
    re-wrapped under the KEK in force, in the same transaction; the KEKs are destroyed once
    that has committed (call outside a transaction, as `rotate_kek`, to have the ids returned)."""
    _require_context(practice_id)
    manager = key_manager()
    if not hasattr(manager, "keks_labelled"):
        return [], ""
    removed: list[str] = []
    notes: list[str] = []

    def destroy(unused: list[str]) -> None:
        # After the re-wraps are committed: were they rolled back, a key could still be under a KEK gone.
        for kek_id in unused:
            try:
                manager.destroy_kek(kek_id)
            except Exception as exc:  # noqa: BLE001 - reported; the rotation itself can go on
                logger.warning("unused KEK not removed", extra={"practice_id": str(practice_id)})
                notes.append(f"unused KEK {kek_id} not removed: {type(exc).__name__}")
                return
            removed.append(kek_id)
        logger.info("unused KEKs removed", extra={"practice_id": str(practice_id), "count": len(removed)})

    with transaction.atomic():
        practice_key = PracticeKey.objects.select_for_update().filter(practice_id=practice_id).first()
        if practice_key is None or practice_key.key_manager != manager.name:
            return [], ""
        unused = [k for k in manager.keks_labelled(str(practice_id)) if k != practice_key.kek_id]
        if not unused:
            return [], ""
        current = manager.kek_aead(practice_key.kek_id)
        for kek_id in unused:
            _rewrap_keys_still_under(practice_id, manager.kek_aead(kek_id), current)
        transaction.on_commit(lambda: destroy(unused))
    return removed, "; ".join(notes)


def _rewrap_keys_still_under(practice_id: uuid.UUID, kek, current) -> int:
    moved = 0
    for row in SubjectKey.objects.select_for_update().exclude(state=SubjectKey.State.DESTROYED).exclude(wrapped_keyset=None):
        if keys.subject_keyset_opens(practice_id, row, current) or not keys.subject_keyset_opens(practice_id, row, kek):
            continue
        row.wrapped_keyset = keys.rewrap_subject_keyset(practice_id, row, kek, current)
        row.save(update_fields=["wrapped_keyset", "updated_at"])
        moved += 1
    return moved


def _retire_old_kek(result: KekRotation, manager, old_kek, new_kek, rewrapped: set) -> None:
    """After commit: re-wrap any subject key a concurrent writer made under the old KEK while
    the rotation ran (it read the old kek_id before our commit), then destroy the old KEK.
    Never raises: the rotation has committed; a failure here only leaves the old KEK in place."""
    practice_id = result.practice_id
    try:
        with tenancy.tenant_context(practice_id=practice_id):
            for row in SubjectKey.objects.exclude(pk__in=rewrapped).exclude(state=SubjectKey.State.DESTROYED):
                if row.wrapped_keyset is None or tombstones.is_shredded(str(row.subject_id)):
                    continue
                if keys.subject_keyset_opens(practice_id, row, new_kek):
                    continue
                with transaction.atomic():
                    locked = SubjectKey.objects.select_for_update().get(pk=row.pk)
                    if locked.wrapped_keyset is None or keys.subject_keyset_opens(practice_id, locked, new_kek):
                        continue
                    locked.wrapped_keyset = keys.rewrap_subject_keyset(practice_id, locked, old_kek, new_kek)
                    locked.save(update_fields=["wrapped_keyset", "updated_at"])
                    result.stragglers_rewrapped += 1
    except Exception as exc:  # noqa: BLE001
        result.old_kek_note = f"old KEK kept: the post-commit check failed ({type(exc).__name__})"
        logger.error("KEK rotation: post-commit check failed; old KEK kept", extra={"practice_id": str(practice_id)})
        return
    try:
        manager.destroy_kek(result.old_kek_id)
    except KeyManagerError as exc:
        result.old_kek_note = f"old KEK not destroyed: {exc}"
        logger.warning("KEK rotation: old KEK not destroyed", extra={"practice_id": str(practice_id)})
        return
    except Exception as exc:  # noqa: BLE001
        result.old_kek_note = f"old KEK not destroyed: {type(exc).__name__}"
        logger.error("KEK rotation: destroying the old KEK failed", extra={"practice_id": str(practice_id)})
        return
    result.old_kek_destroyed = True


# --- Subject key rotation -------------------------------------------------------------------------


@dataclass
class SubjectRotation:
    practice_id: uuid.UUID
    subject_id: uuid.UUID
    to_version: int
    retiring_versions: list[int]
    resumed: bool  # a RETIRING version was already there: this call continued a rotation
    moved: int = 0  # ciphertexts re-encrypted by this call
    batches: int = 0
    unreadable: int = 0  # ciphertexts under a version that no longer exists (left as they are)
    destroyed_versions: list[int] = field(default_factory=list)
    files_rewrapped: int = 0  # stored files whose header moved to the new version (see the files hook)


def rotate_subject(
    practice_id: uuid.UUID, subject_id: uuid.UUID, batch_size: int = 100, *, file_storage=None
) -> SubjectRotation:
    """Re-encrypt every ciphertext of `subject_id` under a new key version; resumable.

    `batch_size` is the number of ciphertexts (field values) re-encrypted per transaction, so
    a subject with one large row still moves in several small transactions. Stored files of
    the subject (`file_storage`, default the files module's storage) get their headers
    re-wrapped; their bodies are not touched."""
    _require_context(practice_id)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    subject_id = uuid.UUID(str(subject_id))
    if tombstones.is_shredded(str(subject_id)):
        raise keys.SubjectErased(f"subject {subject_id} was erased")
    result = _begin(practice_id, subject_id)
    pause = _test_pause()
    groups = list(_subject_groups())
    files = _files_module()
    storage = None if files is None else (file_storage if file_storage is not None else files.default_storage())
    with allow({ALL}):
        keys.forget_cached_subject(subject_id)  # an outer allowance may hold the old active key
        try:
            for _ in range(MAX_PASSES):
                for model, subject_field, fields in groups:
                    _walk(result, model, subject_field, fields, batch_size, pause)
                if files is not None:
                    _walk_files(result, files, storage, pause)
                if _finish(result, groups, files, storage):
                    return result
            raise VaultError(
                f"subject {subject_id}: ciphertexts under a retiring version kept appearing; "
                "the rotation is safe to run again"
            )
        finally:
            keys.forget_cached_subject(subject_id)


def _begin(practice_id: uuid.UUID, subject_id: uuid.UUID) -> SubjectRotation:
    """Switch versions (N → RETIRING, N+1 ACTIVE) in one transaction, or pick up a rotation in progress."""
    State = SubjectKey.State
    with transaction.atomic():
        rows = list(SubjectKey.objects.select_for_update().filter(subject_id=subject_id).order_by("version"))
        if not rows:
            raise VaultError(f"subject {subject_id} has no data key: nothing to rotate")
        live = [r for r in rows if r.state != State.DESTROYED and r.wrapped_keyset is not None]
        if not live:
            raise keys.SubjectErased(f"subject {subject_id} was erased")
        retiring = [r for r in live if r.state == State.RETIRING]
        active = [r for r in live if r.state == State.ACTIVE]
        if retiring and active:
            target = max(r.version for r in active)
            stray = [r for r in active if r.version != target]  # should not exist; retire them too
            for row in stray:
                row.state = State.RETIRING
                row.save(update_fields=["state", "updated_at"])
            versions = sorted(r.version for r in retiring + stray)
            return SubjectRotation(practice_id, subject_id, target, versions, resumed=True)
        for row in active:
            row.state = State.RETIRING
            row.save(update_fields=["state", "updated_at"])
        target = max(r.version for r in rows) + 1
        keys.new_subject_key(practice_id, subject_id, target)
        keys.bump_generation(subject_id)  # the active version changed: cached keysets of it, anywhere, stop
        versions = sorted(r.version for r in retiring + active)
        return SubjectRotation(practice_id, subject_id, target, versions, resumed=bool(retiring))


def _subject_groups():
    """(model, subject_field, subject-scoped encrypted fields) for every model that has them."""
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        by_subject: dict[str, list[EncryptedField]] = defaultdict(list)
        for f in encrypted_fields(model):
            if f.scope == "s":
                by_subject[f.subject_field].append(f)
        for subject_field, fields in by_subject.items():
            yield model, subject_field, fields


def _version(raw: str) -> int | None:
    """The subject-key version a stored ciphertext names; None if it is not a subject ciphertext."""
    parts = str(raw).split(":", 3)
    if len(parts) != 4 or parts[0] != PREFIX or parts[1] != "s":
        return None
    try:
        return int(parts[2])
    except ValueError:
        return None


def _rows(model, subject_field: str, subject_id: uuid.UUID):
    return model._default_manager.filter(**{subject_field: subject_id})


def _walk(result: SubjectRotation, model, subject_field, fields, batch_size: int, pause: float) -> None:
    pks = list(_rows(model, subject_field, result.subject_id).order_by("pk").values_list("pk", flat=True))
    position = 0
    while position < len(pks):
        moved_here = 0
        with transaction.atomic():
            budget = batch_size
            while position < len(pks) and budget > 0:
                chunk = pks[position : position + budget]
                loaded = {row.pk: row for row in _rows(model, subject_field, result.subject_id).select_for_update().filter(pk__in=chunk)}
                for pk in chunk:
                    row = loaded.get(pk)
                    done = True
                    if row is not None:  # else deleted meanwhile
                        moved, done = _move_row(result, row, fields, budget)
                        budget -= moved
                        moved_here += moved
                    if not done:
                        break  # out of budget mid-row: the next batch reloads this row
                    position += 1
                    if budget == 0:
                        break
        if moved_here:
            result.moved += moved_here
            result.batches += 1
            if pause:
                time.sleep(pause)


def _move_row(result: SubjectRotation, row, fields, budget: int) -> tuple[int, bool]:
    """Re-seal up to `budget` of the row's ciphertexts under the target version and save them.
    Returns (ciphertexts moved, whether the row has none left to move)."""
    changed: list[str] = []
    done = True
    for f in fields:
        raw = row.__dict__.get(f.attname)
        if raw is None:
            continue
        version = _version(raw)
        if version == result.to_version or version not in result.retiring_versions:
            continue  # already moved, or not ours to move (counted by the final scan)
        if len(changed) == budget:
            done = False
            break
        plaintext = f.open(row, raw)
        if is_erased(plaintext):
            raise keys.SubjectErased(f"subject {result.subject_id} was erased during rotation")
        sealed = f.seal(row, plaintext)
        if _version(sealed) != result.to_version:
            raise VaultError(f"subject {result.subject_id}: sealed under v{_version(sealed)}, expected v{result.to_version}")
        row.__dict__[f.attname] = Sealed(sealed)  # pre_save passes Sealed values through unchanged
        changed.append(f.attname)
    if changed:
        row.save(update_fields=changed)
    return len(changed), done


def _finish(result: SubjectRotation, groups, files=None, storage=None) -> bool:
    """In one transaction, with the subject's rows locked: if no ciphertext names a retiring
    version any more, destroy those versions. False if something still needs moving."""
    with transaction.atomic():
        pending = unreadable = 0
        for model, subject_field, fields in groups:
            for row in _rows(model, subject_field, result.subject_id).select_for_update().order_by("pk"):
                for f in fields:
                    raw = row.__dict__.get(f.attname)
                    version = None if raw is None else _version(raw)
                    if version is None or version == result.to_version:
                        continue
                    if version in result.retiring_versions:
                        pending += 1
                    else:
                        unreadable += 1
        if files is not None:
            files_pending, files_unreadable = _scan_files(result, files, storage)
            pending += files_pending
            unreadable += files_unreadable
        if pending:
            return False
        result.unreadable = unreadable
        now = timezone.now()
        for row in SubjectKey.objects.select_for_update().filter(
            subject_id=result.subject_id, state=SubjectKey.State.RETIRING
        ):
            row.state = SubjectKey.State.DESTROYED
            row.wrapped_keyset = None
            row.destroyed_at = now
            row.save(update_fields=["state", "wrapped_keyset", "destroyed_at", "updated_at"])
            result.destroyed_versions.append(row.version)
        keys.bump_generation(result.subject_id)  # the retired versions are gone: no process keeps them
        _record(
            "SUBJECT_KEY_ROTATED",
            result.practice_id,
            {
                "subject_id": str(result.subject_id),
                "to_version": result.to_version,
                "destroyed_versions": sorted(result.destroyed_versions),
                "ciphertexts_moved": result.moved,
                "files_rewrapped": result.files_rewrapped,
                "resumed": result.resumed,
            },
        )
    return True


# --- HOOK: encrypted files (confide/vault/files.py, written separately) -------------------------
# A stored file's header holds its file key wrapped under a subject key version; destroying that
# version before the header is re-wrapped would erase the file. files.py stores a subject's files
# under "<practice_id>/<subject_id>/<kind>/<name>" and provides read_header (unauthenticated, for
# the version) and rewrap_file_header (atomic replace; the body is copied untouched). Until file
# rows exist in the database, the subject's files are found by listing that prefix. Without a
# files module nothing is imported and there are no files. If the module no longer has these
# names, rotation refuses to destroy any version rather than guess.
_FILES_API = ("read_header", "rewrap_file_header", "default_storage")


def _files_module():
    if importlib.util.find_spec("confide.vault.files") is None:
        return None
    files = importlib.import_module("confide.vault.files")
    missing = [name for name in _FILES_API if not hasattr(files, name)]
    if missing:
        raise VaultError(
            f"confide.vault.files lacks {', '.join(missing)}: file headers may still be wrapped under the "
            "retiring key version, so rotation does not destroy it"
        )
    return files


def _subject_file_names(storage, practice_id: uuid.UUID, subject_id: uuid.UUID) -> list[str]:
    raw = getattr(storage, "storage", storage)  # EncryptedStorage wraps a Django Storage
    base = f"{practice_id}/{subject_id}"
    try:
        kinds, _ = raw.listdir(base)
    except FileNotFoundError:
        return []
    names = []
    for kind in sorted(kinds):
        _, stored = raw.listdir(f"{base}/{kind}")
        names += [f"{base}/{kind}/{n}" for n in sorted(stored) if ".rewrap-" not in n]  # skip rewrap temporaries
    return names


def _walk_files(result: SubjectRotation, files, storage, pause: float) -> None:
    for name in _subject_file_names(storage, result.practice_id, result.subject_id):
        if files.read_header(storage, name).key_version not in result.retiring_versions:
            continue
        if files.rewrap_file_header(storage, name, result.practice_id, result.subject_id, result.to_version):
            result.files_rewrapped += 1
            if pause:
                time.sleep(pause)


def _scan_files(result: SubjectRotation, files, storage) -> tuple[int, int]:
    """(files still under a retiring version, files under a version that no longer exists)."""
    pending = unreadable = 0
    for name in _subject_file_names(storage, result.practice_id, result.subject_id):
        version = files.read_header(storage, name).key_version
        if version in result.retiring_versions:
            pending += 1
        elif version != result.to_version:
            unreadable += 1
    return pending, unreadable


# --- helpers ----------------------------------------------------------------------------------------


def _pause_for_tests() -> None:
    pause = _test_pause()
    if pause:
        time.sleep(pause)


def _test_pause() -> float:
    if not getattr(settings, "DEV_MODE", False):
        return 0.0
    raw = env_str(PAUSE_ENV).strip()
    try:
        return max(0.0, float(raw)) if raw else 0.0
    except ValueError:
        return 0.0


def _record(kind: str, practice_id: uuid.UUID, detail: dict) -> None:
    """An audit entry in this transaction, written by the audit log's receiver (vault/signals.py)."""
    signals.announce(signals.KeyEvent[kind], practice_id, detail)
