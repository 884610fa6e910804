"""Online booking requests (issue 16 item 8; MIN1, CON1, AUD1): the public form's checks (what
is refused keeps nothing), the slot held by a pending request, and staff review (accept into an
existing chart found by blind index or a new one, decline), with the requester told through the
send gate and no PHI in the audit log or the logs."""

from __future__ import annotations

import datetime
import json
import logging

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from confide.audit.models import AuditEntry
from confide.consent import services as consent
from confide.consent.topics import Topic
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.directory import booking
from confide.directory.models import BookingRequest
from confide.records import intake
from confide.scheduling.models import Appointment, Source
from confide.scheduling.services import SlotTaken
from confide.vault.allowance import allow
from confide.vault.fields import is_erased
from tests.conftest import CANARIES
from tests.directory.booking_world import booking_world, born, form_data, request_booking
from tests.portal_world import create_patient
from tests.scheduling.world import ZONE, book_at


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def bw(world):
    return booking_world(world.a)


def _actor(world, role):
    return StaffActor.from_membership(world.a.memberships[role])


def _rows(bw):
    with tenant_context(practice_id=bw.practice.id):
        return list(BookingRequest.objects.all())


def _audit_text(bw) -> str:
    with tenant_context(practice_id=bw.practice.id):
        return json.dumps([list(map(str, row)) for row in AuditEntry.objects.values_list()], default=str)


def _assert_no_canary(text: str) -> None:
    for key in ("email", "phone", "dob", "note"):
        assert CANARIES[key] not in text, key
    # (the canary name is also practice A's clinician's display name, staff data, so it is not checked here)


# --- the public page -----------------------------------------------------------------------------
def test_min1_the_public_flow_asks_only_the_minimum_and_keeps_it_sealed_with_the_authorization(client, bw):
    slug = bw.practice.slug
    url = reverse("directory:book", kwargs={"practice_slug": slug})
    step1 = client.get(url)
    assert step1.status_code == 200
    assert "Follow-up" in step1.content.decode() and CANARIES["name"] in step1.content.decode()  # the clinician's name, not an id
    step2 = client.get(url, {"type": bw.sw.kind.pk, "clinician": bw.sw.clinician.pk})
    slot = bw.slots()[0]
    assert booking.format_start(slot.starts_at) in step2.content.decode()
    step3 = client.get(url, {"type": bw.sw.kind.pk, "clinician": bw.sw.clinician.pk, "start": booking.format_start(slot.starts_at)})
    page = step3.content.decode()
    assert step3.status_code == 200
    # MIN1: name, date of birth, e-mail, phone, reason, guardian, and nothing else typed by the visitor.
    typed = {n for n in ("given_name", "family_name", "date_of_birth", "email", "phone", "reason", "guardian_name",
                         "guardian_relationship", "guardian_phone", "guardian_email", "address", "insurance", "ssn") if f'name="{n}"' in page}
    assert typed == {"given_name", "family_name", "date_of_birth", "email", "phone", "reason", "guardian_name",
                     "guardian_relationship", "guardian_phone", "guardian_email"}  # fmt: skip
    sent = client.post(url, form_data(bw, slot=slot), REMOTE_ADDR="203.0.113.20")
    assert sent.status_code == 200 and b'data-testid="received"' in sent.content
    [row] = _rows(bw)
    assert row.status == "pending" and row.starts_at == slot.starts_at and row.clinician_id == bw.sw.clinician.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM directory_bookingrequest")
        raw = repr(cursor.fetchall())
    for key in ("email", "phone", "note"):
        assert CANARIES[key] not in raw  # sealed at rest
    # CON1: the authorization is in the ledger as the applicant's, with the text's hash.
    with tenant_context(practice_id=bw.practice.id):
        given = consent.state(consent.Subject.applicant(bw.practice.id, row.pk), Topic.CONSULTATION_AUTHORIZATION)
    assert given.granted
    assert row.authorization_hash == intake.authorization_hash(booking.AUTHORIZATION_TEXT)
    _assert_no_canary(_audit_text(bw))


