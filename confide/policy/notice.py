"""The privacy notice a patient reads, built from the declaration the code enforces (POL1, POL3).

`build_notice(practice, version)` turns a version's declaration into what the template shows:
the categories collected (grouped, in plain words), the purposes (and which need consent), the
processors in use with their role, the retention periods, the rights in force with their
deadlines and how to use them, how the information is protected (confide/policy/protections.py:
what the software does, and what the staff do where it does not yet), the contacts, the age
rule, what Confide does with Global Privacy Control and Do Not Track signals, and the version's
dates. Nothing here is typed by
hand per practice except what its override declares; the sentences are ours.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from confide.policy.loader import load_default
from confide.policy.protections import Statement, statements
from confide.policy.schema import Declaration, period_days, period_text

GROUP_LABELS = {
    "identifiers": "Who you are",
    "contact": "How to reach you",
    "scheduling": "Your appointments",
    "health": "Your health",
    "financial": "Billing and insurance",
    "communications": "Messages",
    "technical": "Technical information",
    "preferences": "Your choices",
    "operations": "Records about our own handling of your information",
}
ROLE_LABELS = {
    "first_party": "Run by or for the practice itself",
    "business_associate": "Business associate: may receive health information only under a signed Business Associate Agreement",
    "service_provider": "Service provider: never receives health information",
}

# What happens with browser privacy signals. The code that does it: confide/consent/signals.py.
SIGNALS_TEXT = (
    "If your browser sends a Global Privacy Control signal (Sec-GPC), we treat it as your request to opt out of any "
    "sale or sharing of your information and of usage statistics, and we record that we received it. A live signal "
    "outranks a choice you made earlier; if the two disagree we ask you once which you want. If your browser sends "
    "Do Not Track, we do not load usage statistics. We do not sell your information or share it for advertising, "
    "with or without a signal."
)


@dataclass(frozen=True)
class Right:
    title: str
    text: str
    deadline: str = ""


@dataclass(frozen=True)
class CategoryGroup:
    label: str
    items: list[tuple[str, str, bool]]  # (label, description, sensitive)


@dataclass
class Notice:
    practice_name: str
    practice_slug: str
    version: int
    effective_at: datetime.datetime
    last_updated: datetime.datetime
    regimes: list[str]
    regimes_text: str  # the regimes in force, as a phrase for the middle of a sentence
    groups: list[CategoryGroup]
    purposes: list[tuple[str, str, bool]]  # (label, description, needs consent)
    processors: list[dict]
    retention: list[dict]
    rights: list[Right]
    contacts: list[dict]
    missing_contacts: list[str]
    complaints: dict
    age_text: str
    signals_text: str = SIGNALS_TEXT
    upcoming: list = field(default_factory=list)
    # "How your information is protected" (confide/policy/protections.py): what the software does,
    # and what the practice's staff do for now where it does not yet do it by itself.
    protections: list[Statement] = field(default_factory=list)
    by_staff: list[Statement] = field(default_factory=list)
    patients_emailed: bool = False  # material changes reach patients by e-mail


def _plural(n: int, unit: str = "day") -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def _in_sentence(key: str, label: str) -> str:
    """A regime's label as it reads mid-sentence. Most labels start with a name or an acronym
    (HIPAA, California, GDPR); the ones that start with an ordinary word are lower-cased."""
    return label[:1].lower() + label[1:] if key in _COMMON_NOUN_REGIMES else label


_COMMON_NOUN_REGIMES = frozenset({"us_states"})  # "Other US state privacy laws (…)"


def _and_join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _rights(declaration: Declaration) -> list[Right]:
    regimes = declaration.regimes
    rights: list[Right] = []
    if regimes.hipaa.in_force:
        h = regimes.hipaa
        rights += [
            Right("See and get a copy of your record", "You may inspect your health record and get a copy, on paper or electronically, including in a machine-readable form. A fee, if the practice charges one, covers only the cost of labour, materials and postage.",
                  f"We answer within {_plural(h.access.respond_days)} (once extendable by {_plural(h.access.extension_days)}, with the reason in writing)."),
            Right("Ask us to correct your record", "If you think something in your record is wrong or incomplete, ask us to amend it. If we decline, we tell you why in writing, you may file a statement of disagreement that stays with your record, and you may ask for a review.",
                  f"We answer within {_plural(h.amendment.respond_days)} (once extendable by {_plural(h.amendment.extension_days)})."),
            Right("Know who we disclosed it to", f"You may ask for a list of disclosures of your health information for purposes other than your care, payment and our operations, going back {_plural(h.accounting_of_disclosures.lookback_years, 'year')}.",
                  f"We answer within {_plural(h.accounting_of_disclosures.respond_days)} (once extendable by {_plural(h.accounting_of_disclosures.extension_days)})."),
            Right("Ask us to limit what we use or share", "You may ask us not to use or share certain information for treatment, payment or operations. If you pay in full out of pocket, we must agree not to share that with your health plan."),
            Right("Choose how we contact you", "You may ask us to contact you in a specific way (for example, only at a work number) or at a different address."),
            Right("Have someone act for you", "A parent, guardian or someone with your legal authority may use these rights for you, once we have checked their authority."),
        ]
    if regimes.ccpa.in_force or regimes.us_states.in_force:
        days = regimes.ccpa.respond_days if regimes.ccpa.in_force else regimes.us_states.respond_days
        ext = regimes.ccpa.extension_days if regimes.ccpa.in_force else regimes.us_states.extension_days
        rights += [
            Right("Know and delete", "You may ask what personal information we hold about you, where it came from, why we use it and with whom we share it, and ask us to delete it. Health records we must keep by law are moved out of the active system and kept only as long as the law requires; we tell you when that is why we cannot delete something.",
                  f"We confirm receipt within {_plural(regimes.ccpa.acknowledge_business_days, 'business day')} and answer within {_plural(days)} (extendable by {_plural(ext)}, and we tell you if we need it)."),
            Right("Opt out of sale or sharing, and limit sensitive information", "We do not sell your personal information or share it for cross-context advertising. You may still record that choice, and ask us to limit the use of sensitive information to what your care needs, on the pages linked at the bottom of every page. Neither needs an account.",
                  f"We act on it within {_plural(regimes.ccpa.opt_out_business_days, 'business day')}."),
            Right("No penalty for using your rights", "Using any of these rights never changes the care you receive, its price or its quality."),
        ]
        if regimes.us_states.in_force:
            rights.append(Right("Appeal", "If we decline a request, you may appeal, and we answer the appeal in writing.", f"We decide an appeal within {_plural(regimes.us_states.appeal_decision_days)}."))
    if regimes.gdpr.in_force:
        g = regimes.gdpr
        rights.append(Right("Rights under the GDPR", "If you are in the EU or EEA, you also have the rights of access, correction, erasure, restriction, portability and objection, and you may complain to your data protection authority.",
                            f"We answer within {_plural(g.respond_months, 'month')} (extendable by {_plural(g.extension_months, 'month')} for complex requests)."))
    return rights


def _age_text(declaration: Declaration) -> str:
    age = declaration.age
    if age.minimum >= age.guardian_until:
        text = f"Patients start care with us themselves from age {age.minimum}."
        if age.guardian_may_start_care_below_minimum:
            text += " For a younger patient, a parent or guardian starts care and acts for them."
        else:
            text += " We do not provide care to younger patients through this service."
    else:
        text = (
            f"Patients start care with us from age {age.minimum}. Between {age.minimum} and {age.guardian_until}, a parent's "
            "or guardian's name, relationship and authorization are needed for a consultation."
        )
        if age.guardian_may_start_care_below_minimum:
            text += f" Below {age.minimum}, a parent or guardian starts care for the child."
        else:
            text += f" We do not accept consultations for children under {age.minimum}."
    text += " Information about a child below the minimum age is never disclosed to third parties."
    controlled = [declaration.categories[key].label.lower() for key in age.minor_controls]
    if controlled:
        text += (
            f" Some care is the young person's own to decide. A parent or guardian who uses the portal for a patient under "
            f"{age.guardian_until} does not see these parts of the record: {', '.join(controlled)}."
        )
    return text


def build_notice(practice, version, declaration: Declaration, *, last_updated: datetime.datetime, upcoming=()) -> Notice:
    # Dict order does not survive PostgreSQL's jsonb: present in the shipped declaration's order.
    order = {key: n for n, key in enumerate(load_default().categories)}
    purpose_order = {key: n for n, key in enumerate(load_default().purposes)}
    groups: dict[str, list] = {}
    for key, category in sorted(declaration.categories.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])):
        if category.retired:
            continue
        groups.setdefault(key.split(".", 1)[0], []).append((category.label, category.description, category.sensitive))
    regimes = [(key, getattr(declaration.regimes, key).label) for key in ("hipaa", "ccpa", "us_states", "gdpr") if getattr(declaration.regimes, key).in_force]
    said = statements(declaration, mfa_required=getattr(practice, "mfa_required", True))
    contacts, missing = [], []
    for name in ("privacy_officer", "hipaa_compliance_officer", "dpo"):
        contact = getattr(declaration.contacts, name)
        if name == "dpo" and not declaration.regimes.gdpr.in_force:
            continue
        if contact.is_named:
            contacts.append({"title": contact.title, "name": contact.name, "email": contact.email, "phone": contact.phone})
        else:
            missing.append(contact.title)
    return Notice(
        practice_name=practice.name,
        practice_slug=practice.slug,
        version=version.number,
        effective_at=version.effective_at,
        last_updated=last_updated,
        regimes=[label for _, label in regimes],
        regimes_text=_and_join([_in_sentence(key, label) for key, label in regimes]),
        groups=[CategoryGroup(GROUP_LABELS.get(g, g.title()), items) for g, items in groups.items()],
        purposes=[
            (p.label, p.description, p.needs_consent)
            for _, p in sorted(declaration.purposes.items(), key=lambda kv: (purpose_order.get(kv[0], len(purpose_order)), kv[0]))
        ],
        processors=[
            {"name": p.name, "service": p.service, "role": ROLE_LABELS[p.role], "location": p.location, "baa": p.baa_on_file,
             "categories": sorted({declaration.categories[k].label for k in declaration.expand(p.categories)})}
            for p in declaration.processors if p.in_use
        ],  # fmt: skip
        retention=[
            {"label": r.label, "period": period_text(r.period), "starts": r.starts, "then": r.then, "days": period_days(r.period),
             "open_ended": period_days(r.period) == float("inf")}
            for r in declaration.retention
        ],
        rights=_rights(declaration),
        contacts=contacts,
        missing_contacts=missing,
        complaints={"name": declaration.contacts.complaints.hhs_name, "url": declaration.contacts.complaints.hhs_url},
        age_text=_age_text(declaration),
        upcoming=list(upcoming),
        protections=[st for st in said if not st.handled_by_staff],
        by_staff=[st for st in said if st.handled_by_staff],
        patients_emailed=any(p.id == "email" and p.in_use and p.baa_on_file for p in declaration.processors),
    )
