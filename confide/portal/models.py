"""What the portal keeps: the downloads of "My record" a portal account asked for (RTS2)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from confide.core.models import TenantModel


class RecordExport(TenantModel):
    """A copy of a record made for the portal account that asked for it: a FHIR bundle or a PDF
    summary, made by a background task (portal/exports.py), stored encrypted under the patient's
    key (`stored_name`, in the vault's encrypted files), offered to that account only, until
    `expires_at` (CONFIDE_PORTAL_DOWNLOAD_MINUTES after it is ready); the clean-up task then
    deletes the file. The row keeps ids and states only, never anything of the record."""

    class Format(models.TextChoices):
        FHIR = "fhir", "FHIR file (for another health app)"
        PDF = "pdf", "PDF summary (to read or print)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Being made"
        DONE = "done", "Ready"
        FAILED = "failed", "Could not be made"

    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The link the account acted through (its own record, or a child's as a parent): the task
    # opens the record as that link, which the door re-reads (an ended link makes nothing).
    link_id = models.UUIDField()
    format = models.CharField(max_length=8, choices=Format.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    stored_name = models.CharField(max_length=255, blank=True)  # "" until made, and again once deleted
    category = models.CharField(max_length=64, blank=True)  # the category the file is sealed under
    size = models.PositiveBigIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["practice", "requested_by", "patient", "created_at"], name="record_export_by_account"),
            models.Index(fields=["practice", "expires_at"], name="record_export_by_expiry"),
        ]

    def __str__(self) -> str:
        return f"record-export:{self.pk}"
