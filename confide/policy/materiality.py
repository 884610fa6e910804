"""Whether a change to a practice's declaration is material, computed from the change itself (POL2).

A material change affects what patients were told and relied on: it takes effect only after the
notice period, and everyone it affects is told first. The publisher may mark any change
material; a change these rules find material can never be published as not material
(`confide/policy/services.py`, `do_publish_policy`, refuses it with the reasons below).

Material (each reason names the rule that found it):

* retention — a period gets longer, a rule is added, a rule covers more categories, or what
  happens when it ends changes;
* processors — one starts being used (new, or `in_use` turned on), or one in use gets more
  categories or purposes, a different name (another company under the same id), another
  location, or a role that may receive more (a service provider becoming a business associate);
* categories — a new kind of information is collected (added, or un-retired), or one loses its
  PHI or sensitive marking (less protection);
* purposes — a new purpose, a purpose that no longer needs consent, or a purpose described
  differently (the description is the use);
* age — a lower minimum age, or a parent or guardian newly allowed to start care below it;
* regimes — a law no longer applied, or a deadline longer (a shorter look-back) than before:
  fewer or weaker rights.

Not material: fewer processors, categories or purposes, shorter retention, a Business Associate
Agreement put on file, a stronger age rule, a law newly applied, contacts, labels and the wording
of descriptions of categories and processors, and the default's version string.

Every field of the schema is named below as material or not, and tests/policy/test_materiality.py
fails when the schema gains a field these rules do not decide about.
"""

from __future__ import annotations

from dataclasses import dataclass

from confide.policy.schema import Declaration, period_days, period_text


@dataclass(frozen=True)
class MaterialChange:
    rule: str  # e.g. "retention.longer": stable, for tests and the audit log
    text: str  # one sentence in plain words, shown to the publisher

    def __str__(self) -> str:
        return self.text


# How each field of each part of the declaration counts. "rule" fields have their own check
# below; "wording" fields never make a change material on their own.
DECLARATION_FIELDS = {"schema_": "wording", "version": "wording", "categories": "rule", "purposes": "rule", "processors": "rule",
                      "retention": "rule", "age": "rule", "regimes": "rule", "contacts": "wording", "grants": "wording"}  # fmt: skip
# Grants widen what one role of the practice's own staff sees (minimum necessary, inside the
# practice): not a use, disclosure or right the notice describes, so never material by itself.
# Each switch is audited with its version and shown on the settings page.
GRANT_FIELDS = {"front_desk_consultation_queue": "wording"}
CATEGORY_FIELDS = {"label": "wording", "description": "wording", "phi": "rule", "sensitive": "rule", "retired": "rule"}
PURPOSE_FIELDS = {"label": "wording", "description": "rule", "needs_consent": "rule"}
PROCESSOR_FIELDS = {"id": "rule", "name": "rule", "service": "wording", "role": "rule", "categories": "rule", "purposes": "rule",
                    "baa_on_file": "wording", "location": "rule", "in_use": "rule", "trains_models": "wording"}  # fmt: skip
RETENTION_FIELDS = {"id": "rule", "label": "wording", "categories": "rule", "period": "rule", "minimum": "wording", "starts": "rule",
                    "then": "rule"}  # fmt: skip
AGE_FIELDS = {"minimum": "rule", "guardian_may_start_care_below_minimum": "rule", "guardian_until": "rule", "minor_controls": "rule"}

# Roles in the order of what they may receive: a move to the right is material.
_ROLE_REACH = {"service_provider": 0, "first_party": 1, "business_associate": 2}


def _days(period: str) -> str:
    return period_text(period)


def _retention(before: Declaration, after: Declaration) -> list[MaterialChange]:
    out = []
    old = {r.id: r for r in before.retention}
    for rule in after.retention:
        was = old.get(rule.id)
        if was is None:
            out.append(MaterialChange("retention.new", f"A new retention rule: {rule.label}, kept {_days(rule.period)}."))
            continue
        if period_days(rule.period) > period_days(was.period):
            out.append(MaterialChange("retention.longer", f"{rule.label}: kept longer, {_days(rule.period)} instead of {_days(was.period)}."))
        if after.expand(rule.categories) - before.expand(was.categories):
            out.append(MaterialChange("retention.more_categories", f"{rule.label}: the rule now covers more kinds of information."))
        if (rule.starts, rule.then) != (was.starts, was.then):
            out.append(MaterialChange("retention.different_end", f"{rule.label}: when the period starts or what happens at its end changes."))
    return out


