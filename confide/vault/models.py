"""Wrapped data keys. The database holds only keys wrapped by a KEK it never sees."""

from __future__ import annotations

from django.db import models

from confide.core.models import TenantModel


class PracticeKey(TenantModel):
    """One per practice: the KEK reference and the practice-level keys wrapped by it."""

    key_manager = models.CharField(max_length=20)
    kek_id = models.CharField(max_length=300)
    wrapped_data_keyset = models.BinaryField()  # Tink AEAD keyset for practice-owned secrets
    wrapped_index_key = models.BinaryField()  # 32-byte HMAC key for blind indexes
    kek_rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice"], name="practice_key_one_per_practice")]


class SubjectKey(TenantModel):
    """A data subject's (patient's) data key, one row per key version.

    Fields carry the version that encrypted them, so rotation can re-encrypt row by row while
    both versions stay usable, and a crash leaves everything readable. Shredding empties
    `wrapped_keyset` of every version and tombstones the subject outside the database."""

    class State(models.TextChoices):
        ACTIVE = "active"  # the version new encryptions use
        RETIRING = "retiring"  # still decrypts; rotation is moving data off it
        DESTROYED = "destroyed"  # rotation finished or the subject was shredded

    subject_id = models.UUIDField(db_index=True)
    version = models.PositiveIntegerField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    wrapped_keyset = models.BinaryField(null=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)
    # Bumped on every row of the subject whenever the subject's key material changes (a shred,
    # a rotation's switch and its end): the subject's generation is the largest of its rows'.
    # A keyset unwrapped into the process cache (keys.py) is used only while the generation
    # read with the patient still equals the one it was unwrapped at, in this process or any.
    generation = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["subject_id", "version"]
        constraints = [models.UniqueConstraint(fields=["subject_id", "version"], name="subject_key_unique_version")]


class BlindIndexEntry(TenantModel):
    """A keyed hash of one normalised search token of one subject (see blind_index.py)."""

    subject_id = models.UUIDField()
    kind = models.CharField(max_length=16)  # email | phone | dob | name
    digest = models.CharField(max_length=32)

    class Meta:
        indexes = [
            models.Index(fields=["practice", "kind", "digest"], name="blind_index_lookup"),
            # replace_entries reads and deletes one subject's entries of one kind; led by
            # practice_id because every query here is tenant-scoped (records/models.py, Patient).
            models.Index(fields=["practice", "subject_id", "kind"], name="blind_index_subject_kind"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["subject_id", "kind", "digest"], name="blind_index_unique_entry")
        ]


class PlatformKey(models.Model):
    """The single installation-wide data key (see platform.py). Not tenant-owned."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    key_manager = models.CharField(max_length=20)
    kek_id = models.CharField(max_length=300)
    wrapped_keyset = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
