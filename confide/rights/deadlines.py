"""When a rights request must be acknowledged and answered, from the regimes the practice's
declaration has in force (../shared/reference/rules-and-deadlines.md §0–§2).

    deadlines_for(declaration, kind, received_on, *, state="")  ->  Deadlines

Each regime that governs the kind gives a due date (and how far its one extension may reach);
the request gets the earliest due date of them all and the earliest extended limit, so nothing
waits longer than the strictest reading allows:

| kind | HIPAA | CCPA | other US states | GDPR |
| --- | --- | --- | --- | --- |
| see, copy | access 30 (+30) | 45 (+45), acknowledge in 10 business days | 45 (+45) | 1 month (+2) |
| correct | amendment 60 (+30) | 45 (+45), acknowledge | 45 (+45) | 1 month (+2) |
| delete | — | 45 (+45), acknowledge | 45 (+45) | 1 month (+2) |
| opt out of sale/share | — | 15 business days | — | — |
| limit sensitive | — | 15 business days | — | — |
| opt out of profiling | — | 15 business days | 45 (+45) | 1 month (+2) |
| accounting of disclosures | 60 (+30) | — | — | — |
| Shine the Light | — | 30 | — | — |
| appeal | — | — | by state: CO 45 (+60), CT and VA 60 | — |
| restrict, other | access 30 (+30) | — | — | 1 month (+2) |

When no regime in force governs a kind (a practice with only HIPAA in force, asked to delete),
HIPAA's access deadline applies: a request is never left without a date. Calendar days unless
stated; business days skip Saturdays and Sundays (public holidays are not modelled: counting
them as working days only makes the date earlier)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from confide.rights.models import RequestKind as K

# Appeals (rules-and-deadlines.md §2.2): days to decide, and how far an extension may reach.
# A state not listed takes the declaration's `us_states.appeal_decision_days` without extension.
STATE_APPEALS: dict[str, tuple[int, int]] = {"CO": (45, 60), "CT": (60, 0), "VA": (60, 0)}

_ACKNOWLEDGED_KINDS = frozenset({K.SEE, K.COPY, K.CORRECT, K.DELETE})  # CCPA §7021(a): know, delete, correct


@dataclass(frozen=True)
class Deadlines:
    regimes: tuple[str, ...]  # the regimes that set a date, e.g. ("hipaa", "ccpa")
    ack_due_on: datetime.date | None  # CCPA: confirm receipt within 10 business days
    due_on: datetime.date
    extended_limit: datetime.date | None  # the latest date one extension may set (None: no extension)


def add_business_days(day: datetime.date, count: int) -> datetime.date:
    while count > 0:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _days(received: datetime.date, respond: int, extension: int) -> tuple[datetime.date, datetime.date | None]:
    due = received + datetime.timedelta(days=respond)
    return due, (due + datetime.timedelta(days=extension)) if extension else None


def _candidates(declaration, kind: K, received: datetime.date, state: str) -> dict[str, tuple[datetime.date, datetime.date | None]]:
    r = declaration.regimes
    found: dict[str, tuple[datetime.date, datetime.date | None]] = {}
    if r.hipaa.in_force:
        rule = {K.SEE: r.hipaa.access, K.COPY: r.hipaa.access, K.CORRECT: r.hipaa.amendment,
                K.ACCOUNTING: r.hipaa.accounting_of_disclosures, K.RESTRICT: r.hipaa.access, K.OTHER: r.hipaa.access}.get(kind)  # fmt: skip
        if rule is not None:
            found["hipaa"] = _days(received, rule.respond_days, rule.extension_days)
    if r.ccpa.in_force:
        if kind in (K.SEE, K.COPY, K.CORRECT, K.DELETE):
            found["ccpa"] = _days(received, r.ccpa.respond_days, r.ccpa.extension_days)
        elif kind in (K.OPT_OUT_SALE, K.OPT_OUT_PROFILING):
            found["ccpa"] = (add_business_days(received, r.ccpa.opt_out_business_days), None)
        elif kind == K.LIMIT_SENSITIVE:
            found["ccpa"] = (add_business_days(received, r.ccpa.limit_sensitive_business_days), None)
        elif kind == K.SHINE_THE_LIGHT:
            found["ccpa"] = (received + datetime.timedelta(days=r.ccpa.shine_the_light_respond_days), None)
    if r.us_states.in_force:
        if kind in (K.SEE, K.COPY, K.CORRECT, K.DELETE, K.OPT_OUT_PROFILING):
            found["us_states"] = _days(received, r.us_states.respond_days, r.us_states.extension_days)
        elif kind == K.APPEAL:
            decide, extend = STATE_APPEALS.get(state.upper(), (r.us_states.appeal_decision_days, 0))
            found["us_states"] = _days(received, decide, extend)
    if r.gdpr.in_force and kind in (K.SEE, K.COPY, K.CORRECT, K.DELETE, K.OPT_OUT_PROFILING, K.RESTRICT, K.OTHER):
        due = received + relativedelta(months=r.gdpr.respond_months)
        found["gdpr"] = (due, due + relativedelta(months=r.gdpr.extension_months) if r.gdpr.extension_months else None)
    return found


def deadlines_for(declaration, kind, received_on: datetime.date, *, state: str = "") -> Deadlines:
    kind = K(kind)
    found = _candidates(declaration, kind, received_on, state)
    if not found:  # no regime in force governs it: HIPAA's access deadline, the strictest default
        access = declaration.regimes.hipaa.access
        found = {"hipaa": _days(received_on, access.respond_days, access.extension_days)}
    due = min(d for d, _ in found.values())
    limits = [limit for _, limit in found.values()]
    # One extension may reach no further than the strictest regime allows; a regime without an
    # extension (an opt-out, Shine the Light) allows none at all.
    extended_limit = None if None in limits else min(limits)
    ack = None
    if "ccpa" in found and kind in _ACKNOWLEDGED_KINDS:
        ack = add_business_days(received_on, declaration.regimes.ccpa.acknowledge_business_days)
    return Deadlines(regimes=tuple(sorted(found)), ack_due_on=ack, due_on=due, extended_limit=extended_limit)
