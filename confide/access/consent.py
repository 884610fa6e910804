"""A patient's own consent choice, recorded with its browser evidence through the chart door.

The consent ledger sits below the door (policy/consent < access), so it cannot open the door
for the evidence it must seal under the patient's key (IP address and user agent, TRK1). This
is the one place above both: the ledger checks the choice first (a clear error before anything
is opened), the door opens as the registered `consent-evidence` job for exactly the evidence's
categories (its own `records:chart:opened` entry, refusing an erased or inactive record), and
the ledger appends the event, its evidence, the projection and the audit entry in the door's
transaction."""

from __future__ import annotations

from confide.access.door import CONSENT_EVIDENCE_JOB, open_chart
from confide.consent import services as consent
from confide.consent.actors import PatientActor
from confide.consent.models import ConsentEvent
from confide.consent.topics import Action
from confide.core.errors import Forbidden, InvalidInput
from confide.core.purposes import Purpose


def do_patient_choice(
    *, action, actor: PatientActor, subject, topic, channel, method, shown_text: str, scope: str = "", request=None
) -> ConsentEvent:
    if not isinstance(actor, PatientActor):
        raise Forbidden("this records a patient's own choice; staff and visitors use confide.consent.services")
    try:
        checked = Action(action)
    except ValueError:
        raise InvalidInput(f"{str(action)[:20]!r} is not a choice; the choices are: grant, withdraw, decline.") from None
    choice = consent.check_choice(checked, actor, subject, topic, channel, method, shown_text, scope, None, request)
    if not choice.evidence:  # no browser request, nothing sealed: the ledger alone
        return consent.append_choice(choice)
    job = CONSENT_EVIDENCE_JOB.for_practice(subject.practice_id)
    with open_chart(job, subject.id, Purpose.OPERATIONS, categories=job.categories, request=request, for_update=True):
        return consent.append_choice(choice)
