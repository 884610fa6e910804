"""RET2 property tests: random histories (patients with random last-service dates, minors, holds
set and released, closed accounts) under a moving clock. Whatever happens: nothing is destroyed
before its retain_until, nothing is kept past it without an open hold, and a held record is never
destroyed. And the date itself: never earlier than the period from the last service, nor, for a
minor, from the 18th birthday."""

from __future__ import annotations

import datetime

import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from django.utils import timezone

from confide.core.permissions import Role
from confide.core.actors import StaffActor
from confide.core.tenancy import tenant_context
from confide.policy.loader import load_default
from confide.records.models import Patient
from confide.retention import engine
from confide.retention.models import ArchivedRecord, ArchiveReason, LegalHold
from confide.retention.plan import _majority, add_period, retain_until

SHARED = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}
START = datetime.date(2027, 1, 1)  # after the real now: a fixed clock never goes back in time


@settings(max_examples=200, **SHARED)
@given(
    last=st.dates(min_value=datetime.date(1990, 1, 1), max_value=datetime.date(2040, 12, 31)),
    age_at_last=st.integers(min_value=0, max_value=90),
    extra_days=st.integers(min_value=0, max_value=400),
)
def test_ret2_min3_the_date_is_never_before_the_period_from_service_or_majority(last, age_at_last, extra_days):
    declaration = load_default()
    born = last - datetime.timedelta(days=age_at_last * 365 + extra_days)
    until, from_majority = retain_until(declaration, last, born)
    assert until >= add_period(last, "7y")
    majority = _majority(born)
    if majority > last:  # a minor at the last service
        assert until >= add_period(majority, "7y")
        assert from_majority == (add_period(majority, "7y") > add_period(last, "7y"))
    else:
        assert not from_majority and until == add_period(last, "7y")


def _at(day: datetime.date):
    return time_machine.travel(datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC), tick=False)


history = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=9 * 365),  # days the retention period ends after START
        st.sampled_from(["none", "held", "held-then-released"]),
        st.integers(min_value=1, max_value=5),  # at which step a hold is released
    ),
    min_size=1,
    max_size=4,
)
steps = st.lists(st.integers(min_value=1, max_value=3 * 365), min_size=1, max_size=6)


@settings(max_examples=8, **SHARED)
@given(records=history, clock=steps)
def test_ret2_random_histories_under_a_moving_clock(world, make_patient, records, clock):
    practice = world.a.practice
    officer = StaffActor.from_membership(world.a.memberships[Role.PRIVACY_OFFICER])
    made = []
    for offset, hold_kind, release_at in records:
        patient = make_patient()
        with tenant_context(practice_id=practice.id):
            Patient.objects.filter(pk=patient.pk).update(is_active=False)
            until = START + datetime.timedelta(days=offset)
            ArchivedRecord.objects.create(
                practice_id=practice.id, patient_id=patient.pk, reason=ArchiveReason.CLOSED, closed_at=timezone.now(),
                archived_at=timezone.now(), last_service_on=until - datetime.timedelta(days=7 * 365), retain_until=until, rule="medical-records",
            )  # fmt: skip
        hold = engine.do_set_hold(actor=officer, patient_id=patient.pk, reason="litigation") if hold_kind != "none" else None
        made.append((patient.pk, until, hold, hold_kind, release_at))

    day = START
    for step, forward in enumerate(clock, start=1):
        day = day + datetime.timedelta(days=forward)
        for _pk, _until, hold, kind, release_at in made:
            if kind == "held-then-released" and release_at == step:
                engine.do_release_hold(actor=officer, hold_id=hold.pk)
        with _at(day):
            engine.run(practice_id=practice.id)
        with tenant_context(practice_id=practice.id):
            open_holds = {h for h in LegalHold.objects.filter(released_at__isnull=True).values_list("patient_id", flat=True)}
            for pk, until, _hold, _kind, _release in made:
                row = ArchivedRecord.objects.get(patient_id=pk)
                if row.destroyed_at is not None:
                    assert timezone.localdate(row.destroyed_at) > until  # never early
                    assert pk not in open_holds  # never while held
                    assert not Patient.objects.filter(pk=pk).exists()
                else:
                    assert day <= until or pk in open_holds  # never kept past its date without a hold
                    assert Patient.objects.filter(pk=pk).exists()
