"""Who may make a consent choice besides staff: a visitor of a practice's public pages (known
only by the random id of their visitor cookie) and a patient acting for themselves (the portal
issue will move `PatientActor` to confide.core.actors when the portal signs patients in)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class VisitorActor:
    practice_id: uuid.UUID
    visitor_id: str


@dataclass(frozen=True)
class PatientActor:
    practice_id: uuid.UUID
    patient_id: uuid.UUID


@dataclass(frozen=True)
class ApplicantActor:
    """A visitor sending an online consultation: they authorize keeping what they send, for the
    consultation they are sending (its id) and nothing else."""

    practice_id: uuid.UUID
    submission_id: uuid.UUID
