"""What the door stores besides audit entries: the typed reason of a break-the-glass opening.

The reason is free text a clinician types ("patient unconscious in the waiting room, allergies
needed"): it may describe the patient's condition, so it is PHI and never goes into the audit
log (whose `reason` column holds the code `break-glass`). It is kept here, encrypted under the
patient's key (so crypto-shredding the patient erases it too), linked one-to-one to the flagged
`records:chart:opened` entry. The privacy officer reads it through the door
(`services.list_break_glass_openings`), which audits that reading in turn.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from confide.access.policy import BREAK_GLASS_REASON
from confide.core.models import TenantModel
from confide.core.text import multi_line
from confide.vault.fields import EncryptedTextField


class BreakGlassReason(TenantModel):
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    audit_entry = models.OneToOneField("audit.AuditEntry", on_delete=models.PROTECT, related_name="+")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = EncryptedTextField(category=BREAK_GLASS_REASON, subject_field="patient_id", validators=[multi_line])
    # The privacy officer's review: who marked the opening reviewed, and when (once: a
    # conditional UPDATE, services.do_mark_break_glass_reviewed). No PHI.
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"break-glass:{self.pk}"
