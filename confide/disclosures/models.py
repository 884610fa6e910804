"""One disclosure of a patient's PHI outside treatment, payment and operations (HIPAA §164.528(b)(2)):
when, to whom (and their address if known), a brief description of what, and the purpose or legal
basis. The recipient and the description say something about the patient's health (a psychiatric
hospital, "records of the 2025 injury"): sealed under the patient's key, category
`operations.disclosures`, written only through the chart door (services.py).

`basis` says why it happened; some bases are excluded from the accounting the patient receives
(§164.528(a)(1): to the patient, under their authorization, …) yet stay on record. `compelled`
marks a disclosure the law required (subpoena, court order, law enforcement): the patient is told
unless `notice_forbidden` records that the law or the order forbids it (DSC2)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from confide.core.models import TenantModel
from confide.core.text import multi_line, single_line
from confide.vault.fields import EncryptedTextField


class Basis(models.TextChoices):
    PATIENT_DIRECTED = "patient_directed", "At the patient's request, to a recipient they named"
    AUTHORIZATION = "authorization", "Under the patient's signed authorization"
    OTHER_PROVIDER = "other_provider", "Records release to another provider"
    ATTORNEY = "attorney", "Records release to an attorney"
    SUBPOENA = "subpoena", "Subpoena"
    COURT_ORDER = "court_order", "Court order"
    LAW_ENFORCEMENT = "law_enforcement", "Law enforcement"
    PUBLIC_HEALTH = "public_health", "Public health reporting"
    HEALTH_OVERSIGHT = "health_oversight", "Health oversight"
    REQUIRED_BY_LAW = "required_by_law", "Otherwise required by law"


# §164.528(a)(1)(iv): disclosures under the patient's authorization are left out of the
# accounting the patient receives (they are still recorded and shown to the privacy officer).
EXCLUDED_FROM_ACCOUNTING = frozenset({Basis.AUTHORIZATION})
COMPELLED_BASES = frozenset({Basis.SUBPOENA, Basis.COURT_ORDER, Basis.LAW_ENFORCEMENT, Basis.REQUIRED_BY_LAW})


class Source(models.TextChoices):
    RELEASE = "release", "Records release link"  # recorded by the share link itself
    COMPELLED = "compelled", "Compelled disclosure"  # recorded by the compelled-disclosure workflow
    MANUAL = "manual", "Recorded by staff"  # a paper release, a phone call to public health
    EXPORT = "export", "Copy sent to a recipient the patient named"


class Disclosure(TenantModel):
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    disclosed_at = models.DateTimeField()
    basis = models.CharField(max_length=20, choices=Basis.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    compelled = models.BooleanField(default=False)
    # DSC2: the law or the order forbids telling the patient (the privacy officer says which, in
    # `notice_forbidden_reason`, a fixed choice); `patient_notified_at` once the notice went out.
    notice_forbidden = models.BooleanField(default=False)
    notice_forbidden_until = models.DateField(null=True, blank=True)
    patient_notified_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    # The categories disclosed (taxonomy keys): what the amendment packet must travel with.
    categories = models.JSONField(default=list)
    # Which object made it (a release link's id), so one release is recorded once.
    source_id = models.UUIDField(null=True, blank=True)
    recipient = EncryptedTextField(category="operations.disclosures", subject_field="patient_id", validators=[single_line])
    recipient_address = EncryptedTextField(category="operations.disclosures", subject_field="patient_id", validators=[multi_line], blank=True, null=True)
    description = EncryptedTextField(category="operations.disclosures", subject_field="patient_id", validators=[multi_line])
    purpose = EncryptedTextField(category="operations.disclosures", subject_field="patient_id", validators=[multi_line])

    class Meta:
        ordering = ["disclosed_at"]
        indexes = [models.Index(fields=["practice", "patient", "disclosed_at"], name="disclosures_by_patient")]
        constraints = [
            models.UniqueConstraint(fields=["practice", "source", "source_id"], condition=models.Q(source_id__isnull=False), name="disclosure_once_per_source"),
        ]

    def __str__(self) -> str:
        return f"disclosure:{self.pk}"
