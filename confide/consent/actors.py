"""Who may make a consent choice besides staff: a visitor of a practice's public pages (known
only by the random id of their visitor cookie) and a patient acting for themselves or, as a
personal representative, for a minor (`PatientActor`, which lives in confide.core.actors beside
`StaffActor`: the portal signs patients in)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from confide.core.actors import PatientActor

__all__ = ["ApplicantActor", "PatientActor", "TextSenderActor", "VisitorActor"]


@dataclass(frozen=True)
class VisitorActor:
    practice_id: uuid.UUID
    visitor_id: str


@dataclass(frozen=True)
class ApplicantActor:
    """A visitor sending an online consultation: they authorize keeping what they send, for the
    consultation they are sending (its id) and nothing else."""

    practice_id: uuid.UUID
    submission_id: uuid.UUID


@dataclass(frozen=True)
class TextSenderActor:
    """A patient's own text message, matched to them by the number it came from (the messaging
    webhook, after Twilio's signature): STOP, START and a free-text "stop texting me" are the
    patient's choices about texts (TCPA: revocation by any reasonable means). It records only
    those, by the `sms_keyword` method through the SMS channel."""

    practice_id: uuid.UUID
    patient_id: uuid.UUID
