"""The consent ledger (CON1, CON2) and the de-identified usage counts (TRK2).

* `ConsentEvent`: one choice, appended, never changed (the model refuses, and so do database
  triggers, `migrations/0002_append_only_triggers.py`). Who (subject kind and id; the staff
  member who recorded it), what (topic, the purpose it maps to, action, scope), when (`at`),
  how (channel, method, the SHA-256 of the exact text shown), under which version of the
  privacy notice, and whether it overrode an earlier choice (`conflict`, `overrides`).
* `ConsentEvidence`: for a patient who acted from a browser, the IP address and user agent,
  encrypted under the patient's key (TRK1: technical data kept apart from identity, erased
  with the patient by crypto-shredding). Rows are never deleted and only their ciphertext may
  be re-sealed (key rotation); the triggers allow exactly that. A visitor's event stores no raw
  IP: only the network prefix (/24, /48) and the browser family, on the event itself.
* `ConsentState`: a cache of the fold of each (subject, topic)'s events (`state.fold`), written
  in the transaction that appends, rebuilt by `confide consent rebuild`. Never edited otherwise.
* `UsageCount`: page views per practice, route name and day; no visitor, IP or user agent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from confide.consent.topics import TOPICS, Action, Channel, Method, SubjectKind, Topic
from confide.core.models import TenantModel
from confide.vault.fields import EncryptedTextField, encrypted_fields

APPEND_ONLY = "consent events are append-only"


def _choices(enum) -> list[tuple[str, str]]:
    return [(m.value, m.value) for m in enum]


def _topic_purpose_pairs() -> Q:
    pairs = Q()
    for spec in TOPICS.values():
        pairs |= Q(topic=spec.topic.value, purpose=str(spec.purpose))
    return pairs


class ConsentEvent(TenantModel):
    subject_kind = models.CharField(max_length=16, choices=_choices(SubjectKind))
    subject_id = models.CharField(max_length=64)  # patient UUID, visitor id, or user id
    patient = models.ForeignKey("records.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    topic = models.CharField(max_length=32, choices=_choices(Topic))
    purpose = models.CharField(max_length=32)  # the topic's Purpose (or opt-out scope): checked against the topic
    action = models.CharField(max_length=16, choices=_choices(Action))
    channel = models.CharField(max_length=16, choices=_choices(Channel))  # where the choice was made
    scope = models.CharField(max_length=64, blank=True)  # narrows a topic, e.g. one appointment's recording
    policy_version = models.PositiveIntegerField()  # the number of the practice's PolicyVersion in force
    method = models.CharField(max_length=16, choices=_choices(Method))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    text_sha256 = models.CharField(max_length=64)  # of the exact text shown (or read out) when the choice was made
    ip_prefix = models.CharField(max_length=49, blank=True)  # visitors and staff: the /24 or /48 network, never the address
    ua_family = models.CharField(max_length=24, blank=True)  # visitors and staff: "Firefox", "Chrome", …, never the string
    at = models.DateTimeField()
    # A browser signal that overrode an earlier explicit choice (GPC against an older opt-in):
    # the state follows the signal, and the subject is asked once which they want.
    conflict = models.BooleanField(default=False)
    overrides = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["at", "created_at"]
        indexes = [models.Index(fields=["practice", "subject_kind", "subject_id", "topic", "at"], name="consent_event_subject")]
        constraints = [
            models.CheckConstraint(condition=_topic_purpose_pairs(), name="consent_event_topic_purpose"),
            models.CheckConstraint(
                condition=(Q(subject_kind=SubjectKind.PATIENT.value, patient__isnull=False))
                | (~Q(subject_kind=SubjectKind.PATIENT.value) & Q(patient__isnull=True)),
                name="consent_event_patient_fk",
            ),
            # A patient's network data is PHI: it goes to ConsentEvidence, encrypted, never here.
            models.CheckConstraint(
                condition=~Q(subject_kind=SubjectKind.PATIENT.value) | (Q(ip_prefix="") & Q(ua_family="")),
                name="consent_event_no_patient_network",
            ),
            models.CheckConstraint(condition=~Q(conflict=True) | Q(overrides__isnull=False), name="consent_event_conflict_names_choice"),
        ]

    def __str__(self) -> str:
        return f"consent:{self.pk}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RuntimeError(APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError(APPEND_ONLY)


class ConsentEvidence(TenantModel):
    event = models.OneToOneField(ConsentEvent, on_delete=models.PROTECT, related_name="evidence")
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    ip_address = EncryptedTextField(category="technical.network", subject_field="patient_id")
    user_agent = EncryptedTextField(category="technical.device", subject_field="patient_id")

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"consent-evidence:{self.pk}"

    def save(self, *args, **kwargs):
        # Key rotation re-seals the ciphertext in place (vault/rotation.py); nothing else changes.
        resealable = {f.name for f in encrypted_fields(type(self))} | {f.attname for f in encrypted_fields(type(self))} | {"updated_at"}
        if not self._state.adding and not set(kwargs.get("update_fields") or ("*",)) <= resealable:
            raise RuntimeError("consent evidence is append-only (only its ciphertext may be re-sealed)")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("consent evidence is append-only")


class ConsentState(TenantModel):
    """The fold of one subject's events of one topic (see confide/consent/state.py)."""

    subject_kind = models.CharField(max_length=16, choices=_choices(SubjectKind))
    subject_id = models.CharField(max_length=64)
    topic = models.CharField(max_length=32, choices=_choices(Topic))
    granted = models.BooleanField(default=False)
    last_action = models.CharField(max_length=16, blank=True)
    last_method = models.CharField(max_length=16, blank=True)
    last_at = models.DateTimeField(null=True, blank=True)
    last_event = models.ForeignKey(ConsentEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    signal_at = models.DateTimeField(null=True, blank=True)
    conflict_pending = models.BooleanField(default=False)
    events = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["subject_kind", "subject_id", "topic"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "subject_kind", "subject_id", "topic"], name="consent_state_one_per_topic"),
        ]

    def __str__(self) -> str:
        return f"consent-state:{self.subject_kind}:{self.topic}"


class UsageCount(TenantModel):
    """De-identified usage statistics: how often a public page (by route name) was viewed on a day."""

    day = models.DateField()
    route = models.CharField(max_length=64)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day", "route"]
        constraints = [models.UniqueConstraint(fields=["practice", "day", "route"], name="usage_count_one_per_route_day")]

    def __str__(self) -> str:
        return f"usage:{self.day}:{self.route}"
