"""Online consultations (REC2, REC5, MIN1, MIN2): what is checked before anything is kept, what
is kept and how, and what accepting and rejecting do."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from confide.access.errors import AccessRefused
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records import intake
from confide.records.models import IntakePhoto, IntakeSubmission, Patient, Photo
from confide.vault.allowance import allow
from confide.vault.fields import is_erased
from tests.policy.helpers import publish_in_force
from tests.records.consultations import form_data, submit
from tests.records.uploads import pdf_upload, png_bytes, png_upload

PNG_MAGIC = b"\x89PNG"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # rate limits and one-time tokens live in the cache
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _files_before():
    """The storage directory is shared by the session: each test looks only at what it added."""
    global _BASELINE
    _BASELINE = set(_all_files())
    yield


_BASELINE: set = set()


def _born(years: int) -> str:
    today = timezone.now().date()
    return today.replace(year=today.year - years).isoformat() if not (today.month == 2 and today.day == 29) else (today - datetime.timedelta(days=365 * years + 1)).isoformat()


def _actor(world, role, where=None):
    return StaffActor.from_membership((where or world.a).memberships[role])


def _rows(world):
    with tenant_context(practice_id=world.a.practice.id):
        return IntakeSubmission.objects.count(), IntakePhoto.objects.count()


def _all_files() -> list[Path]:
    root = Path(settings.DATA_DIR) / "files"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _stored_files() -> list[Path]:
    return [p for p in _all_files() if p not in _BASELINE]


def _age_rule(world, minimum: int, guardian_below_minimum: bool = True):
    publish_in_force(  # a lower minimum age is a material change: published long enough ago to apply now
        actor=_actor(world, Role.PRIVACY_OFFICER),
        override_toml=f"[age]\nminimum = {minimum}\nguardian_may_start_care_below_minimum = {str(guardian_below_minimum).lower()}\n",
        summary="Age rule.",
    )  # fmt: skip


# --- what is kept ----------------------------------------------------------------------------------
def test_rec2_a_consultation_is_kept_sealed_under_its_own_key_with_the_authorization_recorded(world):
    submission = submit(world.a.practice, photo=True)
    with tenant_context(practice_id=world.a.practice.id):
        fresh = IntakeSubmission.objects.get(pk=submission.pk)
        assert fresh.authorization_hash == intake.authorization_hash(intake.current_form(world.a.practice.id).authorization_text)
        photo = IntakePhoto.objects.get(submission=fresh)
    assert all(PNG_MAGIC not in p.read_bytes() for p in _stored_files())  # the photo is ciphertext at rest
    assert photo.stored_name.startswith(f"{world.a.practice.id}/{submission.pk}/intake-photo/")
    entry = AuditEntry.objects.get(event=AuditEvent.INTAKE_RECEIVED)
    assert (entry.subject_id, entry.actor_id, entry.detail["photos"]) == (submission.pk, "consult-form", 1)
    assert "Noor" not in str(entry.detail) and "rash" not in str(entry.detail)


def test_rec2_the_answers_medications_and_guardian_are_kept_as_given(world):
    submission = submit(world.a.practice)
    with tenant_context(practice_id=world.a.practice.id), allow({"health.intake", "health.medications", "identifiers.name"}, subjects={submission.pk}):
        fresh = IntakeSubmission.objects.get(pk=submission.pk)
        assert fresh.answers == {"reason": "An itchy rash on both forearms", "since": "A few weeks", "medications": "cetirizine, 10 mg daily\nibuprofen"}
        assert [(m["name"], m["dose"]) for m in fresh.medications] == [("cetirizine", "10 mg daily"), ("ibuprofen", "")]
        assert str(fresh.given_name) == "Noor"


# --- refused before anything is kept -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"given_name": ""}, "First name: please fill this in."),
        ({"date_of_birth": "31/12/1990"}, "Date of birth: give it as YYYY-MM-DD."),
        ({"date_of_birth": "2999-01-01"}, "that date is not possible"),
        ({"email": "", "phone": ""}, "Give an email address or a phone number"),
        ({"email": "not-an-address"}, "Email: that is not an email address."),
        ({"phone": "12"}, "Phone: that is not a phone number."),
        ({"q_reason": ""}, "What would you like help with?: please answer this."),
        ({"q_since": "Forever"}, "choose one of the options"),
        ({"authorize": None}, "tick the box to agree"),
        ({"token": "forged"}, "This form has expired"),
        ({"form_version": "99"}, "changed its form"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_kept(world, overrides, message):
    with pytest.raises(InvalidInput, match=message.replace("?", r"\?").replace("(", r"\(")):
        submit(world.a.practice, photo=True, **overrides)
    assert _rows(world) == (0, 0)
    assert _stored_files() == []
    assert not AuditEntry.objects.filter(event=AuditEvent.INTAKE_RECEIVED).exists()


def test_a_photo_that_is_not_an_image_is_refused_naming_the_formats_a_photo_may_be_and_not_stored(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    practice = world.a.practice
    for upload, message in (
        (SimpleUploadedFile("x.png", b"<html>not an image</html>", content_type="image/png"), r"The file is not a JPEG or PNG file, whatever its name says\.$"),
        (pdf_upload(), r"a photo is a JPEG or PNG image; this file is not one\. Photos are accepted as JPEG or PNG \(\.jpg, \.jpeg or \.png\)\.$"),
        (SimpleUploadedFile("big.png", png_bytes() + b"\0" * (settings.CONFIDE_UPLOAD_MAX_BYTES + 1), content_type="image/png"), "limit"),
    ):
        with tenant_context(practice_id=practice.id), pytest.raises(InvalidInput, match=message):
            intake.check_submit_consultation(practice=practice, data=form_data(practice), files={"q_photo": upload}, client_ip="203.0.113.9")
    assert _rows(world) == (0, 0) and _stored_files() == []


def test_the_honeypot_keeps_nothing_and_records_only_that_it_happened(world):
    with pytest.raises(intake.Honeypot):
        submit(world.a.practice, website="http://spam.example")
    assert _rows(world) == (0, 0)
    entry = AuditEntry.objects.get(event=AuditEvent.INTAKE_REFUSED)
    assert (entry.reason, entry.subject_id, entry.resource_ids) == ("honeypot", None, [])


def test_a_second_submit_of_the_same_form_is_not_a_second_consultation(world):
    data = form_data(world.a.practice)
    with tenant_context(practice_id=world.a.practice.id):
        intake.check_submit_consultation(practice=world.a.practice, data=data, files={}, client_ip="203.0.113.9")
        with pytest.raises(intake.AlreadyReceived):
            intake.check_submit_consultation(practice=world.a.practice, data=dict(data), files={}, client_ip="203.0.113.9")
    assert _rows(world) == (1, 0)


def test_a_client_is_limited_per_hour(world, settings):
    settings.CONFIDE_CONSULT_PER_HOUR = 2
    submit(world.a.practice)
    submit(world.a.practice)
    with pytest.raises(intake.TooMany):
        submit(world.a.practice)
    submit(world.a.practice, client_ip="198.51.100.4")  # another client is not held back
    assert _rows(world) == (3, 0)



def test_sec3_failed_attempts_count_towards_the_hourly_limit_too(world, settings):
    """The limit bounds the work one address can make the server do, not only what it stores: a
    refused attempt is counted before anything expensive happens."""
    settings.CONFIDE_CONSULT_PER_HOUR = 2
    for _ in range(2):
        with pytest.raises(InvalidInput, match="Email: that is not an email address."):
            submit(world.a.practice, email="nope")
    with pytest.raises(intake.TooMany):
        submit(world.a.practice)
    assert _rows(world) == (0, 0)


# --- photos: cheap checks first, then a bounded decode -----------------------------------------------
@pytest.fixture
def decodes(monkeypatch):
    """How many times Pillow decoded pixels (ImageFile.load) during the test."""
    from PIL import ImageFile

    calls = []
    real = ImageFile.ImageFile.load

    def counting(image):
        calls.append(image.size)
        return real(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    return calls


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"token": "forged"}, "This form has expired"), ({"authorize": None}, "tick the box to agree")],
    ids=["no-token", "no-authorization"],
)
def test_sec3_a_photo_is_not_decoded_before_the_token_and_the_authorization_are_checked(world, decodes, overrides, message):
    from tests.records.uploads import png_bomb_upload

    practice = world.a.practice
    for upload in (png_upload(), png_bomb_upload()):
        with tenant_context(practice_id=practice.id), pytest.raises(InvalidInput, match=message):
            intake.check_submit_consultation(practice=practice, data=form_data(practice, **overrides), files={"q_photo": upload}, client_ip="203.0.113.9")
    assert decodes == []
    assert _rows(world) == (0, 0) and _stored_files() == []


def test_sec3_an_image_with_more_pixels_than_the_cap_is_refused_from_its_header_naming_the_limit(world, decodes):
    from tests.records.uploads import png_bomb_upload

    practice = world.a.practice
    with tenant_context(practice_id=practice.id), pytest.raises(InvalidInput) as refused:
        intake.check_submit_consultation(practice=practice, data=form_data(practice), files={"q_photo": png_bomb_upload()}, client_ip="203.0.113.9")
    limit = settings.CONFIDE_UPLOAD_MAX_PIXELS / 1_000_000
    assert str(refused.value) == (
        f"A photo, if it helps (JPEG or PNG): The image is 9459 × 9459 pixels (89.5 megapixels); the limit is {limit:g} "
        "megapixels. Please send a smaller image (a resized photo or a screenshot will do)."
    )
    assert decodes == []  # refused from the header: not one pixel decoded
    assert _rows(world) == (0, 0) and _stored_files() == []


def test_a_photo_within_the_cap_is_still_decoded_re_encoded_and_kept(world, decodes):
    """(And the spy above sees a decode when there is one.)"""
    submit(world.a.practice, photo=True)
    assert (8, 8) in decodes
    assert _rows(world) == (1, 1)

# --- the age rule ---------------------------------------------------------------------------------------
def test_min2_between_the_minimum_age_and_18_a_guardian_must_authorize(world):
    _age_rule(world, 13)
    with pytest.raises(InvalidInput, match="between 13 and 18, a parent or guardian must give their name"):
        submit(world.a.practice, date_of_birth=_born(15))
    assert _rows(world) == (0, 0)
    submission = submit(world.a.practice, date_of_birth=_born(15), guardian_name="Rana Haddad", guardian_relationship="mother",
                        guardian_authorization="on")  # fmt: skip
    assert not submission.submitted_by_guardian
    with tenant_context(practice_id=world.a.practice.id), allow({"contact.guardian"}, subjects={submission.pk}):
        assert IntakeSubmission.objects.get(pk=submission.pk).guardian["relationship"] == "mother"


def test_min1_below_the_minimum_age_a_consultation_is_refused_keeping_nothing(world):
    _age_rule(world, 13, guardian_below_minimum=False)
    with pytest.raises(InvalidInput, match="from age 13. Nothing you entered has been kept"):
        submit(world.a.practice, photo=True, date_of_birth=_born(10), guardian_name="Rana Haddad", guardian_relationship="mother",
               guardian_authorization="on")  # fmt: skip
    assert _rows(world) == (0, 0) and _stored_files() == []


def test_min1_a_guardian_may_start_care_below_the_minimum_where_the_practice_allows_it(world):
    # The default declaration: minimum 18, a parent or guardian may start care for a minor.
    with pytest.raises(InvalidInput, match="under 18, a parent or guardian must"):
        submit(world.a.practice, date_of_birth=_born(16))
    submission = submit(world.a.practice, date_of_birth=_born(16), guardian_name="Sami Haddad", guardian_relationship="father",
                        guardian_authorization="on")  # fmt: skip
    assert submission.submitted_by_guardian


# --- reviewing --------------------------------------------------------------------------------------------
def test_the_queue_shows_no_phi_and_front_desk_and_billing_may_not_review(world):
    submission = submit(world.a.practice, photo=True)
    with tenant_context(practice_id=world.a.practice.id):
        [row] = intake.list_queue(_actor(world, Role.CLINICIAN))
        assert (row.id, row.photos, row.guardian) == (submission.pk, 1, False)
        for role in (Role.FRONT_DESK, Role.BILLING, Role.PRIVACY_OFFICER):
            with pytest.raises(Forbidden):
                intake.review_submission(_actor(world, role), submission.pk)


def test_reviewing_goes_through_the_door_and_another_practice_cannot_see_it(world):
    from confide.core.errors import NotFound

    submission = submit(world.a.practice)
    with tenant_context(practice_id=world.a.practice.id):
        review = intake.review_submission(_actor(world, Role.CLINICIAN), submission.pk)
    assert (review.given_name, review.age) == ("Noor", 30) or review.age in (29, 30)
    opened = AuditEntry.objects.get(event=AuditEvent.INTAKE_OPENED)
    assert opened.subject_id == submission.pk and "health.intake" in opened.categories
    with tenant_context(practice_id=world.b.practice.id), pytest.raises(NotFound):
        intake.review_submission(_actor(world, Role.OWNER, world.b), submission.pk)


def test_accepting_makes_a_chart_moves_the_photo_and_erases_the_submission(world, django_capture_on_commit_callbacks):
    submission = submit(world.a.practice, photo=True)
    clinician = _actor(world, Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        with django_capture_on_commit_callbacks(execute=True):
            patient = intake.do_accept(actor=clinician, submission_id=submission.pk)
        fresh = IntakeSubmission.objects.get(pk=submission.pk)
        assert (fresh.status, fresh.patient_id) == ("accepted", patient.pk)
        with allow({"identifiers.name"}, subjects={submission.pk}):
            assert is_erased(fresh.given_name)  # the submission's key is gone: only the chart holds it now
        assert not IntakePhoto.objects.filter(submission=fresh).exists()
        with allow({"identifiers.name", "health.intake", "health.medications", "health.photos"}, subjects={patient.pk}):
            chart = Patient.objects.get(pk=patient.pk)
            assert (chart.given_name, chart.family_name) == ("Noor", "Haddad")
            assert chart.intake_answers[0]["answers"][0] == {"question": "What would you like help with?", "answer": "An itchy rash on both forearms",
                                                             "question_id": "reason", "maps_to": "reason"}
            assert [m["name"] for m in chart.medications] == ["cetirizine", "ibuprofen"]
            assert Photo.objects.filter(patient=chart).count() == 1
    assert AuditEntry.objects.filter(event=AuditEvent.INTAKE_ACCEPTED, subject_id=patient.pk, resource_ids=[str(submission.pk)]).exists()
    assert [p for p in _stored_files() if f"/{submission.pk}/" in str(p)] == []  # the submission's photo is gone


def test_a_consultation_from_a_known_patient_is_offered_for_merging_and_merges(world, django_capture_on_commit_callbacks):
    from confide.records.services import do_create_patient

    clinician = _actor(world, Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        known = do_create_patient(actor=clinician, given_name="Noor", family_name="Haddad", email="noor.haddad@example.test")
    submission = submit(world.a.practice)
    with tenant_context(practice_id=world.a.practice.id):
        review = intake.review_submission(clinician, submission.pk)
        assert [(pid, why) for pid, _, why in review.duplicates] == [(known.pk, "same email")]
        with django_capture_on_commit_callbacks(execute=True):
            merged = intake.do_accept(actor=clinician, submission_id=submission.pk, merge_into=known.pk)
        assert merged.pk == known.pk and Patient.objects.count() == 1
        with allow({"contact.phone", "health.intake"}, subjects={known.pk}):
            chart = Patient.objects.get(pk=known.pk)
            assert chart.phone == "+14155550177"  # filled in (in E.164): the chart had none
            assert len(chart.intake_answers) == 1


def test_rejecting_deletes_the_consultation_its_photo_and_its_key(world, django_capture_on_commit_callbacks):
    submission = submit(world.a.practice, photo=True)
    with tenant_context(practice_id=world.a.practice.id):
        with django_capture_on_commit_callbacks(execute=True):
            intake.do_reject(actor=_actor(world, Role.CLINICIAN), submission_id=submission.pk)
        assert not IntakeSubmission.objects.exists() and not IntakePhoto.objects.exists()
    assert _stored_files() == []
    from confide.vault import tombstones

    assert tombstones.is_shredded(str(submission.pk))
    assert AuditEntry.objects.filter(event=AuditEvent.INTAKE_REJECTED, subject_id=submission.pk).exists()


def test_a_reviewed_consultation_cannot_be_reviewed_again(world, django_capture_on_commit_callbacks):
    from confide.core.errors import NotFound

    submission = submit(world.a.practice)
    clinician = _actor(world, Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        with django_capture_on_commit_callbacks(execute=True):
            intake.do_accept(actor=clinician, submission_id=submission.pk)
        with pytest.raises((NotFound, AccessRefused)):
            intake.do_accept(actor=clinician, submission_id=submission.pk)


# --- the form --------------------------------------------------------------------------------------------
def test_the_owner_changes_the_form_and_a_bad_definition_names_its_line(world):
    from confide.policy.loader import PolicyError

    owner = _actor(world, Role.OWNER)
    with tenant_context(practice_id=world.a.practice.id):
        text = intake.form_definition_toml(intake.current_form(world.a.practice.id))
        bad = text.replace('type = "choice"', 'type = "checkbox"', 1)
        with pytest.raises(PolicyError) as caught:
            intake.do_update_form(actor=owner, definition_toml=bad)
        assert caught.value.line == bad.splitlines().index('type = "checkbox"') + 1
        form = intake.do_update_form(actor=owner, definition_toml=text.replace("How long has this been going on?", "Since when?"))
        assert form.version == 2 and form.questions[1]["label"] == "Since when?"
        with pytest.raises(Forbidden):
            intake.do_update_form(actor=_actor(world, Role.CLINICIAN), definition_toml=text)


def test_rec5_the_authorization_is_in_the_consent_ledger_and_follows_the_consultation_into_the_chart(world, django_capture_on_commit_callbacks):
    from confide.consent import services as consent
    from confide.consent.models import ConsentEvent
    from confide.consent.topics import Topic

    submission = submit(world.a.practice)
    practice = world.a.practice.id
    applicant = consent.Subject.applicant(practice, submission.pk)
    assert consent.state(applicant, Topic.CONSULTATION_AUTHORIZATION).granted
    with tenant_context(practice_id=practice):
        [given] = ConsentEvent.objects.filter(subject_kind="applicant", subject_id=str(submission.pk))
        assert (given.method, given.channel, given.text_sha256) == ("form_button", "web", submission.authorization_hash)
        with django_capture_on_commit_callbacks(execute=True):
            patient = intake.do_accept(actor=_actor(world, Role.CLINICIAN), submission_id=submission.pk)
        [carried] = ConsentEvent.objects.filter(subject_kind="patient", subject_id=str(patient.pk))
    assert (carried.method, carried.at, carried.text_sha256, carried.scope) == ("import", given.at, given.text_sha256, f"intake:{submission.pk}")
    assert consent.state(consent.Subject.patient(practice, patient.pk), Topic.CONSULTATION_AUTHORIZATION).granted
