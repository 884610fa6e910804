"""The shape of a privacy declaration, and of a practice's override of it (pydantic, strict).

`Declaration` is the whole thing (confide/policy/default.toml, or that file with a practice's
override applied); `Override` is what a practice may change. Unknown keys are errors
(`extra="forbid"`), so a typo fails the load instead of being ignored. Cross-references
(a processor's categories, a retention rule's categories, the purposes) are checked against the
declaration's own taxonomy and against the code's `Purpose` enum.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from confide.core.purposes import Purpose
from confide.core.text import check_line

CATEGORY_KEY = re.compile(r"^[a-z]+(?:\.[a-z_]+)+$")
PERIOD = re.compile(r"^(?:(?P<n>[1-9][0-9]{0,3})(?P<unit>[dmy])|while-active|until-unsubscribe)$")
_UNIT_DAYS = {"d": 1, "m": 30, "y": 365}  # for comparing periods only; the engine computes calendar dates

# What the notice shows, and the contacts people write to: one line each, without control
# characters, bidi overrides or only invisible characters (confide/core/text.py).
_one_line = AfterValidator(check_line)
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), _one_line]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), _one_line]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]


class ReferenceProblem(ValueError):
    """A rule broken across fields; `loc` says where (pydantic keeps the exception in ctx)."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = loc


class Strict(BaseModel):
    # strict: TOML values are typed already, so "yes" for a boolean is a mistake to report, not coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, strict=True)


class Category(Strict):
    label: ShortText
    description: Text
    phi: bool
    sensitive: bool = False
    retired: bool = False


class PurposeDecl(Strict):
    label: ShortText
    description: Text
    needs_consent: bool = False


class Processor(Strict):
    id: Slug
    name: ShortText
    service: Text
    role: Literal["first_party", "business_associate", "service_provider"]
    categories: list[str]
    purposes: list[str]
    baa_on_file: bool
    location: ShortText
    in_use: bool
    # DSC3, by construction: no processor may use the data to train models, and nothing sells it.
    trains_models: Literal[False] = False


class Retention(Strict):
    id: Slug
    label: ShortText
    categories: list[str]
    period: str
    minimum: str | None = None
    starts: ShortText
    then: Text = ""

    @field_validator("period", "minimum")
    @classmethod
    def _period(cls, value: str | None) -> str | None:
        if value is not None and not PERIOD.match(value):
            raise ValueError('a period is "while-active", "until-unsubscribe", or a number with d, m or y (e.g. 90d, 7y)')
        return value

    @model_validator(mode="after")
    def _not_below_minimum(self) -> Retention:
        if self.minimum is not None and period_days(self.period) < period_days(self.minimum):
            raise ReferenceProblem(("period",), f"period {self.period} is shorter than this rule's minimum {self.minimum}")
        return self


class Age(Strict):
    minimum: Literal[13, 18]
    guardian_may_start_care_below_minimum: bool
    guardian_until: Literal[18] = 18
    # MIN3's per-category exceptions (HIPAA §164.502(g)(3)): the data categories a minor
    # controls in this practice (some states let minors consent alone to mental-health,
    # reproductive-health or substance-use care, and then keep that record from their parents).
    # A parent or guardian's portal link never opens them (access/door.py). Empty: the practice
    # decides case by case, and the portal shows the representative the whole portal grant.
    minor_controls: list[str] = []


class Deadline(Strict):
    respond_days: int = Field(ge=1, le=365)
    extension_days: int = Field(ge=0, le=365)
    lookback_years: int | None = Field(default=None, ge=1, le=10)


class Hipaa(Strict):
    label: ShortText
    in_force: bool
    access: Deadline
    amendment: Deadline
    accounting_of_disclosures: Deadline


class Ccpa(Strict):
    label: ShortText
    in_force: bool
    acknowledge_business_days: int = Field(ge=1)
    respond_days: int = Field(ge=1)
    extension_days: int = Field(ge=0)
    opt_out_business_days: int = Field(ge=1)
    limit_sensitive_business_days: int = Field(ge=1)
    shine_the_light_respond_days: int = Field(ge=1)


