"""Notification preferences (MSG6): the patient (portal) or staff (chart) choose channels per
kind of notification; the send gate honours them; each change is audited with codes only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import PatientActor, StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.messaging import preferences
from confide.messaging.models import Message, NotificationPreference, Status
from tests.messaging.conftest import send
from tests.messaging.email_helpers import email_world
from tests.portal_world import portal_sign_in, portal_world


@pytest.fixture
def ew(world):
    return email_world(world.a)


def _rows(ew) -> int:
    with tenant_context(practice_id=ew.practice_id):
        return NotificationPreference.objects.filter(patient_id=ew.patient.id).count()


def test_staff_set_preferences_and_the_gate_honours_them_MSG6(ew):
    stored = preferences.set_preferences(ew.front_desk, ew.patient.id, {"reminders": {"email": False, "sms": False}})
    assert stored["reminders"] == {"portal": True, "sms": False, "email": False}
    assert stored["news"] == preferences.defaults()
    entry = AuditEntry.objects.filter(event=AuditEvent.PREFERENCES_CHANGED, practice_id=ew.practice_id).get()
    assert entry.detail == {"reminders": ["portal"]} and str(entry.subject_id) == str(ew.patient.id)
    message = send(ew, channel="email", topic="reminder", body="Your appointment is tomorrow at 3.")
    assert message.status == Status.REFUSED and message.refusal_code == "preference"


def test_patient_sets_their_own_and_not_anyone_elses_MSG6(ew):
    own = PatientActor(practice_id=ew.practice_id, patient_id=ew.patient.id, user_id=None)
    preferences.set_preferences(own, ew.patient.id, {"news": {"sms": False}})
    assert preferences.get_preferences(ew.practice_id, ew.patient.id)["news"]["sms"] is False
    from tests.portal_world import create_patient

    other = create_patient(ew.pw, given_name="Other")
    with pytest.raises(Forbidden):
        preferences.set_preferences(own, other.id, {"news": {"sms": False}})


def test_roles_without_consent_or_send_permission_and_other_practices_are_refused(ew, world):
    billing = StaffActor.from_membership(ew.pw.memberships[Role.BILLING])
    with pytest.raises(Forbidden):
        preferences.set_preferences(billing, ew.patient.id, {"news": {"sms": False}})
    elsewhere = StaffActor.from_membership(world.b.memberships[Role.FRONT_DESK])
    with pytest.raises(NotFound):
        preferences.set_preferences(elsewhere, ew.patient.id, {"news": {"sms": False}})
    assert _rows(ew) == 0


@pytest.mark.parametrize(
    "choices",
    [{}, [], "news", {"gossip": {"sms": True}}, {"news": {"fax": True}}, {"news": {"sms": "yes"}}, {"news": ["sms"]}],
)
def test_bad_choices_are_refused_and_nothing_written(ew, choices):
    with pytest.raises(InvalidInput):
        preferences.set_preferences(ew.front_desk, ew.patient.id, choices)
    assert _rows(ew) == 0
    assert not AuditEntry.objects.filter(event=AuditEvent.PREFERENCES_CHANGED).exists()


def test_unchanged_settings_write_nothing(ew):
    preferences.set_preferences(ew.front_desk, ew.patient.id, {"news": preferences.defaults()})
    assert _rows(ew) == 0 and not AuditEntry.objects.filter(event=AuditEvent.PREFERENCES_CHANGED).exists()


def _form(**off) -> dict:
    data = {f"{t}:{c}": "on" for t in ("new_messages", "reminders", "billing", "news") for c in ("portal", "sms", "email")}
    for key in off:
        data.pop(key.replace("__", ":"))
    return data


def test_chart_page_shows_and_saves_the_settings_MSG6(ew, signed_in):
    client = signed_in(Role.FRONT_DESK)
    url = reverse("messaging:chart-notifications", kwargs={"patient_id": ew.patient.id})
    page = client.get(url)
    assert page.status_code == 200 and b"Messages and notifications" in page.content and b"style=" not in page.content
    assert client.post(url, _form(billing__sms=True)).status_code == 302
    assert preferences.get_preferences(ew.practice_id, ew.patient.id)["billing"]["sms"] is False
    overview = client.get(reverse("records:chart", kwargs={"patient_id": ew.patient.id}))
    assert url.encode() in overview.content


def test_portal_page_lets_the_patient_choose_MSG6(world, client):
    from tests.messaging.conftest import declare_processors
    from tests.messaging.email_helpers import EMAIL_DECLARED

    declare_processors(world.a, EMAIL_DECLARED)
    people = portal_world(world.a)
    portal_sign_in(client, people.adult.user)
    url = reverse("portal:notifications")
    page = client.get(url)
    assert page.status_code == 200 and b"News and offers" in page.content
    assert reverse("portal:privacy").encode() in page.content
    assert client.post(url, _form(news__email=True, news__sms=True)).status_code == 302
    news = preferences.get_preferences(world.a.practice.id, people.adult.patient.id)["news"]
    assert news == {"portal": True, "sms": False, "email": False}
    entry = AuditEntry.objects.filter(event=AuditEvent.PREFERENCES_CHANGED).get()
    assert entry.actor_kind == "patient"
