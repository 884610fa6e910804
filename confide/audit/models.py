"""Audit entries and the head of each chain.

An entry commits to the previous entry's hash: `hash = SHA-256(canonical(entry) ‖ prev_hash)`.
Sequence numbers are per chain, gap-free, assigned under a lock on the chain head row. Entries
hold ids, categories and field names — never values. The log is append-only in code (`save`
refuses updates) and in the database (triggers refuse UPDATE, DELETE and TRUNCATE).
"""

from __future__ import annotations

import uuid

from django.db import models

GENESIS = "0" * 64


class ChainHead(models.Model):
    """The last entry of one chain. `chain` is a practice id, or "platform" for practice-less events."""

    chain = models.CharField(max_length=40, primary_key=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)
    # The last signed checkpoint scheduled for this chain (0: none yet), and when: the clock for
    # CONFIDE_AUDIT_CHECKPOINT_MINUTES (it starts at the chain's first entry). Updated under the
    # same lock and in the same transaction as seq/hash; see confide/audit/checkpoints.py.
    checkpoint_seq = models.BigIntegerField(default=0)
    checkpoint_at = models.DateTimeField(null=True, blank=True)


class AuditEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    chain = models.CharField(max_length=40)
    seq = models.BigIntegerField()
    at = models.DateTimeField()
    event = models.CharField(max_length=64)
    practice_id = models.UUIDField(null=True, blank=True)
    actor_kind = models.CharField(max_length=16)  # user | patient | system | token | anonymous
    actor_id = models.CharField(max_length=64, blank=True)
    actor_role = models.CharField(max_length=32, blank=True)
    purpose = models.CharField(max_length=32, blank=True)
    subject_id = models.UUIDField(null=True, blank=True)
    resource_ids = models.JSONField(default=list)
    categories = models.JSONField(default=list)
    fields_changed = models.JSONField(default=list)
    outcome = models.CharField(max_length=16, default="ok")
    reason = models.CharField(max_length=32, blank=True)  # a code (error-correction, immaterial, ...), never free text
    flagged = models.BooleanField(default=False)
    detail = models.JSONField(default=dict)  # ids and counts only
    request_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_entry_unique_seq")]
        indexes = [
            models.Index(fields=["practice_id", "at"], name="audit_practice_time"),
            models.Index(fields=["subject_id", "at"], name="audit_subject_time"),
        ]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("audit entries are append-only")