class UsStates(Strict):
    label: ShortText
    in_force: bool
    respond_days: int = Field(ge=1)
    extension_days: int = Field(ge=0)
    appeal_decision_days: int = Field(ge=1)


class Gdpr(Strict):
    label: ShortText
    in_force: bool
    respond_months: int = Field(ge=1)
    extension_months: int = Field(ge=0)


class Regimes(Strict):
    hipaa: Hipaa
    ccpa: Ccpa
    us_states: UsStates
    gdpr: Gdpr


class Contact(Strict):
    title: ShortText
    name: ShortText = ""
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^(?:[^@\s]+@[^@\s]+\.[^@\s]+)?$"), _one_line] = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+()\-. ]*$"), _one_line] = ""

    @property
    def is_named(self) -> bool:
        return bool(self.name and (self.email or self.phone))


class Complaints(Strict):
    hhs_url: Annotated[str, StringConstraints(pattern=r"^https://")]
    hhs_name: ShortText


class Contacts(Strict):
    privacy_officer: Contact
    hipaa_compliance_officer: Contact
    dpo: Contact
    complaints: Complaints


class Grants(Strict):
    """Grants beyond the minimum-necessary table that a practice may switch on; each is off
    unless the practice's override says otherwise. What each opens, and through which door, is
    code (confide/access/policy.py DECLARED_GRANTS): the declaration only says yes or no."""

    front_desk_consultation_queue: bool = False


class Declaration(Strict):
    schema_: Literal[1] = Field(alias="schema")
    version: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]{1,2}(?:\.[0-9]+)?$")]
    categories: dict[str, Category]
    purposes: dict[str, PurposeDecl]
    processors: list[Processor]
    retention: list[Retention]
    age: Age
    regimes: Regimes
    contacts: Contacts
    grants: Grants = Grants()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)

    @field_validator("categories")
    @classmethod
    def _category_keys(cls, value: dict[str, Category]) -> dict[str, Category]:
        for key in value:
            if not CATEGORY_KEY.match(key):
                raise ReferenceProblem((key,), f"category key {key!r} is not of the form group.name (lower case)")
        return value

    @field_validator("purposes")
    @classmethod
    def _purposes_are_the_codes(cls, value: dict[str, PurposeDecl]) -> dict[str, PurposeDecl]:
        known = {p.value for p in Purpose}
        for key in value:
            if key not in known:
                raise ReferenceProblem((key,), f"{key!r} is not a purpose Confide has (there is none that sells data or trains others' AI models)")
        missing = known - set(value)
        if missing:
            raise ValueError(f"every purpose must be described; missing: {', '.join(sorted(missing))}")
        return value

    @model_validator(mode="after")
    def _references(self) -> Declaration:
        groups = {key.split(".", 1)[0] for key in self.categories}
        for field, kind, items in (("processors", "processor", self.processors), ("retention", "retention rule", self.retention)):
            ids = [item.id for item in items]
            for index, item in enumerate(items):
                if ids.count(item.id) > 1:
                    raise ReferenceProblem((field, index, "id"), f"two {kind}s have the id {item.id!r}")
                for n, ref in enumerate(item.categories):
                    if ref not in self.categories and ref not in groups:
                        raise ReferenceProblem((field, index, "categories", n), f"{kind} {item.id!r} names an unknown data category {ref!r}")
        for n, ref in enumerate(self.age.minor_controls):
            if ref not in self.categories:
                raise ReferenceProblem(
                    ("age", "minor_controls", n),
                    f"{ref!r} is not a data category of the declaration (name one such as \"health.encounters\")",
                )
            if self.age.minor_controls.count(ref) > 1:
                raise ReferenceProblem(("age", "minor_controls", n), f"{ref!r} is named twice")
        for index, processor in enumerate(self.processors):
            if processor.role == "service_provider":
                phi = sorted(self.expand(processor.categories) & self.phi_categories())
                if phi:
                    raise ReferenceProblem(
                        (("processors", index, "categories")),
                        f"processor {processor.id!r} is a service provider, which never receives PHI, but names {', '.join(phi)}"
                        " (make it a business_associate with a BAA on file, or drop those categories)",
                    )
            for n, purpose in enumerate(processor.purposes):
                if purpose not in self.purposes:
                    raise ReferenceProblem(
                        (("processors", index, "purposes", n)),
                        f"processor {processor.id!r} names an unknown purpose {purpose!r}"
                        + (" (nothing in Confide sells data or trains models)" if purpose not in {p.value for p in Purpose} else ""),
                    )
        return self

    # --- questions the code asks ----------------------------------------------------------------
    def expand(self, refs) -> frozenset[str]:
        """Category keys named by `refs` (keys, or groups such as "health")."""
        out = set()
        for ref in refs:
            if ref in self.categories:
                out.add(ref)
            else:
                out.update(k for k in self.categories if k.split(".", 1)[0] == ref)
        return frozenset(out)

    def phi_categories(self) -> frozenset[str]:
        return frozenset(k for k, c in self.categories.items() if c.phi)

    def minor_controlled_categories(self) -> frozenset[str]:
        """The categories a minor controls here (MIN3's exceptions): never opened by a parent or
        guardian's portal link. Keys of the taxonomy, checked when the declaration loads."""
        return frozenset(self.age.minor_controls)

    def consent_purposes(self) -> frozenset[str]:
        return frozenset(k for k, p in self.purposes.items() if p.needs_consent)

    def processor(self, processor_id: str) -> Processor | None:
        return next((p for p in self.processors if p.id == processor_id), None)


