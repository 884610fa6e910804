"""RTS3 (HIPAA §164.526, rules-and-deadlines §1.2 M1–M10): a `correct` request's amendment —
accepted (the record amended through the door with its reason, the patient told, the people
to tell listed and written to), denied (a letter with every M6 item), the patient's statement
of disagreement (capped, not empty), the practice's rebuttal (a copy to the patient recorded),
stale pages and a second decision refused, the privacy officer sees status without content."""

from __future__ import annotations

import pytest

from confide.access.door import open_chart
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.disclosures.services import record_disclosure
from confide.records.models import Addendum, Patient
from confide.rights import amendments
from confide.rights.models import Amendment, AmendmentStatus, Letter, LetterKind, LetterStatus, Rebuttal, RightsRequest
from confide.rights.services import ChangedMeanwhile
from confide.vault.errors import PHIAccessDenied
from tests.rights.amend_helpers import ASKED, correct_request, officer_with_phone, signed_note, staff, started, version_of

NEW_TEXT = "The patient does not smoke and never has"


def _letters(req, kind=None):
    with tenant_context(practice_id=req.practice_id):
        rows = Letter.objects.filter(request_id=req.pk)
        return list(rows.filter(kind=kind) if kind else rows)


def _bodies(pw, req, kind):
    """Letter bodies, read inside a clinician's treatment opening that grants messages."""
    with open_chart(staff(pw), req.patient_id, Purpose.TREATMENT, categories={"communications.messages"}):
        return [letter.body for letter in Letter.objects.filter(request_id=req.pk, kind=kind)]


def test_rts3_starting_names_the_disputed_part_and_seals_what_is_asked(world, portal):
    req, made, note = started(world.a, portal.adult)
    assert (made.target_model, made.target_id, made.target_category) == ("records.ProgressNote", note.pk, "health.notes")
    with tenant_context(practice_id=req.practice_id):
        row = Amendment.objects.get(pk=made.pk)
        assert RightsRequest.objects.get(pk=req.pk).status == "in_progress"
        with pytest.raises(PHIAccessDenied):
            str(row.asked)
        entry = AuditEntry.objects.filter(event=AuditEvent.AMENDMENT_STARTED).get()
    assert ASKED not in str(entry.detail) and set(entry.resource_ids) == {str(req.pk), str(made.pk)}
    view = amendments.amendment_view(actor=staff(world.a), request_id=req.pk)
    assert view.asked == ASKED and view.content


def test_rts3_a_target_of_another_patient_or_unsigned_is_refused(world, portal):
    other_note = signed_note(world.a, portal.parent.patient)
    req = correct_request(world.a, portal.adult)
    for target in (f"note:{other_note.pk}", "note:not-a-uuid", "field:given_name", ""):
        with pytest.raises(InvalidInput):
            amendments.start_amendment(actor=staff(world.a), request_id=req.pk, target=target, expected_version=version_of(req))
    with tenant_context(practice_id=req.practice_id):
        assert not Amendment.objects.exists() and RightsRequest.objects.get(pk=req.pk).status == "received"


def test_rts3_accept_amends_the_note_by_addendum_tells_the_patient_and_lists_recipients(world, portal):
    req, made, note = started(world.a, portal.adult)
    record_disclosure(
        practice_id=req.practice_id, patient_id=req.patient_id, basis="other_provider", source="manual",
        recipient="Dr Known Recipient", description="Progress notes", purpose="Continuity of care", categories=["health.notes"],
    )  # fmt: skip
    record_disclosure(
        practice_id=req.practice_id, patient_id=req.patient_id, basis="other_provider", source="manual",
        recipient="Dr Unrelated Lab", description="Lab results", purpose="Continuity of care", categories=["health.lab_results"],
    )  # fmt: skip
    outcome = amendments.accept_amendment(
        actor=staff(world.a), request_id=req.pk, expected_version=version_of(req), text=NEW_TEXT,
        named_recipients="Mercy Hospital\n\n", request=None,
    )  # fmt: skip
    assert outcome.recipients == ["Mercy Hospital", "Dr Known Recipient"]
    with tenant_context(practice_id=req.practice_id):
        amendment = Amendment.objects.get(pk=made.pk)
        request_row = RightsRequest.objects.get(pk=req.pk)
        addendum = Addendum.objects.get(note_id=note.pk)
        decided = AuditEntry.objects.filter(event=AuditEvent.AMENDMENT_DECIDED).get()
    assert amendment.status == AmendmentStatus.ACCEPTED and amendment.amended_resource_id == addendum.pk
    assert request_row.status == "done" and request_row.decided_by_id == world.a.users[Role.CLINICIAN].pk
    assert decided.detail["outcome"] == "accepted" and str(addendum.pk) in decided.resource_ids
    with open_chart(staff(world.a), req.patient_id, Purpose.TREATMENT, categories={"health.notes"}):
        text = Addendum.objects.get(pk=addendum.pk).content
    assert str(made.pk) in text and NEW_TEXT in text  # the addendum cites the amendment
    letters = _letters(req, LetterKind.AMENDMENT_OUTCOME)
    assert len(letters) == 3 and {x.status for x in letters} == {LetterStatus.TO_PRINT}
    bodies = _bodies(world.a, req, LetterKind.AMENDMENT_OUTCOME)
    patient_letter = next(b for b in bodies if "Your request to correct your record" in b)
    assert NEW_TEXT in patient_letter and "Mercy Hospital" in patient_letter and "Dr Known Recipient" in patient_letter
    assert any("To: Mercy Hospital" in b for b in bodies) and any("To: Dr Known Recipient" in b for b in bodies)
    assert not any("Dr Unrelated Lab" in b for b in bodies)


