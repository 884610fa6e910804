"""Helpers for the amend part's tests: a `correct` request on a signed note, reviewed by a clinician."""

from __future__ import annotations

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records import notes
from confide.rights import amendments, services
from confide.rights.models import RightsRequest

NOTE_TEXT = "Patient reports smoking ten cigarettes a day"
ASKED = "I have never smoked; please remove the smoking entry from the note"


def staff(pw, role=Role.CLINICIAN) -> StaffActor:
    return StaffActor.from_membership(pw.memberships[role])


def signed_note(pw, patient, text: str = NOTE_TEXT):
    clinician = staff(pw)
    with tenant_context(practice_id=pw.practice.id):
        note = notes.do_create_note(actor=clinician, patient_id=patient.pk, content={"subjective": text})
        notes.do_sign_note(actor=clinician, note_id=note.pk, patient_id=patient.pk)
    return note


def version_of(req) -> int:
    with tenant_context(practice_id=req.practice_id):
        return RightsRequest.objects.get(pk=req.pk).version


def correct_request(pw, person, *, detail: str = ASKED):
    return services.check_open_request(actor=person.actor, kind="correct", detail=detail)


OFFICER = '[contacts.privacy_officer]\nname = "Pat Privacy"\nemail = "privacy@a.example.test"\nphone = "+1 415 555 0100"\n'


def officer_with_phone(pw) -> None:
    """Publish the privacy officer's name and phone (a denial letter must give the phone: M6)."""
    import datetime

    from django.utils import timezone

    from confide.policy.services import clear_policy_cache, do_publish_policy

    if getattr(pw, "_officer_phone", False):
        return
    pw._officer_phone = True
    with tenant_context(practice_id=pw.practice.id):
        do_publish_policy(actor=staff(pw, Role.OWNER), override_toml=OFFICER, effective_at=timezone.now() - datetime.timedelta(seconds=1),
                          material=False, summary="Our privacy officer's contact details")  # fmt: skip
    clear_policy_cache()


def started(pw, person, *, target=None, note=None):
    """A correct request with its amendment started on a signed note (or `target`)."""
    req = correct_request(pw, person)
    if target is None:
        note = note or signed_note(pw, person.patient)
        target = f"note:{note.pk}"
    made = amendments.start_amendment(actor=staff(pw), request_id=req.pk, target=target, expected_version=version_of(req))
    return req, made, note