def test_bad_choices_and_a_past_slot_get_a_message_and_keep_nothing(client, bw):
    url = reverse("directory:book", kwargs={"practice_slug": bw.practice.slug})
    assert client.get(url, {"type": "junk", "clinician": "x"}).status_code == 400
    past = timezone.now() - datetime.timedelta(days=1)
    response = client.get(url, {"type": bw.sw.kind.pk, "clinician": bw.sw.clinician.pk, "start": booking.format_start(past)})
    assert response.status_code == 409 and booking.PAST.encode() in response.content.replace(b"&#x27;", b"'")
    response = client.post(url, form_data(bw, start=booking.format_start(past)), REMOTE_ADDR="203.0.113.21")
    assert response.status_code == 409
    response = client.post(url, form_data(bw, start="tomorrow"), REMOTE_ADDR="203.0.113.21")
    assert response.status_code == 400
    assert _rows(bw) == []


def test_a_pending_request_holds_its_slot_the_second_visitor_is_told_it_was_taken(bw):
    slot = bw.slots()[0]
    request_booking(bw, slot=slot)
    with pytest.raises(booking.SlotGone, match="just taken"):
        request_booking(bw, slot=slot, email="second@example.test", client_ip="203.0.113.8")
    assert len(_rows(bw)) == 1
    assert slot.starts_at not in {s.starts_at for s in bw.slots()}  # no longer offered


def test_google_busy_blocks_are_not_offered(bw, monkeypatch):
    from confide.scheduling import google

    slot = bw.slots()[0]
    monkeypatch.setattr(google, "busy_blocks", lambda clinician_id, start, end, **kw: [google.BusyBlock(slot.starts_at, slot.ends_at)])
    assert slot.starts_at not in {s.starts_at for s in bw.slots()}
    with pytest.raises(booking.SlotGone):
        request_booking(bw, slot=slot)


def test_an_invalid_date_of_birth_is_refused_next_to_the_field(bw):
    with pytest.raises(intake.FormInvalid) as refused:
        request_booking(bw, date_of_birth="1990-02-31")
    assert "date_of_birth" in refused.value.by_field
    with pytest.raises(intake.FormInvalid):
        request_booking(bw, date_of_birth=(timezone.now().date() + datetime.timedelta(days=3)).isoformat())
    assert _rows(bw) == []


def test_a_twelve_year_old_needs_a_guardian_and_nothing_is_kept_without_one(bw):
    with pytest.raises(intake.FormInvalid) as refused:
        request_booking(bw, date_of_birth=born(12))
    assert "The patient is 12" in refused.value.by_field["guardian"] and "Nothing you entered has been kept" in str(refused.value)
    assert _rows(bw) == []
    row = request_booking(bw, date_of_birth=born(12), guardian_name="Rana Haddad", guardian_relationship="mother",
                          guardian_phone="+1 415 555 0100", guardian_authorization="on")  # fmt: skip
    assert row.submitted_by_guardian


def test_a_twelve_year_old_is_refused_where_the_practice_lets_no_guardian_start_care(world, bw):
    from tests.policy.helpers import publish_in_force

    publish_in_force(actor=_actor(world, Role.PRIVACY_OFFICER), override_toml="[age]\nminimum = 13\nguardian_may_start_care_below_minimum = false\n",
                     summary="Age rule.")  # fmt: skip
    with pytest.raises(intake.FormInvalid) as refused:
        request_booking(bw, date_of_birth=born(12), guardian_name="Rana Haddad", guardian_relationship="mother",
                        guardian_phone="+1 415 555 0100", guardian_authorization="on")  # fmt: skip
    assert "aged 13 or over" in str(refused.value)
    assert _rows(bw) == []
    with tenant_context(practice_id=bw.practice.id):
        assert AuditEntry.objects.filter(event="directory:booking:refused", reason="age").exists()


def test_the_honeypot_is_thanked_and_nothing_kept(client, bw):
    url = reverse("directory:book", kwargs={"practice_slug": bw.practice.slug})
    response = client.post(url, form_data(bw, website="http://spam.example"), REMOTE_ADDR="203.0.113.22")
    assert response.status_code == 200 and b'data-testid="received"' in response.content
    assert _rows(bw) == []
    with tenant_context(practice_id=bw.practice.id):
        assert AuditEntry.objects.filter(event="directory:booking:refused", reason="honeypot").exists()


