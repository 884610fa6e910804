"""The request's decisions (RTS1, RTS3, RTS7): the one extension, only within the first period
and never past the strictest regime's limit; closing with an outcome and its letter; a stale
form changes nothing; an appeal has its state's deadline and a different reviewer."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from confide.audit.events import AuditEvent
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Role
from confide.rights import decisions, services
from confide.rights.models import LetterKind, LetterStatus, RequestStatus
from tests.rights.queue_helpers import START, entries, fresh, letter_text, letters, staff

D = datetime.date


@pytest.fixture
def filed(world, portal):
    with time_machine.travel(START, tick=False):
        return services.check_open_request(actor=portal.adult.actor, kind="see")


def test_rts1_one_extension_within_the_first_period_sends_the_notice_with_reason_and_date(world, filed):
    assert filed.due_on == D(2027, 2, 3)
    with time_machine.travel("2027-01-20T10:00:00Z", tick=False):
        changed = decisions.do_extend(actor=staff(world.a), request_id=filed.pk, expected_version=filed.version, reason="volume")
    assert changed.extended_due_on == D(2027, 3, 5)  # HIPAA's 30 more days, the strictest limit in force
    assert changed.extension_reason == "volume" and changed.version == filed.version + 1
    (notice,) = letters(filed)
    assert notice.kind == LetterKind.EXTENSION and notice.status == LetterStatus.SENT and notice.channel == "portal"
    text = letter_text(world.a, notice)
    assert "The records are extensive and take longer to gather" in text
    assert "5 March 2027" in text and "3 February 2027" in text and "only extension" in text
    (entry,) = entries(world.a, AuditEvent.RIGHTS_REQUEST_EXTENDED)
    assert entry.detail == {"reason": "volume", "due_on": "2027-03-05", "kind": "see"}
    with time_machine.travel("2027-01-21T10:00:00Z", tick=False), pytest.raises(InvalidInput, match="Already extended once"):
        decisions.do_extend(actor=staff(world.a), request_id=filed.pk, expected_version=changed.version, reason="complexity")
    assert fresh(filed).extended_due_on == D(2027, 3, 5) and len(letters(filed)) == 1


def test_rts1_no_extension_once_the_first_period_has_ended(world, filed):
    with time_machine.travel("2027-02-04T10:00:00Z", tick=False), pytest.raises(InvalidInput, match="first period ended on 3 February 2027"):
        decisions.do_extend(actor=staff(world.a), request_id=filed.pk, expected_version=filed.version, reason="volume")
    assert fresh(filed).extended_at is None and letters(filed) == []


def test_rts1_an_unknown_reason_is_refused_and_changes_nothing(world, filed):
    with time_machine.travel("2027-01-10T10:00:00Z", tick=False), pytest.raises(InvalidInput, match="reason"):
        decisions.do_extend(actor=staff(world.a), request_id=filed.pk, expected_version=filed.version, reason="because")
    assert fresh(filed).version == filed.version


def test_rts1_a_stale_version_changes_nothing(world, filed):
    with time_machine.travel("2027-01-10T10:00:00Z", tick=False):
        decisions.do_close(actor=staff(world.a), request_id=filed.pk, expected_version=filed.version, outcome="done")
        with pytest.raises(services.ChangedMeanwhile):
            decisions.do_close(actor=staff(world.a, Role.OWNER), request_id=filed.pk, expected_version=filed.version,
                               outcome="denied", basis="identity")  # fmt: skip
    row = fresh(filed)
    assert row.status == RequestStatus.DONE and [x.kind for x in letters(filed)] == [LetterKind.FULFILMENT]
    assert len(entries(world.a, AuditEvent.RIGHTS_REQUEST_CLOSED)) == 1


def test_rts3_a_denial_without_a_basis_is_refused_and_nothing_is_written(world, filed):
    with pytest.raises(InvalidInput, match="basis"):
        decisions.do_close(actor=staff(world.a), request_id=filed.pk, expected_version=filed.version, outcome="denied", basis="")
    with pytest.raises(InvalidInput, match="basis"):
        decisions.do_close(actor=staff(world.a), request_id=filed.pk, expected_version=filed.version, outcome="denied", basis="accurate")
    assert fresh(filed).status == RequestStatus.RECEIVED and letters(filed) == []


def test_roles_without_the_decide_permission_are_refused(world, filed):
    for role in (Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING):
        with pytest.raises(Forbidden):
            decisions.do_close(actor=staff(world.a, role), request_id=filed.pk, expected_version=filed.version, outcome="done")


def test_another_practices_request_is_not_found(world, filed):
    from confide.core.errors import NotFound

    with pytest.raises(NotFound):
        decisions.do_close(actor=staff(world.b), request_id=filed.pk, expected_version=filed.version, outcome="done")
    with pytest.raises(NotFound):
        decisions.get_request_page(actor=staff(world.b), request_id=filed.pk)


def test_withdrawn_sends_no_letter(world, filed):
    decisions.do_close(actor=staff(world.a), request_id=filed.pk, expected_version=filed.version, outcome="withdrawn")
    assert fresh(filed).status == RequestStatus.WITHDRAWN and letters(filed) == []


def test_rts7_an_appeal_has_its_states_deadline_and_a_different_reviewer(world, portal, filed):
    officer, owner = staff(world.a), staff(world.a, Role.OWNER)
    with time_machine.travel("2027-01-10T10:00:00Z", tick=False):
        decisions.do_close(actor=officer, request_id=filed.pk, expected_version=filed.version, outcome="denied", basis="legal_proceedings")
    with time_machine.travel("2027-01-11T10:00:00Z", tick=False):
        appeal = decisions.check_file_appeal(actor=portal.adult.actor, appeal_of_id=filed.pk, state="CO")
        assert appeal.kind == "appeal" and appeal.appeal_of_id == filed.pk and appeal.due_on == D(2027, 2, 25)  # Colorado: 45 days
        with pytest.raises(InvalidInput, match="already under appeal"):
            decisions.check_file_appeal(actor=portal.adult.actor, appeal_of_id=filed.pk, state="CO")
        page = decisions.get_request_page(actor=officer, request_id=appeal.pk)
        assert page.appeal_reviewer_blocked is True
        with pytest.raises(Forbidden, match="someone other than"):
            decisions.do_close(actor=officer, request_id=appeal.pk, expected_version=appeal.version, outcome="denied", basis="upheld")
        assert fresh(appeal).status == RequestStatus.RECEIVED
        assert decisions.get_request_page(actor=owner, request_id=appeal.pk).appeal_reviewer_blocked is False
        decisions.do_close(actor=owner, request_id=appeal.pk, expected_version=appeal.version, outcome="denied", basis="upheld")
    row = fresh(appeal)
    assert row.status == RequestStatus.DECLINED and row.decided_by_id == world.a.owner.pk
    (outcome_letter,) = letters(appeal)
    assert outcome_letter.kind == LetterKind.APPEAL_OUTCOME
    text = letter_text(world.a, outcome_letter)
    assert "Colorado Attorney General" in text and "https://coag.gov/" in text and "did not make the first decision" in text


def test_rts7_connecticut_and_virginia_appeals_are_due_in_60_days(world, portal, filed):
    decisions.do_close(actor=staff(world.a), request_id=filed.pk, expected_version=filed.version, outcome="done")
    with time_machine.travel("2027-01-11T10:00:00Z", tick=False):
        appeal = decisions.check_file_appeal(actor=staff(world.a, Role.OWNER), appeal_of_id=filed.pk, state="CT")
    assert appeal.due_on == D(2027, 3, 12) and appeal.channel == "phone" and appeal.logged_by_id == world.a.owner.pk


def test_rts7_only_a_decided_request_can_be_appealed(world, portal, filed):
    with pytest.raises(InvalidInput, match="Only a decided request"):
        decisions.check_file_appeal(actor=portal.adult.actor, appeal_of_id=filed.pk, state="CO")
    decisions.do_close(actor=staff(world.a), request_id=filed.pk, expected_version=filed.version, outcome="done")
    with pytest.raises(InvalidInput, match="two-letter"):
        decisions.check_file_appeal(actor=staff(world.a), appeal_of_id=filed.pk, state="ZZ")


def test_rts7_a_patient_cannot_appeal_another_patients_decision(world, portal, filed):
    from confide.core.errors import NotFound

    decisions.do_close(actor=staff(world.a), request_id=filed.pk, expected_version=filed.version, outcome="done")
    with pytest.raises(NotFound):
        decisions.check_file_appeal(actor=portal.parent.actor, appeal_of_id=filed.pk, state="CO")
