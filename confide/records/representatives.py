"""Personal representatives of minors (HIPAA §164.502(g); MIN3), the staff side: whether a record
may get a parent's or guardian's portal link at all (`check_representative_allowed`), and the
authorization document kept with such a link (`do_attach_representative_document`).

A representative link is for a minor: the chart door reads the date of birth (registration, for
operations) and an adult's record, or one without a date of birth, is refused with a message the
staff member can act on. At 18 the links end by themselves (records/majority.py).
"""

from __future__ import annotations

import uuid

from django.utils import timezone

from confide.access import policy
from confide.access.door import open_chart
from confide.core.actors import StaffActor
from confide.core.errors import InvalidInput
from confide.core.purposes import Purpose
from confide.records.majority import MAJORITY, age_on

ADULT_MESSAGE = (
    "This patient is 18 or older. A parent or guardian cannot get portal access to an adult's record: "
    "invite the patient to their own account instead."
)
NO_DOB_MESSAGE = "Add the patient's date of birth first: a parent or guardian gets portal access only to the record of someone under 18."


def check_representative_allowed(actor: StaffActor, patient_id: uuid.UUID, *, request=None) -> None:
    """InvalidInput unless the patient is under 18 today (the practice's calendar). The date of
    birth is read through the chart door as `actor` (identifiers.dob, purpose operations: one
    audited opening); another practice's patient is the door's NotFound, a role without the
    date of birth its AccessRefused."""
    with open_chart(actor, patient_id, Purpose.OPERATIONS, categories={policy.DOB}, request=request) as chart:
        born = chart.patient.date_of_birth
    if born is None:
        raise InvalidInput(NO_DOB_MESSAGE)
    if age_on(born, timezone.localdate()) >= MAJORITY:
        raise InvalidInput(ADULT_MESSAGE)