def test_rts3_accept_on_a_field_changes_it_with_the_recorded_reason(world, portal):
    req, made, _ = started(world.a, portal.adult, target="field:health_background")
    amendments.accept_amendment(actor=staff(world.a), request_id=req.pk, expected_version=version_of(req), text=NEW_TEXT)
    with open_chart(staff(world.a), req.patient_id, Purpose.TREATMENT, categories={"health.background"}):
        background = Patient.objects.get(pk=req.patient_id).health_background
    assert NEW_TEXT in background and str(made.pk) in background
    with tenant_context(practice_id=req.practice_id):
        changed = AuditEntry.objects.filter(event=AuditEvent.CHART_CHANGED, subject_id=req.patient_id).order_by("-at").first()
    assert changed is not None and changed.reason == "patient_request" and changed.fields_changed == ["health_background"]


def test_rts3_deny_writes_a_letter_with_every_m6_item(world, portal):
    officer_with_phone(world.a)
    req, made, _ = started(world.a, portal.adult)
    amendments.deny_amendment(
        actor=staff(world.a), request_id=req.pk, expected_version=version_of(req), basis="accurate_complete",
        explanation="The note records what you told us at the visit.",
    )  # fmt: skip
    with tenant_context(practice_id=req.practice_id):
        assert Amendment.objects.get(pk=made.pk).status == AmendmentStatus.DENIED
        assert RightsRequest.objects.get(pk=req.pk).status == "declined"
    [letter] = _letters(req, LetterKind.DENIAL)
    assert letter.context["basis_code"] == "accurate_complete" and letter.template == "rights/letters/amendment_denied.txt"
    [body] = _bodies(world.a, req, LetterKind.DENIAL)
    contacts = amendments.complaint_contacts(req.practice_id)
    assert "it is accurate and complete" in body  # (i) the basis
    assert "statement of disagreement" in body and "patient portal" in body  # (ii) the right, and how
    assert "If you do not send a statement of disagreement, you may ask us to include your request and this letter" in body  # (iii)
    assert contacts["officer_title"] in body  # (iv) the practice's contact, by title…
    assert contacts["officer_phone"] == "+1 415 555 0100" and contacts["officer_phone"] in body  # …and phone
    assert "Department of Health and Human Services" in body and contacts["hhs_url"] in body  # (iv) HHS


def test_rts3_m6_no_denial_without_a_phone_number_for_complaints(world, portal):
    req, made, _ = started(world.a, portal.adult)
    with pytest.raises(InvalidInput, match="phone number"):
        amendments.deny_amendment(actor=staff(world.a), request_id=req.pk, expected_version=version_of(req), basis="accurate_complete")
    with tenant_context(practice_id=req.practice_id):
        assert Amendment.objects.get(pk=made.pk).status == AmendmentStatus.PENDING and not Letter.objects.filter(kind="denial").exists()


def test_rts3_a_denial_basis_outside_the_four_is_refused_and_nothing_changes(world, portal):
    req, made, _ = started(world.a, portal.adult)
    with pytest.raises(InvalidInput):
        amendments.deny_amendment(actor=staff(world.a), request_id=req.pk, expected_version=version_of(req), basis="we_prefer_not")
    with tenant_context(practice_id=req.practice_id):
        assert Amendment.objects.get(pk=made.pk).status == AmendmentStatus.PENDING and not Letter.objects.filter(kind="denial").exists()


def test_rts3_a_stale_version_is_refused_and_changes_nothing(world, portal):
    req, made, note = started(world.a, portal.adult)
    with pytest.raises(ChangedMeanwhile):
        amendments.accept_amendment(actor=staff(world.a), request_id=req.pk, expected_version=version_of(req) - 1, text=NEW_TEXT)
    with tenant_context(practice_id=req.practice_id):
        assert Amendment.objects.get(pk=made.pk).status == AmendmentStatus.PENDING
        assert not Addendum.objects.filter(note_id=note.pk).exists() and not Letter.objects.filter(kind="amendment_outcome").exists()


