"""The egress gate: the one check every outbound flow makes before patient data leaves for a
processor (ARCHITECTURE rule 8; PRC1, DSC3, MIN1).

    permit = check_egress(practice_id=…, processor_id="email", purpose=Purpose.OPERATIONS,
                          categories={"contact.email"}, actor=…, subject_ids=[patient.id])

It reads the declaration in force for the practice and refuses, each on its own line, with an
`EgressRefused` carrying a code and a `policy:egress:refused` audit entry:

1. a purpose that is not one of Confide's (there is no purpose that sells data or trains a
   third party's model, so "sale" or "ai_training" can only ever be refused);
2. a category outside the taxonomy, or none at all;
3. a processor that is not declared, or declared but not in use;
4. a purpose the processor is not declared for;
5. a category the processor is not declared to receive;
6. PHI to a processor without a Business Associate Agreement on file (first-party processors,
   the practice's own server, need none);
7. a child below the practice's minimum age, to anyone but a first party (MIN1).

A permitted flow writes one `policy:egress:allowed` entry (processor, purpose, categories, the
subjects' ids; never the data). Like the chart door, entries join a caller's transaction: call
it outside your own `atomic` if a refusal must stay on record when you roll back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from confide.core.purposes import Purpose
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.errors import Forbidden
from confide.policy.schema import Processor

logger = logging.getLogger(__name__)


class EgressRefused(Forbidden):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class EgressPermit:
    processor: Processor
    purpose: Purpose
    categories: frozenset[str]
    policy_version: int


def check_egress(
    *,
    practice_id: uuid.UUID,
    processor_id: str,
    purpose,
    categories: Iterable[str],
    actor=None,
    subject_ids: Iterable = (),
    youngest_age: int | None = None,
    request=None,
) -> EgressPermit:
    """Permit data of `categories` about `subject_ids` to go to `processor_id` for `purpose`,
    or raise EgressRefused. `youngest_age`: the youngest subject's age in years, when known."""
    from confide.policy.services import declaration_of, version_in_force

    version = version_in_force(practice_id)
    declaration = declaration_of(version)
    wanted = frozenset({categories} if isinstance(categories, str) else (str(c) for c in categories))
    subjects = [str(s) for s in subject_ids]
    context = {"processor": str(processor_id)[:40], "policy_version": version.number}

    def refuse(code: str, message: str, purpose_value: str = "") -> EgressRefused:
        record(
            AuditEvent.POLICY_EGRESS_REFUSED,
            practice_id=practice_id,
            actor=actor,
            purpose=purpose_value,
            resource_ids=subjects,
            categories=sorted(wanted & set(declaration.categories)),
            outcome="denied",
            reason=code,
            detail=context,
            request=request,
        )
        logger.info("egress refused", extra={"code": code})
        return EgressRefused(code, message)

    try:
        checked = Purpose(purpose)
    except ValueError:
        raise refuse("unknown_purpose", f"{str(purpose)[:40]!r} is not a purpose; nothing in Confide sells data or trains models with it") from None
    unknown = sorted(wanted - set(declaration.categories))
    if unknown:
        raise refuse("unknown_category", f"unknown data category {unknown[0][:64]!r}", checked.value)
    if not wanted:
        raise refuse("nothing_declared", "name the categories of data that leave", checked.value)
    processor = declaration.processor(str(processor_id))
    if processor is None:
        raise refuse("processor_not_declared", f"no processor {str(processor_id)[:40]!r} is declared in the privacy policy", checked.value)
    if not processor.in_use:
        raise refuse("processor_not_in_use", f"{processor.name} is declared but not in use by this practice", checked.value)
    if checked.value not in processor.purposes:
        raise refuse("purpose_not_declared", f"{processor.name} is not declared for {checked.value}", checked.value)
    undeclared = sorted(wanted - declaration.expand(processor.categories))
    if undeclared:
        raise refuse("category_not_declared", f"{processor.name} is not declared to receive {', '.join(undeclared)}", checked.value)
    phi = wanted & declaration.phi_categories()
    if phi and processor.role != "first_party" and not (processor.role == "business_associate" and processor.baa_on_file):
        raise refuse("no_baa", f"{processor.name} has no Business Associate Agreement on file, so it may not receive health information", checked.value)
    if youngest_age is not None and youngest_age < declaration.age.minimum and processor.role != "first_party":
        raise refuse("child_below_minimum_age", "a child's data below the practice's minimum age is not disclosed to third parties", checked.value)
    record(
        AuditEvent.POLICY_EGRESS_ALLOWED,
        practice_id=practice_id,
        actor=actor,
        purpose=checked.value,
        resource_ids=subjects,
        categories=sorted(wanted),
        detail=context,
        request=request,
    )
    return EgressPermit(processor=processor, purpose=checked, categories=wanted, policy_version=version.number)
