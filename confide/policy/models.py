"""Versions of a practice's privacy declaration: immutable once written.

A `PolicyVersion` holds the override its privacy officer typed (TOML), the whole declaration it
resolves to (the shipped default with the override applied, frozen as JSON so a later upgrade of
the default cannot change what an old version said), and when it takes effect. Version 1 of a
practice is the default, made when the practice is created. The notice in force at a moment is
the latest version whose `effective_at` has passed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from confide.core.models import TenantModel
from confide.core.text import multi_line, single_line


class PolicyVersion(TenantModel):
    number = models.PositiveIntegerField()
    override_toml = models.TextField(blank=True, validators=[multi_line])
    resolved = models.JSONField()
    digest = models.CharField(max_length=64)  # SHA-256 of the canonical resolved JSON
    default_version = models.CharField(max_length=20)  # the shipped default's `version` it was built on
    effective_at = models.DateTimeField()
    material = models.BooleanField(default=False)
    summary = models.CharField(max_length=300, blank=True, validators=[single_line])  # what changed, in words; about the policy, never a person
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["practice", "number"], name="policy_version_unique_number")]

    def __str__(self) -> str:
        return f"policy:{self.practice_id}:v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("policy versions are immutable: publish a new one")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("policy versions are immutable")


class NoticeDelivery(TenantModel):
    """That the people a material change affects were told of it, one row per recipient and
    channel: staff by their account email, patients by the email they registered (through the
    egress gate). Unique, so a retried notice task never tells anyone twice."""

    class Outcome(models.TextChoices):
        SENT = "sent"
        REFUSED = "refused"  # the egress gate said no (e.g. no BAA with the email processor); `reason` says why

    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="deliveries")
    recipient_kind = models.CharField(max_length=16)  # staff | patient
    recipient_id = models.CharField(max_length=64)  # a user id or a patient id; never an address
    channel = models.CharField(max_length=16, default="email")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "recipient_kind", "recipient_id", "channel"], name="notice_delivery_once"),
        ]


class NoticeAcknowledgement(TenantModel):
    """Evidence that someone saw or accepted a version of the notice (POL2), one row per
    version, subject and kind. Subjects are generic (`staff` + user id today; the portal adds
    `patient` + patient id) so the banner and the report serve both. Append-only: evidence is
    never edited or withdrawn; a later version gets rows of its own."""

    class Kind(models.TextChoices):
        SEEN = "seen"  # opened the version's page while signed in
        ACCEPTED = "accepted"  # pressed "I have read it"

    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="acknowledgements")
    subject_kind = models.CharField(max_length=16)  # staff | patient
    subject_id = models.CharField(max_length=64)  # a user id or a patient id; never a name or an address
    kind = models.CharField(max_length=16, choices=Kind.choices)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "subject_kind", "subject_id", "kind"], name="notice_acknowledgement_once"),
        ]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("acknowledgements are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("acknowledgements are append-only")
