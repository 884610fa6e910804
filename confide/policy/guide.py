"""What a practice's override may change, read from the schema and the declaration itself.

The policy settings page shows it next to the override's text box. Nothing here is a hand-kept
list: the processor and retention ids, the floors, the allowed ages, the regimes and the
contacts come from the declaration (the latest version's, so the current values are shown),
and the field names from the override schema, so the guide cannot drift from what
`confide/policy/loader.py` accepts.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from confide.policy.schema import (
    Age,
    ContactOverride,
    ContactsOverride,
    Declaration,
    Processor,
    ProcessorOverride,
    RegimesOverride,
)


@dataclass(frozen=True)
class GuideProcessor:
    id: str
    name: str
    role: str
    in_use: bool
    baa_on_file: bool


@dataclass(frozen=True)
class GuideRetention:
    id: str
    label: str
    period: str
    minimum: str | None  # None: no floor (an open-ended period such as "while-active")


@dataclass(frozen=True)
class GuideRegime:
    id: str
    label: str
    in_force: bool


@dataclass(frozen=True)
class GuideContact:
    id: str
    title: str
    named: bool


@dataclass(frozen=True)
class Guide:
    processors: list[GuideProcessor]
    processor_fields: list[str]  # what else an existing processor's entry may set (besides id, in_use, baa_on_file)
    new_processor_fields: list[str]  # what a new processor must give
    retention: list[GuideRetention]
    age_minimums: tuple[int, ...]
    age_minimum: int
    guardian_may_start_care: bool
    regimes: list[GuideRegime]
    contacts: list[GuideContact]
    contact_fields: list[str]
    example: str  # a small override in the right form, with this practice's ids


def _literal_values(annotation) -> tuple:
    return typing.get_args(annotation)


def _example(declaration: Declaration) -> str:
    lines = []
    associate = next((p for p in declaration.processors if p.role == "business_associate"), None)
    if associate is not None:
        lines += [
            "[[processors]]",
            f'id = "{associate.id}"',
            "in_use = true",
            "baa_on_file = true  # only with a signed BAA in hand",
            "",
        ]
    rule = next((r for r in declaration.retention if r.minimum), None)
    if rule is not None:
        lines += ["[[retention]]", f'id = "{rule.id}"', f'period = "{rule.period}"  # not below {rule.minimum}', ""]
    lines += ["[contacts.privacy_officer]", 'name = "…"', 'email = "…"']
    return "\n".join(lines) + "\n"


def build_guide(declaration: Declaration) -> Guide:
    skip = {"id", "trains_models"}  # the id picks the entry; trains_models can only ever be false
    return Guide(
        processors=[GuideProcessor(p.id, p.name, p.role, p.in_use, p.baa_on_file) for p in declaration.processors],
        processor_fields=[name for name in ProcessorOverride.model_fields if name not in skip | {"in_use", "baa_on_file"}],
        new_processor_fields=[name for name, f in Processor.model_fields.items() if f.is_required() and name not in skip],
        retention=[GuideRetention(r.id, r.label, r.period, r.minimum) for r in declaration.retention],
        age_minimums=_literal_values(Age.model_fields["minimum"].annotation),
        age_minimum=declaration.age.minimum,
        guardian_may_start_care=declaration.age.guardian_may_start_care_below_minimum,
        regimes=[
            GuideRegime(name, getattr(declaration.regimes, name).label, getattr(declaration.regimes, name).in_force)
            for name in RegimesOverride.model_fields
        ],
        contacts=[
            GuideContact(name, getattr(declaration.contacts, name).title, getattr(declaration.contacts, name).is_named)
            for name in ContactsOverride.model_fields
        ],
        contact_fields=list(ContactOverride.model_fields),
        example=_example(declaration),
    )