def period_days(period: str) -> float:
    """A period's length in days, for comparisons ("while-active" and "until-unsubscribe" are open-ended)."""
    match = PERIOD.match(period)
    if match is None or not match.group("n"):
        return float("inf")
    return int(match.group("n")) * _UNIT_DAYS[match.group("unit")]


def period_text(period: str) -> str:
    """A period as the notice says it: "30 days", "7 years", "for as long as you are a patient"."""
    if period == "while-active":
        return "for as long as you are a patient"
    if period == "until-unsubscribe":
        return "until you unsubscribe"
    number, unit = int(period[:-1]), period[-1]
    word = {"d": "day", "m": "month", "y": "year"}[unit]
    return f"{number} {word}{'' if number == 1 else 's'}"


# --- what a practice may override ------------------------------------------------------------
class ProcessorOverride(Strict):
    """A processor by id: an existing one's fields changed, or a new one (then all fields)."""

    id: Slug
    name: ShortText | None = None
    service: Text | None = None
    role: Literal["first_party", "business_associate", "service_provider"] | None = None
    categories: list[str] | None = None
    purposes: list[str] | None = None
    baa_on_file: bool | None = None
    location: ShortText | None = None
    in_use: bool | None = None
    trains_models: Literal[False] | None = None


class RetentionOverride(Strict):
    id: Slug
    period: str

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        return Retention._period(value)


class AgeOverride(Strict):
    minimum: Literal[13, 18] | None = None
    guardian_may_start_care_below_minimum: bool | None = None
    minor_controls: list[str] | None = None


class RegimeOverride(Strict):
    in_force: bool


class RegimesOverride(Strict):
    hipaa: RegimeOverride | None = None
    ccpa: RegimeOverride | None = None
    us_states: RegimeOverride | None = None
    gdpr: RegimeOverride | None = None


class ContactOverride(Strict):
    name: ShortText | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^(?:[^@\s]+@[^@\s]+\.[^@\s]+)?$")] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+()\-. ]*$")] | None = None


class ContactsOverride(Strict):
    privacy_officer: ContactOverride | None = None
    hipaa_compliance_officer: ContactOverride | None = None
    dpo: ContactOverride | None = None


class GrantsOverride(Strict):
    front_desk_consultation_queue: bool | None = None


class Override(Strict):
    """A practice's changes. The taxonomy, the purposes and the law's deadlines are not here:
    the code depends on the first two, and the third is not the practice's to set."""

    processors: list[ProcessorOverride] = []
    retention: list[RetentionOverride] = []
    age: AgeOverride | None = None
    regimes: RegimesOverride | None = None
    contacts: ContactsOverride | None = None
    grants: GrantsOverride | None = None
