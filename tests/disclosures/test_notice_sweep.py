"""DSC2: a held notice goes out once its until-date has passed, once, even with sweeps racing."""

from __future__ import annotations

import datetime

import time_machine

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.disclosures import staff as disc
from confide.disclosures.models import Disclosure
from confide.rights import disclosure_notices
from confide.rights.models import Letter, LetterKind
from tests.disclosures.conftest import NOW

COMPELLED = dict(
    basis="subpoena", reference="Subpoena 2027-118", recipient="Law offices of Example LLP", categories=["health.conditions"],
)  # fmt: skip


def _held(staff, patient, until):
    return disc.do_record_disclosure(
        actor=staff(Role.OWNER), patient_id=patient.pk, basis="subpoena", recipient="Example LLP", description="Conditions",
        purpose="Subpoena 2027-118", notice_forbidden=True, notice_forbidden_until=until,
    )  # fmt: skip


def _letters(world):
    with tenant_context(practice_id=world.a.practice.id):
        return Letter.objects.filter(kind=LetterKind.DISCLOSURE_NOTICE).count()


def test_dsc2_a_held_notice_is_sent_after_its_until_date(world, staff, patient):
    with time_machine.travel(NOW, tick=False):
        made = _held(staff, patient, datetime.date(2027, 4, 1))
        assert disclosure_notices.sweep() == 0
    with time_machine.travel(datetime.datetime(2027, 4, 1, 23, 0, tzinfo=datetime.UTC), tick=False):
        assert disclosure_notices.sweep() == 0  # still the last day it is forbidden
    with time_machine.travel(datetime.datetime(2027, 4, 2, 9, 0, tzinfo=datetime.UTC), tick=False):
        assert disclosure_notices.sweep() == 1
        assert disclosure_notices.sweep() == 0
    assert _letters(world) == 1
    with tenant_context(practice_id=world.a.practice.id):
        assert Disclosure.objects.get(pk=made.pk).patient_notified_at is not None


def test_dsc2_a_notice_forbidden_without_a_date_stays_held(world, staff, patient):
    with time_machine.travel(NOW, tick=False):
        _held(staff, patient, None)
    with time_machine.travel(NOW + datetime.timedelta(days=3650), tick=False):
        assert disclosure_notices.sweep() == 0
    assert _letters(world) == 0


def test_the_sweep_command_reports_a_count(world, staff, patient):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("disclosures", "sweep", stdout=out)
    assert "sweep: 0 notices sent" in out.getvalue()


# Racing sweeps: tests/concurrency/test_disclosure_notices.py (child processes, both databases).
