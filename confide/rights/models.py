"""A rights request: who asked (the portal account, acting for themselves or as a minor's parent
or guardian), about which record, what kind, when, and by when it must be answered.

The optional detail the patient types may say anything about their health: it is sealed under
the patient's key (category `communications.messages`: a message from the patient to the
practice), written only through the chart door (confide/rights/services.py), never logged."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from confide.core.models import TenantModel
from confide.core.text import multi_line
from confide.vault.fields import EncryptedTextField

DETAIL_MAX = 2000


class RequestKind(models.TextChoices):
    # Labels are how the patient and the privacy officer read them (plain words).
    SEE = "see", "See my information"
    COPY = "copy", "Get a copy of my information"
    CORRECT = "correct", "Correct something"
    DELETE = "delete", "Delete my information"
    RESTRICT = "restrict", "Limit or stop a use of my information"
    OTHER = "other", "Something else"


class RequestStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    DECLINED = "declined", "Declined"


OPEN_STATUSES = (RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS)


class RightsRequest(TenantModel):
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.RECEIVED)
    # The portal account that asked, and whether as the patient's representative (a minor's
    # parent or guardian: MIN3) rather than for themselves.
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    by_representative = models.BooleanField(default=False)
    received_at = models.DateTimeField()
    due_on = models.DateField()
    detail = EncryptedTextField(category="communications.messages", subject_field="patient_id", validators=[multi_line], blank=True, null=True)

    class Meta:
        ordering = ["due_on", "received_at"]
        indexes = [models.Index(fields=["practice", "status", "due_on"], name="rights_open_by_due")]

    def __str__(self) -> str:
        return f"rights-request:{self.pk}"
