"""What the retention engine keeps about a record's life after care (RET1, RET2, RTS4).

`ArchivedRecord`: one row per patient taken out of the active database — by a deletion request
executed (RTS4) or an account the practice closed — with the date retention ends
(`retain_until`), computed from the declaration in force (retention/plan.py). The row outlives
the patient: after destruction it says, with ids only, that the record was destroyed and when.
`LegalHold`: a hold that suspends deletion and destruction (a fixed reason, never free text:
a reason typed about a patient would be PHI). `DeletionRun`: one execution of a deletion
request, step by step, so a second start is refused and a failed run resumes where it stopped.

No field here holds PHI: the patient is named by id (the rows must outlive the patient's
destruction, so no foreign key), dates are the engine's own."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from confide.core.models import TenantModel


class ArchiveReason(models.TextChoices):
    DELETION = "deletion", "Deletion requested by the patient"
    CLOSED = "closed", "Account closed by the practice"


class ArchivedRecord(TenantModel):
    patient_id = models.UUIDField()
    reason = models.CharField(max_length=10, choices=ArchiveReason.choices)
    # Marked closed (or the deletion executed): `closed_at`; moved out of the active database:
    # `archived_at` (the engine archives a closed account on its next run; a deletion at once).
    closed_at = models.DateTimeField()
    archived_at = models.DateTimeField(null=True, blank=True)
    last_service_on = models.DateField(null=True, blank=True)
    retain_until = models.DateField(null=True, blank=True)
    # The rule that set `retain_until`: the declaration's retention rule id, and whether the
    # period ran from the 18th birthday (a minor at the last service).
    rule = models.CharField(max_length=60, blank=True)
    from_majority = models.BooleanField(default=False)
    request_id = models.UUIDField(null=True, blank=True)  # the deletion request (rights), by id
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["retain_until", "closed_at"]
        constraints = [models.UniqueConstraint(fields=["practice", "patient_id"], name="archived_once_per_patient")]
        indexes = [models.Index(fields=["practice", "destroyed_at", "retain_until"], name="archive_due")]

    def __str__(self) -> str:
        return f"archived-record:{self.pk}"


class HoldReason(models.TextChoices):
    # Fixed reasons: the note that would say more (whose lawsuit, which investigation) is PHI.
    LITIGATION = "litigation", "Litigation pending or expected"
    INVESTIGATION = "investigation", "A government investigation or audit"
    SUBPOENA = "subpoena", "A subpoena or court order asks for the record"
    COMPLAINT = "complaint", "A complaint under review"
    OTHER_LAW = "other_law", "Another legal duty to keep the record"


class LegalHold(TenantModel):
    patient_id = models.UUIDField()
    reason = models.CharField(max_length=16, choices=HoldReason.choices)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    class Meta:
        ordering = ["-set_at"]
        indexes = [models.Index(fields=["practice", "patient_id", "released_at"], name="hold_by_patient")]
        # One open hold per patient: a second "set" of the same record is refused, not doubled.
        constraints = [
            models.UniqueConstraint(fields=["practice", "patient_id"], condition=models.Q(released_at__isnull=True), name="one_open_hold")
        ]

    def __str__(self) -> str:
        return f"legal-hold:{self.pk}"


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Stopped by an error (it can be run again)"


class DeletionRun(TenantModel):
    request_id = models.UUIDField()
    patient_id = models.UUIDField()
    state = models.CharField(max_length=8, choices=RunState.choices, default=RunState.RUNNING)
    steps_done = models.JSONField(default=list)  # step names, in order
    counts = models.JSONField(default=dict)  # anonymous counts per step (what was erased)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["practice", "request_id"], name="one_deletion_run_per_request")]

    def __str__(self) -> str:
        return f"deletion-run:{self.pk}"
