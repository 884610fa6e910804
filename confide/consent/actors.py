"""Who may make a consent choice besides staff: a visitor of a practice's public pages (known
only by the random id of their visitor cookie) and a patient acting for themselves or, as a
personal representative, for a minor (`PatientActor`, which lives in confide.core.actors beside
`StaffActor`: the portal signs patients in)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from confide.core.actors import PatientActor

__all__ = ["ApplicantActor", "PatientActor", "RightsRequestActor", "TextSenderActor", "VisitorActor"]


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


# The opt-out topics a request on the public privacy form may grant (CCPA §7026/§7027).
OPT_OUT_TOPIC_VALUES = frozenset({"sale_share_opt_out", "limit_sensitive", "profiling_opt_out"})


@dataclass(frozen=True)
class RightsRequestActor:
    """Someone who asked on the practice's public privacy-request form to opt out (of sale or
    sharing, of the use of sensitive information, of profiling), matched to one patient by name
    and date of birth. CCPA §7026/§7027: an opt-out needs no verification, and it only restricts,
    so it may only GRANT that patient's opt-out topics, by the form's button (confide/rights)."""

    practice_id: uuid.UUID
    patient_id: uuid.UUID
    request_id: uuid.UUID