@override_settings(CONFIDE_CONSULT_PER_HOUR=2)
def test_the_hourly_limit_per_address(client, bw):
    url = reverse("directory:book", kwargs={"practice_slug": bw.practice.slug})
    slots = bw.slots()
    for i in range(2):
        assert client.post(url, form_data(bw, slot=slots[i]), REMOTE_ADDR="203.0.113.23").status_code == 200
    third = client.post(url, form_data(bw, slot=slots[2]), REMOTE_ADDR="203.0.113.23")
    assert third.status_code == 429 and b"Too many booking requests" in third.content
    assert len(_rows(bw)) == 2
    assert client.post(url, form_data(bw, slot=slots[2]), REMOTE_ADDR="203.0.113.24").status_code == 200  # another address


def test_a_double_submit_is_kept_once(bw):
    data = form_data(bw)
    with tenant_context(practice_id=bw.practice.id):
        booking.check_submit_booking(practice=bw.practice, data=data, client_ip="203.0.113.30")
        with pytest.raises(intake.AlreadyReceived):
            booking.check_submit_booking(practice=bw.practice, data=data, client_ip="203.0.113.30")
    assert len(_rows(bw)) == 1


# --- staff review --------------------------------------------------------------------------------
def test_aud1_the_list_is_one_audit_entry_and_the_front_desk_never_sees_the_reason(world, bw):
    row = request_booking(bw)
    desk = _actor(world, Role.FRONT_DESK)
    with tenant_context(practice_id=bw.practice.id):
        [listed] = booking.list_requests(desk)
        assert listed.name == "Zebulon Canarywood" and listed.clinician == CANARIES["name"]
        entries = AuditEntry.objects.filter(event="directory:booking:listed")
        assert entries.count() == 1 and str(row.pk) in json.dumps(entries.get().resource_ids, default=str)
        assert booking.review_request(desk, row.pk).reason is None
        assert booking.review_request(_actor(world, Role.CLINICIAN), row.pk).reason == CANARIES["note"]
        with pytest.raises(Forbidden):
            booking.list_requests(_actor(world, Role.BILLING))
    _assert_no_canary(_audit_text(bw))


def test_accept_into_a_new_chart_books_from_the_website_shreds_the_request_and_tells_the_requester(world, bw, caplog, django_capture_on_commit_callbacks):
    from confide.messaging.models import Message
    from tests.messaging.conftest import declare_processors

    declare_processors(world.a)
    caplog.set_level(logging.DEBUG)
    row = request_booking(bw)
    desk = _actor(world, Role.FRONT_DESK)
    with tenant_context(practice_id=bw.practice.id):
        with django_capture_on_commit_callbacks(execute=True):
            appointment, told = booking.do_accept(actor=desk, request_id=row.pk)
        assert appointment.source == Source.WEBSITE and appointment.starts_at == row.starts_at
        assert appointment.patient_id != bw.sw.patient.id
        done = BookingRequest.objects.get(pk=row.pk)
        assert done.status == "accepted" and done.appointment_id == appointment.pk
        with allow({"identifiers.name"}, subjects={row.pk}):
            assert is_erased(BookingRequest.objects.get(pk=row.pk).given_name)  # the request's key is gone
        [message] = Message.objects.filter(patient_id=appointment.patient_id)
        assert message.channel == "email" and message.topic == "staff_reply"
        assert told
        # The authorization is the patient's now.
        assert consent.state(consent.Subject.patient(bw.practice.id, appointment.patient_id), Topic.CONSULTATION_AUTHORIZATION).granted
        with pytest.raises(booking.AlreadyReviewed):
            booking.do_accept(actor=desk, request_id=row.pk)
    _assert_no_canary(_audit_text(bw))
    _assert_no_canary("\n".join(r.getMessage() for r in caplog.records))


def test_accept_into_the_existing_chart_found_by_blind_index(world, bw):
    existing = create_patient(world.a, given_name="Zeb", family_name="Canarywood", email=CANARIES["email"])
    row = request_booking(bw)
    desk = _actor(world, Role.FRONT_DESK)
    with tenant_context(practice_id=bw.practice.id):
        review = booking.review_request(desk, row.pk)
        assert [c[0] for c in review.candidates] == [existing.id]
        from confide.records.models import Patient

        before = Patient.objects.count()
        appointment, _ = booking.do_accept(actor=desk, request_id=row.pk, merge_into=existing.id)
        assert appointment.patient_id == existing.id and Patient.objects.count() == before


