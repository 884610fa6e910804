"""Merging two charts of one person (issue 12, item 7).

    do_merge_patients(actor=…, survivor_id=…, duplicate_id=…)   → PatientMerge (reversible)
    do_undo_merge(actor=…, merge_id=…)                           within MERGE_UNDO_DAYS
    do_finalize_merge(actor=…, merge_id=…)                       the duplicate's key shredded

A merge moves everything of the duplicate into the survivor: the items of every clinical list,
the consultations accepted into it (intake answers), progress notes and their addenda,
psychotherapy notes and theirs, documents and photos (their bytes re-encrypted), and points the
consultation submissions that made it at the survivor. Encrypted values are re-sealed under the
survivor's key with the survivor's binding (vault/moves.py: a ciphertext is bound to its row
and subject). The duplicate keeps only who it was (name, date of birth, contact: what the
registration held) and leaves the active register (`is_active=False`), so no list or door
shows it; the survivor's own identity and contact are not changed.

Both patients' rows are locked in one transaction, in pk order (access/locks.py: a transaction
that needs several patients locks them in pk order, so two merges of the same pair in opposite
directions cannot deadlock), before any audit entry; the two door openings, the moves, the
`PatientMerge` row and the `records:patients:merged` entry commit together or not at all.

Undo moves back exactly what came from the duplicate (the ids in `PatientMerge.moved`, as
they are now: an item changed since on the survivor goes back changed) and returns the
duplicate to the register; what was added to the survivor after the merge stays. Final: the
duplicate's key is shredded (its identity becomes unreadable everywhere, backups included) and
the merge can no longer be undone — asked for explicitly, and the only way left after the
window closes.

Audited with ids and counts only. Needs `records:chart:write` (the clinical record of both
charts is read and written, for treatment: clinicians and owners); the views also ask for a
recent password and MFA check (route table).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from confide.access import locks
from confide.access.door import open_chart
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.purposes import Purpose
from confide.records import clinical
from confide.records.models import Patient, PatientMerge
from confide.records.services import do_shred_patient
from confide.vault import moves
from confide.vault.files import EncryptedStorage

MERGE_UNDO_DAYS = 30
# What moves, list by list (every clinical list, and the consultations accepted into the chart).
LISTS = tuple(clinical.LISTS)  # medications … procedures, intake_answers
LIST_CATEGORIES = frozenset(Patient._meta.get_field(name).category for name in LISTS)
# Rows of their own that belong to a patient (label, subject column): re-sealed under the survivor.
ROWS = (
    ("records.ProgressNote", "patient_id"),
    ("records.Addendum", "patient_id"),
    ("records.PsychotherapyNote", "patient_id"),
    ("records.PsychotherapyAddendum", "patient_id"),
    ("records.Document", "patient_id"),
    ("records.Photo", "patient_id"),
    ("records.RepresentativeDocument", "patient_id"),
)
FILES = {"records.Document": "document", "records.Photo": "photo", "records.RepresentativeDocument": "authorization"}  # label → the stored file's kind


def _check(actor: StaffActor) -> None:
    if not isinstance(actor, StaffActor) or not actor.has(Perm.CHART_WRITE):
        raise Forbidden(Perm.CHART_WRITE)


def _lock_both(first: uuid.UUID, second: uuid.UUID) -> None:
    """Lock both patients' rows in pk order (NotFound for a missing or another practice's)."""
    for pk in sorted({first, second}, key=lambda value: value.int):
        if locks.lock_patient(pk) is None:
            raise NotFound("patient")


def _take_lists(actor, patient_id, request, only: dict[str, list[str]] | None = None) -> dict[str, list[dict]]:
    """Remove from the patient's lists every item (or, with `only`, the items of those ids) and
    return them, the change recorded as the correction of an error (a chart that should not
    have been separate)."""
    taken: dict[str, list[dict]] = {}
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories=LIST_CATEGORIES, request=request, for_update=True) as chart:
        patient = chart.patient
        for name in LISTS:
            current = list(getattr(patient, name) or [])
            wanted = set(only.get(name, ())) if only is not None else None
            keep = [item for item in current if wanted is not None and item.get("id") not in wanted]
            gone = [item for item in current if item not in keep]
            if gone:
                taken[name] = gone
                setattr(patient, name, keep)
        if taken:
            chart.record_change(sorted(taken), "error_correction")
            patient.save(update_fields=[*sorted(taken), "updated_at"])
    return taken


def _give_lists(actor, patient_id, items: dict[str, list[dict]], request) -> None:
    if not items:
        return
    with open_chart(actor, patient_id, Purpose.TREATMENT, categories=LIST_CATEGORIES, request=request, for_update=True) as chart:
        patient = chart.patient
        for name, new in items.items():
            current = list(getattr(patient, name) or [])
            ids = {item.get("id") for item in current}
            if any(item.get("id") in ids for item in new):
                raise InvalidInput("The two charts hold an item with the same id: they cannot be merged automatically.")
            setattr(patient, name, current + new)
        chart.record_change(sorted(items), "error_correction")
        patient.save(update_fields=[*sorted(items), "updated_at"])


def _move_rows(practice_id, from_id, to_id, only: dict[str, list] | None, storage) -> tuple[dict, dict, list[str]]:
    """Move the rows (all of `from_id`'s, or those of `only`) and re-encrypt their files.
    Returns (rows moved by label, new stored file names by label and pk, old file names to
    delete once the transaction commits)."""
    rows: dict[str, list[str]] = {}
    files: dict[str, dict[str, str]] = {}
    old_names: list[str] = []
    for label, subject_field in ROWS:
        model = apps.get_model(label)
        scope = model._default_manager.filter(**{subject_field: from_id})
        if only is not None:
            scope = scope.filter(pk__in=only.get(label, []))
        pks = list(scope.order_by("pk").values_list("pk", flat=True))
        if not pks:
            continue
        if label in FILES:
            for row in model._default_manager.filter(pk__in=pks).order_by("pk"):
                new_name = moves.move_file(
                    storage, row.stored_name, practice_id=practice_id, from_subject=from_id, to_subject=to_id, kind=FILES[label],
                    content_type=row.content_type, category=model.CATEGORY,
                )  # fmt: skip
                old_names.append(row.stored_name)
                model._default_manager.filter(pk=row.pk).update(stored_name=new_name)
                files.setdefault(label, {})[str(row.pk)] = new_name
        moved = moves.move_rows(model, pks, subject_field=subject_field, from_subject=from_id, to_subject=to_id)
        rows[label] = [str(pk) for pk in moved]
    return rows, files, old_names


def _redirect_submissions(from_id, to_id, only: list | None = None) -> list[str]:
    IntakeSubmission = apps.get_model("records.IntakeSubmission")
    scope = IntakeSubmission.objects.filter(patient_id=from_id)
    if only is not None:
        scope = scope.filter(pk__in=only)
    pks = [str(pk) for pk in scope.values_list("pk", flat=True)]
    scope.update(patient_id=to_id)
    return pks


def _delete_after_commit(storage, names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            storage.delete(name)

    if names:
        transaction.on_commit(delete)


def _counts(moved: dict) -> dict:
    return {
        "items": sum(len(v) for v in moved.get("lists", {}).values()),
        "rows": {label.split(".")[1].lower(): len(pks) for label, pks in moved.get("rows", {}).items()},
        "submissions": len(moved.get("submissions", [])),
    }


def _entry(event, actor, merge: PatientMerge, moved: dict, request) -> None:
    record(
        event, practice_id=merge.practice_id, actor=actor, purpose=Purpose.TREATMENT.value, subject_id=merge.survivor_id,
        resource_ids=[merge.duplicate_id, merge.pk], detail=_counts(moved), request=request,
    )  # fmt: skip


def do_merge_patients(
    *, actor: StaffActor, survivor_id: uuid.UUID, duplicate_id: uuid.UUID, final: bool = False, request=None,
    storage: EncryptedStorage | None = None,
) -> PatientMerge:  # fmt: skip
    """Move everything of the duplicate into the survivor (see the module docstring); `final`:
    shred the duplicate's key at once instead of keeping the merge reversible."""
    _check(actor)
    survivor_id, duplicate_id = _as_uuid(survivor_id), _as_uuid(duplicate_id)
    if survivor_id == duplicate_id:
        raise InvalidInput("Choose two different charts: a chart cannot be merged into itself.")
    storage = storage or EncryptedStorage()
    with transaction.atomic():
        _lock_both(survivor_id, duplicate_id)
        if not Patient.objects.filter(pk__in=[survivor_id, duplicate_id], is_active=True).count() == 2:
            raise InvalidInput("Both charts must be in the active register to be merged.")
        items = _take_lists(actor, duplicate_id, request)
        _give_lists(actor, survivor_id, items, request)
        practice_id = actor.practice_id
        rows, files, old_names = _move_rows(practice_id, duplicate_id, survivor_id, None, storage)
        submissions = _redirect_submissions(duplicate_id, survivor_id)
        Patient.objects.filter(pk=duplicate_id).update(is_active=False, updated_at=timezone.now())
        moved = {"lists": {name: [item["id"] for item in taken] for name, taken in items.items()}, "rows": rows,
                 "files": files, "submissions": submissions}  # fmt: skip
        merge = PatientMerge.objects.create(
            practice_id=practice_id, survivor_id=survivor_id, duplicate_id=duplicate_id, merged_by_id=actor.user_id,
            reversible_until=timezone.now() + datetime.timedelta(days=MERGE_UNDO_DAYS), moved=moved,
        )  # fmt: skip
        _entry(AuditEvent.PATIENTS_MERGED, actor, merge, moved, request)
        _delete_after_commit(storage, old_names)
    if final:
        merge = do_finalize_merge(actor=actor, merge_id=merge.pk, request=request)
    return merge


def _open_merge(merge_id) -> PatientMerge:
    merge = PatientMerge.objects.select_for_update().filter(pk=_as_uuid(merge_id)).first()
    if merge is None:
        raise NotFound("merge")
    return merge


def do_undo_merge(*, actor: StaffActor, merge_id, request=None, storage: EncryptedStorage | None = None) -> PatientMerge:
    """Move back what came from the duplicate and return it to the register (within the window)."""
    _check(actor)
    storage = storage or EncryptedStorage()
    with transaction.atomic():
        probe = PatientMerge.objects.filter(pk=_as_uuid(merge_id)).values_list("survivor_id", "duplicate_id").first()
        if probe is None:
            raise NotFound("merge")
        _lock_both(*probe)  # the patients first, then the merge row: the order every merge path takes
        merge = _open_merge(merge_id)
        if merge.state != PatientMerge.State.REVERSIBLE:
            raise InvalidInput("This merge was already undone or made final: it cannot be undone.")
        if timezone.now() > merge.reversible_until:
            raise InvalidInput(f"A merge can be undone for {MERGE_UNDO_DAYS} days; this one is past that.")
        moved = merge.moved
        Patient.objects.filter(pk=merge.duplicate_id).update(is_active=True, updated_at=timezone.now())
        items = _take_lists(actor, merge.survivor_id, request, only=moved.get("lists", {})) if moved.get("lists") else {}
        _give_lists(actor, merge.duplicate_id, items, request)
        _, _, old_names = _move_rows(merge.practice_id, merge.survivor_id, merge.duplicate_id, moved.get("rows", {}), storage)
        _redirect_submissions(merge.survivor_id, merge.duplicate_id, moved.get("submissions", []))
        merge.state, merge.closed_by_id, merge.closed_at = PatientMerge.State.UNDONE, actor.user_id, timezone.now()
        merge.save(update_fields=["state", "closed_by", "closed_at", "updated_at"])
        _entry(AuditEvent.PATIENTS_MERGE_UNDONE, actor, merge, moved, request)
        _delete_after_commit(storage, old_names)
    return merge


def do_finalize_merge(*, actor: StaffActor, merge_id, request=None) -> PatientMerge:
    """Make the merge final: the duplicate's key is shredded (what is left of it — who it was —
    becomes unreadable everywhere) and the merge can no longer be undone."""
    _check(actor)
    with transaction.atomic():
        probe = PatientMerge.objects.filter(pk=_as_uuid(merge_id)).values_list("survivor_id", "duplicate_id").first()
        if probe is None:
            raise NotFound("merge")
        _lock_both(*probe)
        merge = _open_merge(merge_id)
        if merge.state != PatientMerge.State.REVERSIBLE:
            raise InvalidInput("This merge was already undone or made final.")
        merge.state, merge.closed_by_id, merge.closed_at = PatientMerge.State.FINAL, actor.user_id, timezone.now()
        merge.save(update_fields=["state", "closed_by", "closed_at", "updated_at"])
        _entry(AuditEvent.PATIENTS_MERGE_FINAL, actor, merge, merge.moved, request)
        do_shred_patient(practice_id=merge.practice_id, patient_id=merge.duplicate_id, actor_user=actor)
    return merge


def _as_uuid(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise NotFound("patient") from None


# --- what the chart shows of its merges ------------------------------------------------------------
@dataclass(frozen=True)
class OpenMerge:
    """A reversible merge into a chart, as its overview shows it (counts, dates; no name: the
    duplicate is out of the register and the door no longer opens it)."""

    id: uuid.UUID
    merged_at: datetime.datetime
    reversible_until: datetime.datetime
    items: int
    rows: int

    @property
    def can_undo(self) -> bool:
        return timezone.now() <= self.reversible_until


def list_open_merges(actor: StaffActor, survivor_id) -> list[OpenMerge]:
    """The reversible merges into this chart (ids and counts only: no PHI is read)."""
    if not isinstance(actor, StaffActor) or not actor.has(Perm.CHART_WRITE):
        return []
    merges = PatientMerge.objects.filter(survivor_id=_as_uuid(survivor_id), state=PatientMerge.State.REVERSIBLE).order_by("-created_at")
    out = []
    for m in merges:
        counts = _counts(m.moved)
        out.append(OpenMerge(id=m.pk, merged_at=m.created_at, reversible_until=m.reversible_until, items=counts["items"],
                             rows=sum(counts["rows"].values())))  # fmt: skip
    return out
