"""RTS1/RTS3/DSC1/RTS5/RTS8 deadlines, the queue part's checks of deadlines_for with fixed dates:
HIPAA 30 (+30) and 60 (+30), CCPA's acknowledgement in 10 business days across a weekend, the
opt-outs' 15 business days, Shine the Light's 30 days, GDPR's month ending on the month's last
day, appeals by state."""

from __future__ import annotations

import datetime

import pytest

from confide.policy.loader import load_default
from confide.rights.deadlines import add_business_days, deadlines_for

D = datetime.date


def declaration(**in_force):
    base = load_default()
    regimes = base.regimes
    changes = {name: getattr(regimes, name).model_copy(update={"in_force": value}) for name, value in in_force.items()}
    return base.model_copy(update={"regimes": regimes.model_copy(update=changes)})


HIPAA_ONLY = dict(hipaa=True, ccpa=False, us_states=False, gdpr=False)


def test_rts1_hipaa_access_is_30_days_with_one_30_day_extension():
    d = deadlines_for(declaration(**HIPAA_ONLY), "see", D(2027, 1, 4))
    assert (d.due_on, d.extended_limit, d.ack_due_on) == (D(2027, 2, 3), D(2027, 3, 5), None)


def test_rts3_hipaa_amendment_is_60_days_with_one_30_day_extension():
    d = deadlines_for(declaration(**HIPAA_ONLY), "correct", D(2027, 1, 4))
    assert (d.due_on, d.extended_limit) == (D(2027, 3, 5), D(2027, 4, 4))


def test_dsc1_accounting_is_60_days_with_one_30_day_extension():
    d = deadlines_for(declaration(**HIPAA_ONLY), "accounting", D(2027, 1, 4))
    assert (d.due_on, d.extended_limit) == (D(2027, 3, 5), D(2027, 4, 4))


def test_rts1_ccpa_acknowledgement_counts_10_business_days_across_weekends():
    friday = D(2027, 1, 8)
    d = deadlines_for(declaration(hipaa=False, ccpa=True, us_states=False, gdpr=False), "delete", friday)
    assert d.ack_due_on == D(2027, 1, 22)  # two weekends skipped
    assert d.due_on == D(2027, 2, 22) and d.extended_limit == D(2027, 4, 8)  # 45 (+45) calendar days


def test_rts1_the_strictest_regime_wins_when_several_are_in_force():
    d = deadlines_for(declaration(hipaa=True, ccpa=True, us_states=True, gdpr=False), "see", D(2027, 1, 4))
    assert d.regimes == ("ccpa", "hipaa", "us_states")
    assert d.due_on == D(2027, 2, 3) and d.extended_limit == D(2027, 3, 5) and d.ack_due_on == D(2027, 1, 18)


def test_rts5_opt_outs_are_due_in_15_business_days_and_cannot_be_extended():
    friday = D(2027, 1, 8)
    for kind in ("opt_out_sale", "limit_sensitive"):
        d = deadlines_for(declaration(hipaa=True, ccpa=True, us_states=False, gdpr=False), kind, friday)
        assert d.due_on == D(2027, 1, 29) and d.extended_limit is None, kind
    assert add_business_days(friday, 15) == D(2027, 1, 29)


def test_rts8_shine_the_light_is_due_in_30_days_without_extension():
    d = deadlines_for(declaration(hipaa=True, ccpa=True, us_states=True, gdpr=False), "shine_the_light", D(2027, 1, 4))
    assert d.due_on == D(2027, 2, 3) and d.extended_limit is None


@pytest.mark.parametrize(("received", "due", "limit"), [
    (D(2027, 1, 31), D(2027, 2, 28), D(2027, 4, 28)),  # no 31 February: the month's last day
    (D(2028, 1, 31), D(2028, 2, 29), D(2028, 4, 29)),  # a leap year
    (D(2027, 3, 15), D(2027, 4, 15), D(2027, 6, 15)),
])  # fmt: skip
def test_rts1_gdpr_one_month_ends_on_the_last_day_of_a_shorter_month(received, due, limit):
    d = deadlines_for(declaration(hipaa=False, ccpa=False, us_states=False, gdpr=True), "see", received)
    assert (d.due_on, d.extended_limit) == (due, limit)


@pytest.mark.parametrize(("state", "due", "limit"), [
    ("CO", D(2027, 2, 18), D(2027, 4, 19)),  # 45 days, extendable by 60
    ("CT", D(2027, 3, 5), None),  # 60 days
    ("va", D(2027, 3, 5), None),
])  # fmt: skip
def test_rts7_an_appeal_is_due_by_the_requesters_state(state, due, limit):
    d = deadlines_for(declaration(hipaa=True, ccpa=True, us_states=True, gdpr=False), "appeal", D(2027, 1, 4), state=state)
    assert (d.due_on, d.extended_limit) == (due, limit)