def test_accepting_a_time_staff_booked_meanwhile_says_it_is_no_longer_free_and_writes_nothing(world, bw):
    from confide.records.models import Patient

    row = request_booking(bw)
    with tenant_context(practice_id=bw.practice.id):
        before = Patient.objects.count()
    book_at(bw.sw, row.starts_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M"))  # staff are not blocked by a pending request
    with tenant_context(practice_id=bw.practice.id):
        with pytest.raises(SlotTaken):
            booking.do_accept(actor=_actor(world, Role.FRONT_DESK), request_id=row.pk)
        assert Patient.objects.count() == before
        assert BookingRequest.objects.get(pk=row.pk).status == "pending"
        assert Appointment.objects.filter(source=Source.WEBSITE).count() == 0


def test_decline_erases_the_request_and_sends_the_fixed_email(world, bw, django_capture_on_commit_callbacks):
    from tests.messaging.conftest import declare_processors

    declare_processors(world.a)
    row = request_booking(bw)
    mail.outbox.clear()
    with tenant_context(practice_id=bw.practice.id):
        with pytest.raises(InvalidInput):
            booking.do_decline(actor=_actor(world, Role.FRONT_DESK), request_id=row.pk, reason="because I said so")
        with django_capture_on_commit_callbacks(execute=True):
            assert booking.do_decline(actor=_actor(world, Role.FRONT_DESK), request_id=row.pk, reason="time_unavailable")
        assert not BookingRequest.objects.filter(pk=row.pk).exists()
        entry = AuditEntry.objects.get(event="directory:booking:declined")
        assert entry.detail["reason"] == "time_unavailable"
    [sent] = mail.outbox
    assert sent.to == [CANARIES["email"]] and sent.body == booking.DECLINE_BODY and CANARIES["note"] not in sent.body
    assert slot_free_again(bw, row.starts_at)
    _assert_no_canary(_audit_text(bw))


def slot_free_again(bw, starts_at) -> bool:
    return starts_at in {s.starts_at for s in bw.slots()}


def test_the_staff_pages_accept_from_the_browser(signed_in, world, bw, django_capture_on_commit_callbacks):
    row = request_booking(bw)
    client = signed_in(Role.FRONT_DESK)
    listing = client.get(reverse("directory:booking-requests"))
    assert listing.status_code == 200 and b"Zebulon Canarywood" in listing.content
    detail = client.get(reverse("directory:booking-request", kwargs={"booking_request_id": row.pk}))
    assert detail.status_code == 200 and CANARIES["email"].encode() in detail.content and CANARIES["note"].encode() not in detail.content
    bad = client.post(reverse("directory:booking-decline", kwargs={"booking_request_id": row.pk}), {"reason": "junk"})
    assert bad.status_code == 400 and b"Choose why" in bad.content
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(reverse("directory:booking-accept", kwargs={"booking_request_id": row.pk}), {"merge_into": ""})
    assert done.status_code == 302
    with tenant_context(practice_id=bw.practice.id):
        assert Appointment.objects.filter(source=Source.WEBSITE, starts_at=row.starts_at).count() == 1


def test_the_slots_and_the_chosen_time_are_shown_on_the_practices_clock_not_utc(client, bw):
    """The practice works 9-17 in New York: the slot buttons, the details step and the staff's
    request page say 09:00, never the 14:00 (or 13:00) of UTC."""
    import zoneinfo

    ny = zoneinfo.ZoneInfo("America/New_York")
    url = reverse("directory:book", kwargs={"practice_slug": bw.practice.slug})
    slot = bw.slots()[0]
    wall = slot.starts_at.astimezone(ny).strftime("%H:%M")
    utc = slot.starts_at.astimezone(datetime.UTC).strftime("%H:%M")
    assert wall != utc
    step2 = client.get(url, {"type": bw.sw.kind.pk, "clinician": bw.sw.clinician.pk}).content.decode()
    start = booking.format_start(slot.starts_at)
    button = step2[step2.index(f"start={start}"):]
    button = button[button.index(">") + 1: button.index("</a>")]
    assert button == wall
    step3 = client.get(url, {"type": bw.sw.kind.pk, "clinician": bw.sw.clinician.pk, "start": booking.format_start(slot.starts_at)})
    assert f"at {wall}</strong>" in step3.content.decode()