def test_rts3_a_second_decision_is_refused(world, portal):
    officer_with_phone(world.a)
    req, made, _ = started(world.a, portal.adult)
    amendments.deny_amendment(actor=staff(world.a), request_id=req.pk, expected_version=version_of(req), basis="accurate_complete")
    with pytest.raises(ChangedMeanwhile):
        amendments.accept_amendment(actor=staff(world.a, Role.OWNER), request_id=req.pk, expected_version=version_of(req), text=NEW_TEXT)


def _denied(world, portal):
    officer_with_phone(world.a)
    req, made, note = started(world.a, portal.adult)
    amendments.deny_amendment(actor=staff(world.a), request_id=req.pk, expected_version=version_of(req), basis="accurate_complete")
    return req, made, note


def test_rts3_m7_a_disagreement_is_capped_and_not_empty(world, portal):
    req, made, _ = _denied(world, portal)
    for bad in ("", "   ", "x" * 2001):
        with pytest.raises(InvalidInput):
            amendments.file_disagreement(actor=portal.adult.actor, amendment_id=made.pk, text=bad)
    filed = amendments.file_disagreement(actor=portal.adult.actor, amendment_id=made.pk, text="y" * 2000)
    with tenant_context(practice_id=req.practice_id):
        with pytest.raises(PHIAccessDenied):
            str(type(filed).objects.get(pk=filed.pk).text)
    with pytest.raises(InvalidInput):  # one per amendment
        amendments.file_disagreement(actor=portal.adult.actor, amendment_id=made.pk, text="again")


def test_rts3_only_the_patient_of_a_denied_amendment_may_disagree(world, portal):
    officer_with_phone(world.a)
    req, made, _ = started(world.a, portal.adult)
    with pytest.raises(InvalidInput):  # not denied (yet)
        amendments.file_disagreement(actor=portal.adult.actor, amendment_id=made.pk, text="I disagree")
    amendments.deny_amendment(actor=staff(world.a), request_id=req.pk, expected_version=version_of(req), basis="accurate_complete")
    with pytest.raises(NotFound):  # another record's account
        amendments.file_disagreement(actor=portal.parent.actor, amendment_id=made.pk, text="I disagree")
    with pytest.raises(Forbidden):
        amendments.file_disagreement(actor=staff(world.a), amendment_id=made.pk, text="I disagree")


def test_rts3_m8_a_rebuttal_sends_the_patient_a_copy(world, portal):
    req, made, _ = _denied(world, portal)
    with pytest.raises(InvalidInput):  # nothing to rebut yet
        amendments.write_rebuttal(actor=staff(world.a), request_id=req.pk, text="Our response")
    amendments.file_disagreement(actor=portal.adult.actor, amendment_id=made.pk, text="I have never smoked.")
    rebuttal = amendments.write_rebuttal(actor=staff(world.a), request_id=req.pk, text="The clinician recorded what was said.")
    with tenant_context(practice_id=req.practice_id):
        row = Rebuttal.objects.get(pk=rebuttal.pk)
        assert row.copy_sent_at is not None and row.copy_letter.kind == LetterKind.REBUTTAL
    [body] = _bodies(world.a, req, LetterKind.REBUTTAL)
    assert "The clinician recorded what was said." in body
    with pytest.raises(InvalidInput):
        amendments.write_rebuttal(actor=staff(world.a), request_id=req.pk, text="A second one")


def test_rts3_the_privacy_officer_sees_the_status_never_the_content(world, portal):
    req, made, _ = _denied(world, portal)
    officer = staff(world.a, Role.PRIVACY_OFFICER)
    view = amendments.amendment_view(actor=officer, request_id=req.pk)
    assert not view.content and view.asked == "" and view.status_label == "Denied"
    for decide in (
        lambda: amendments.start_amendment(actor=officer, request_id=req.pk, target="field:health_background", expected_version=1),
        lambda: amendments.write_rebuttal(actor=officer, request_id=req.pk, text="no"),
    ):
        with pytest.raises(Forbidden):
            decide()
    with pytest.raises(Forbidden):
        amendments.amendment_view(actor=staff(world.a, Role.BILLING), request_id=req.pk)


def test_rts3_m9_the_dispute_is_linked_to_the_part(world, portal):
    req, made, note = _denied(world, portal)
    amendments.file_disagreement(actor=portal.adult.actor, amendment_id=made.pk, text="I disagree")
    [dispute] = amendments.disputes_for(req.practice_id, req.patient_id)
    assert (dispute.target_model, dispute.target_id) == ("records.ProgressNote", note.pk)
    assert dispute.notice == "Amendment denied — statement of disagreement on file"


def test_another_practices_request_is_not_found(world, portal):
    officer_with_phone(world.b)
    req, made, _ = started(world.a, portal.adult)
    with pytest.raises(NotFound):
        amendments.amendment_view(actor=staff(world.b), request_id=req.pk)
    with pytest.raises(NotFound):
        amendments.deny_amendment(actor=staff(world.b), request_id=req.pk, expected_version=1, basis="accurate_complete")
