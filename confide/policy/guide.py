"""What a practice's override may change, read from the schema and the declaration itself.

The policy settings page shows it next to the override's text box. Nothing here is a hand-kept
list: the processor and retention ids, the floors, the allowed ages, the regimes and the
contacts come from the declaration, and the field names from the override schema, so the guide
cannot drift from what `confide/policy/loader.py` accepts.

Its values are the ones *in force now*. When a later version is published but not yet in force
(`upcoming`), each row also carries that version's value, so the page says what applies today
and what is coming, never the coming value as if it applied already.
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
    in_use: bool | None  # None: not declared in the version in force (a processor the upcoming version adds)
    baa_on_file: bool | None
    upcoming_in_use: bool | None = None  # in the upcoming version, when there is one
    upcoming_baa_on_file: bool | None = None


@dataclass(frozen=True)
class GuideRetention:
    id: str
    label: str
    period: str  # in force now
    minimum: str | None  # None: no floor (an open-ended period such as "while-active")
    upcoming_period: str | None = None  # in the upcoming version, when there is one


@dataclass(frozen=True)
class GuideRegime:
    id: str
    label: str
    in_force: bool
    upcoming_in_force: bool | None = None


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
    minor_controls: tuple[str, ...]  # the categories a minor controls now (MIN3's exceptions)
    regimes: list[GuideRegime]
    contacts: list[GuideContact]
    contact_fields: list[str]
    example: str  # a small override in the right form, with this practice's ids
    upcoming: Upcoming | None = None


@dataclass(frozen=True)
class Upcoming:
    """The latest published version, when it is not yet in force."""

    number: int
    effective_at: object  # datetime
    age_minimum: int
    guardian_may_start_care: bool


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


def _processors(declaration: Declaration, upcoming: Declaration | None) -> list[GuideProcessor]:
    rows = []
    for p in declaration.processors:
        later = upcoming.processor(p.id) if upcoming is not None else None
        rows.append(GuideProcessor(p.id, p.name, p.role, p.in_use, p.baa_on_file,
                                   later.in_use if later else None, later.baa_on_file if later else None))  # fmt: skip
    if upcoming is not None:  # a processor only the upcoming version declares
        known = {p.id for p in declaration.processors}
        rows += [GuideProcessor(p.id, p.name, p.role, None, None, p.in_use, p.baa_on_file) for p in upcoming.processors if p.id not in known]
    return rows


def build_guide(declaration: Declaration, *, upcoming: Declaration | None = None, upcoming_version=None) -> Guide:
    """The guide for `declaration` (the version in force); `upcoming` is the declaration of a later
    published version not yet in force (`upcoming_version` that version), shown beside it."""
    skip = {"id", "trains_models"}  # the id picks the entry; trains_models can only ever be false
    later_periods = {r.id: r.period for r in upcoming.retention} if upcoming is not None else {}
    return Guide(
        processors=_processors(declaration, upcoming),
        processor_fields=[name for name in ProcessorOverride.model_fields if name not in skip | {"in_use", "baa_on_file"}],
        new_processor_fields=[name for name, f in Processor.model_fields.items() if f.is_required() and name not in skip],
        retention=[GuideRetention(r.id, r.label, r.period, r.minimum, later_periods.get(r.id)) for r in declaration.retention],
        age_minimums=_literal_values(Age.model_fields["minimum"].annotation),
        age_minimum=declaration.age.minimum,
        guardian_may_start_care=declaration.age.guardian_may_start_care_below_minimum,
        minor_controls=tuple(declaration.age.minor_controls),
        regimes=[
            GuideRegime(name, getattr(declaration.regimes, name).label, getattr(declaration.regimes, name).in_force,
                        getattr(upcoming.regimes, name).in_force if upcoming is not None else None)  # fmt: skip
            for name in RegimesOverride.model_fields
        ],
        upcoming=None if upcoming is None else Upcoming(
            upcoming_version.number, upcoming_version.effective_at, upcoming.age.minimum, upcoming.age.guardian_may_start_care_below_minimum,
        ),  # fmt: skip
        contacts=[
            GuideContact(name, getattr(declaration.contacts, name).title, getattr(declaration.contacts, name).is_named)
            for name in ContactsOverride.model_fields
        ],
        contact_fields=list(ContactOverride.model_fields),
        example=_example(upcoming or declaration),  # the override being edited starts from the latest version
    )
