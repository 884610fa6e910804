"""Audit entries and the head of each chain.

An entry is written in two steps (confide/audit/chain.py): the action's transaction inserts it
*unsealed* (`seq`, `prev_hash`, `hash` NULL) with `content_hash` = SHA-256 of its canonical
content; the sealer later gives it the chain's next `seq` and its chain hash
`hash = link_hash(chain, seq, content_hash, prev_hash)`, once. Entries sealed before that
design (audit 0007) have no content_hash and keep `hash = SHA-256(canonical(entry))` over every
field, prev_hash included. Sequence numbers are per chain, gap-free, assigned by the sealer
under the chain head's lock. Entries hold ids, categories and field names — never values. The
log is append-only in code (`save` refuses updates) and in the database (triggers refuse
DELETE and TRUNCATE, and every UPDATE but the one from unsealed to sealed).
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
    seq = models.BigIntegerField(null=True, blank=True)  # NULL: not sealed yet
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
    prev_hash = models.CharField(max_length=64, null=True, blank=True)  # NULL: not sealed yet
    hash = models.CharField(max_length=64, null=True, blank=True)  # NULL: not sealed yet
    # SHA-256 of the entry's canonical content (chain.CONTENT_FIELDS), computed at insert. NULL
    # only for entries sealed before audit 0007 (their `hash` covers the content directly).
    content_hash = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        # Sealed entries in chain order, then those still waiting for the sealer, by insertion.
        ordering = ["chain", models.F("seq").asc(nulls_last=True), "id"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_entry_unique_seq")]
        indexes = [
            models.Index(fields=["practice_id", "at"], name="audit_practice_time"),
            models.Index(fields=["subject_id", "at"], name="audit_subject_time"),
            # What the sealer reads: a chain's unsealed entries by id (small: the last second's).
            models.Index(fields=["chain", "id"], name="audit_unsealed", condition=models.Q(seq__isnull=True)),
        ]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("audit entries are append-only")
