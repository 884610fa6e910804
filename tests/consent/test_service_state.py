"""CON2: the consent state is derived from the events, on any date; the projection table is
only ever the fold of the events, and `rebuild` finds and repairs any row that is not."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from confide.consent import services
from confide.consent.models import ConsentState
from confide.consent.services import Subject, rebuild_projection
from confide.consent.state import as_row, fold
from confide.core.tenancy import tenant_context
from tests.consent.conftest import events, projection
from tests.consent.helpers import by_phone


def _day(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def test_con2_state_on_any_date_is_derived_from_events(world, make_patient, clock):
    patient = make_patient()
    subject = Subject.patient(world.a.practice.id, patient.id)
    start = timezone.now()
    by_phone(world.a, patient.id, "marketing_email")  # day 0: granted
    clock.shift(_day(10))
    by_phone(world.a, patient.id, "marketing_email", "withdraw")  # day 10: withdrawn
    clock.shift(_day(10))
    by_phone(world.a, patient.id, "marketing_email")  # day 20: granted again

    assert services.state(subject, "marketing_email", at=start - _day(1)).granted is False  # before anything
    assert services.state(subject, "marketing_email", at=start + _day(5)).granted is True
    assert services.state(subject, "marketing_email", at=start + _day(15)).granted is False
    assert services.state(subject, "marketing_email", at=start + _day(25)).granted is True
    on_day_15 = services.state(subject, "marketing_email", at=start + _day(15))
    assert (on_day_15.last_action, on_day_15.events, on_day_15.last_at) == ("withdraw", 2, start + _day(10))
    assert services.state(subject, "marketing_sms").answered is False


def test_con2_the_projection_is_the_fold_of_the_events_after_every_append(world, make_patient):
    patient = make_patient()
    for action in ("grant", "withdraw", "grant", "withdraw"):
        by_phone(world.a, patient.id, "marketing_sms", action)
        [row] = projection(world.a.practice)
        expected = as_row(fold("marketing_sms", events(world.a.practice)))
        assert {name: getattr(row, name) for name in expected} == expected
    assert row.events == 4 and row.granted is False


def test_con2_rebuild_finds_an_edited_projection_and_repairs_it_from_the_events(world, make_patient):
    granted, other = make_patient(), make_patient(given_name="Tobias")
    by_phone(world.a, granted.id, "marketing_email")
    by_phone(world.a, other.id, "ai_features")
    assert rebuild_projection(world.a.practice.id).mismatches == 0

    # Someone edits the flag in place, deletes a row, and adds one with no events behind it.
    with tenant_context(practice_id=world.a.practice.id):
        ConsentState.objects.filter(subject_id=str(granted.id)).update(granted=False)
        ConsentState.objects.filter(subject_id=str(other.id)).delete()
        ConsentState.objects.create(practice_id=world.a.practice.id, subject_kind="visitor", subject_id="x" * 22, topic="analytics_cookies", granted=True, events=1)
    assert services.has_consent(world.a.practice.id, granted.id, "marketing", "email") is True  # answered from events, not the flag

    checked = rebuild_projection(world.a.practice.id, write=False)
    assert checked.missing == [("patient", str(other.id), "ai_features")]
    assert checked.extra == [("visitor", "x" * 22, "analytics_cookies")]
    assert checked.differing == [("patient", str(granted.id), "marketing_email", ["granted"])]
    assert rebuild_projection(world.a.practice.id, write=False).mismatches == 3  # --check changed nothing

    assert rebuild_projection(world.a.practice.id).mismatches == 3
    assert rebuild_projection(world.a.practice.id).mismatches == 0
    rows = {(r.subject_id, r.topic): r.granted for r in projection(world.a.practice)}
    assert rows == {(str(granted.id), "marketing_email"): True, (str(other.id), "ai_features"): True}


def test_con2_the_rebuild_command_reports_mismatches_per_practice(world, make_patient, capsys):
    patient = make_patient()
    by_phone(world.a, patient.id, "marketing_email")
    with tenant_context(practice_id=world.a.practice.id):
        ConsentState.objects.update(granted=False)

    with pytest.raises(CommandError, match="1 consent state rows differ from the events"):
        call_command("consent", "rebuild", "--practice", "a", "--check")
    out = capsys.readouterr().out
    assert "a: 1 subject topics, 1 mismatches found" in out
    assert f"  differs  patient:{patient.id} marketing_email: granted" in out

    call_command("consent", "rebuild")
    out = capsys.readouterr().out
    assert "a: 1 subject topics, 1 mismatches repaired" in out and "b: 0 subject topics, 0 mismatches repaired" in out
    call_command("consent", "rebuild", "--practice", "a", "--check")
    assert "0 mismatches found" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no practice with slug 'nope'"):
        call_command("consent", "rebuild", "--practice", "nope")
