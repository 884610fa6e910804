"""Recording choices in tests the way the product does: through the consent services."""

from __future__ import annotations

from confide.consent import services
from confide.consent.services import Subject
from confide.core.actors import StaffActor
from confide.core.permissions import Role

PHONE_SCRIPT = "May we send you news and offers? You can say stop at any time. [The patient said yes.]"


def by_phone(practice_world, patient_id, topic, action: str = "grant", *, role: Role = Role.FRONT_DESK, shown_text: str = PHONE_SCRIPT):
    """The front desk (by default) records what the patient said on the phone."""
    actor = StaffActor.from_membership(practice_world.memberships[role])
    return services.do_choose(
        action=action,
        actor=actor,
        subject=Subject.patient(practice_world.practice.id, patient_id),
        topic=topic,
        channel="phone",
        method="staff_phone",
        shown_text=shown_text,
    )