def _processors(before: Declaration, after: Declaration) -> list[MaterialChange]:
    out = []
    old = {p.id: p for p in before.processors}
    for p in after.processors:
        if not p.in_use:
            continue  # a processor not used receives nothing, whatever it declares
        was = old.get(p.id)
        if was is None or not was.in_use:
            out.append(MaterialChange("processors.new", f"A new service receives information: {p.name} ({p.service.rstrip('.')})."))
            continue
        if after.expand(p.categories) - before.expand(was.categories):
            out.append(MaterialChange("processors.more_categories", f"{p.name} receives more kinds of information."))
        if set(p.purposes) - set(was.purposes):
            out.append(MaterialChange("processors.more_purposes", f"{p.name} uses information for more purposes."))
        if p.name != was.name:
            out.append(MaterialChange("processors.renamed", f"Another company does the work of {was.name}: {p.name}."))
        if p.location != was.location:
            out.append(MaterialChange("processors.moved", f"{p.name} handles information somewhere else: {p.location} instead of {was.location}."))
        if _ROLE_REACH[p.role] > _ROLE_REACH[was.role]:
            out.append(MaterialChange("processors.more_reach", f"{p.name} may now receive health information."))
    return out


def _categories(before: Declaration, after: Declaration) -> list[MaterialChange]:
    out = []
    for key, c in after.categories.items():
        was = before.categories.get(key)
        if c.retired:
            continue
        if was is None or was.retired:
            out.append(MaterialChange("categories.new", f"A new kind of information is collected: {c.label}."))
            continue
        if (was.phi and not c.phi) or (was.sensitive and not c.sensitive):
            out.append(MaterialChange("categories.less_protected", f"{c.label} is protected less than before."))
    return out


def _purposes(before: Declaration, after: Declaration) -> list[MaterialChange]:
    out = []
    for key, p in after.purposes.items():
        was = before.purposes.get(key)
        if was is None:
            out.append(MaterialChange("purposes.new", f"A new purpose: {p.label}."))
            continue
        if was.needs_consent and not p.needs_consent:
            out.append(MaterialChange("purposes.consent_dropped", f"{p.label} no longer waits for permission."))
        if p.description != was.description:
            out.append(MaterialChange("purposes.described_differently", f"{p.label} is described differently: what it covers may be wider."))
    return out


def _age(before: Declaration, after: Declaration) -> list[MaterialChange]:
    out = []
    if after.age.minimum < before.age.minimum:
        out.append(MaterialChange("age.lower", f"Patients start care themselves from age {after.age.minimum} instead of {before.age.minimum}."))
    if after.age.guardian_may_start_care_below_minimum and not before.age.guardian_may_start_care_below_minimum:
        out.append(MaterialChange("age.younger_children", "A parent or guardian may now start care for a child below the minimum age."))
    if after.age.guardian_until < before.age.guardian_until:
        out.append(MaterialChange("age.lower", f"A guardian's authorization is needed only until {after.age.guardian_until}."))
    opened = [after.categories[key].label for key in before.age.minor_controls if key not in after.age.minor_controls and key in after.categories]
    if opened:
        out.append(MaterialChange("age.parents_see_more", f"A parent or guardian now sees what a minor controlled before: {', '.join(opened)}."))
    return out


def _regimes(before: Declaration, after: Declaration) -> list[MaterialChange]:
    out = []
    for name in type(after.regimes).model_fields:
        new, old = getattr(after.regimes, name), getattr(before.regimes, name)
        if old.in_force and not new.in_force:
            out.append(MaterialChange("regimes.dropped", f"{old.label} no longer applies: fewer rights."))
            continue
        if not new.in_force:
            continue
        weaker = []
        _weaker(old.model_dump(), new.model_dump(), name, weaker)
        if weaker:
            out.append(MaterialChange("regimes.weaker", f"{new.label}: longer to answer, or a shorter look-back ({', '.join(weaker)})."))
    return out


def _weaker(old: dict, new: dict, prefix: str, out: list[str]) -> None:
    for key, value in new.items():
        was = old.get(key)
        if isinstance(value, dict) and isinstance(was, dict):
            _weaker(was, value, f"{prefix}.{key}", out)
        elif isinstance(value, int) and not isinstance(value, bool) and isinstance(was, int) and value != was:
            if (value < was) if key == "lookback_years" else (value > was):
                out.append(f"{prefix}.{key}")


def material_changes(before: Declaration, after: Declaration) -> list[MaterialChange]:
    """Why the change from `before` to `after` is material; empty when it is not."""
    return [
        *_processors(before, after), *_categories(before, after), *_purposes(before, after),
        *_retention(before, after), *_age(before, after), *_regimes(before, after),
    ]  # fmt: skip


__all__ = ["MaterialChange", "material_changes"]
