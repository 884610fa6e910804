"""CON1, TRK1: every choice is an appended event with who, what, when, how and the notice
version; withdrawal is as easy as granting; bad input is a clear error that writes nothing."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.test import RequestFactory
from django.utils import timezone

from confide.access.consent import do_patient_choice
from confide.audit.models import AuditEntry
from confide.consent import services
from confide.consent.actors import PatientActor, VisitorActor
from confide.consent.evidence import browser_family, network_prefix, text_sha256
from confide.consent.services import Subject, do_decline, do_grant, do_withdraw
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.vault.allowance import allow
from tests.consent.conftest import counts, events, evidence
from tests.consent.helpers import PHONE_SCRIPT, by_phone

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def _request(ip="203.0.113.77", agent=FIREFOX):
    request = RequestFactory().post("/p/a/privacy/choices/", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    request.request_id = "a" * 32
    return request


def _consent_audit(practice) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(chain=str(practice.id), event__startswith="consent:").order_by("seq"))


def test_con1_staff_recording_a_phone_consent_records_who_what_when_how_and_the_notice_version(world, make_patient, clock):
    patient = make_patient()
    front_desk = world.a.memberships[Role.FRONT_DESK]

    event = by_phone(world.a, patient.id, "marketing_sms")

    assert (event.subject_kind, event.subject_id, event.patient_id) == ("patient", str(patient.id), patient.id)
    assert (event.topic, event.purpose, event.action, event.scope) == ("marketing_sms", "marketing", "grant", "")
    assert (event.channel, event.method, event.recorded_by_id) == ("phone", "staff_phone", front_desk.user_id)
    assert event.at == timezone.now() and event.policy_version == 1
    assert event.text_sha256 == text_sha256(PHONE_SCRIPT)
    assert (event.ip_prefix, event.ua_family, event.conflict) == ("", "", False)  # a phone call has no browser
    [entry] = _consent_audit(world.a.practice)
    assert (entry.event, entry.actor_kind, entry.actor_id, entry.actor_role) == ("consent:granted", "user", str(front_desk.user_id), "front_desk")
    assert (entry.subject_id, entry.resource_ids, entry.categories, entry.purpose) == (patient.id, [str(event.pk)], ["preferences.consent"], "marketing")
    assert entry.detail == {
        "topic": "marketing_sms", "action": "grant", "method": "staff_phone", "channel": "phone",
        "subject_kind": "patient", "policy_version": 1, "conflict": False,
    }  # fmt: skip


def test_con1_withdrawal_is_one_call_like_the_grant_and_is_recorded_too(world, make_patient):
    patient = make_patient()
    by_phone(world.a, patient.id, "marketing_email")
    withdrawn = by_phone(world.a, patient.id, "marketing_email", "withdraw")
    assert withdrawn.action == "withdraw"
    assert [e.action for e in events(world.a.practice)] == ["grant", "withdraw"]
    assert [e.event for e in _consent_audit(world.a.practice)] == ["consent:granted", "consent:withdrawn"]
    assert services.state(Subject.patient(world.a.practice.id, patient.id), "marketing_email").granted is False


def test_con1_the_notice_version_in_force_is_the_one_recorded(world, make_patient, clock):
    from confide.policy.services import do_publish_policy

    patient = make_patient()
    owner = StaffActor.from_membership(world.a.memberships[Role.OWNER])
    with tenant_context(practice_id=world.a.practice.id):
        do_publish_policy(
            actor=owner, override_toml='[contacts.privacy_officer]\nname = "Pat Officer"\nemail = "po@a.example.test"\n',
            effective_at=timezone.now() + datetime.timedelta(days=1), material=False, summary="Names the privacy officer.",
        )  # fmt: skip
    assert by_phone(world.a, patient.id, "marketing_email").policy_version == 1  # version 2 is not in force yet
    clock.shift(datetime.timedelta(days=2))
    assert by_phone(world.a, patient.id, "marketing_email", "withdraw").policy_version == 2


def test_con1_withdrawing_what_was_never_granted_is_refused_and_writes_nothing(world, make_patient):
    patient = make_patient()
    before = counts(world.a.practice)
    with pytest.raises(InvalidInput, match="^There is nothing to withdraw: news and offers by e-mail was never granted.$"):
        by_phone(world.a, patient.id, "marketing_email", "withdraw")
    by_phone(world.a, patient.id, "marketing_email")
    by_phone(world.a, patient.id, "marketing_email", "withdraw")
    after_withdrawal = counts(world.a.practice)
    with pytest.raises(InvalidInput, match="is not granted now \\(it was withdrawn on"):
        by_phone(world.a, patient.id, "marketing_email", "withdraw")
    assert counts(world.a.practice) == after_withdrawal
    assert before == {"events": 0, "evidence": 0, "state": 0, "audit": 0}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("topic", "newsletter", "'newsletter' is not a consent topic; the topics are: marketing_email, "),
        ("topic", "sale", "'sale' is not a consent topic"),
        ("channel", "fax", "'fax' is not a channel; the channels are: sms, email, "),
        ("method", "telepathy", "'telepathy' is not a way of recording consent"),
        ("method", "gpc_header", "Browser signals are recorded by the signal middleware"),
        ("channel", "cookie", "A choice made by staff_phone is not made through the cookie channel."),
        ("topic", "analytics_cookies", None),  # a patient may grant it: the control case
        ("shown_text", "  ", "Record the exact text the person was shown"),
        ("scope", "appointment 12; DROP", "A scope is up to 64 letters"),
    ],
)
def test_unknown_topics_channels_and_methods_are_clear_errors_that_write_nothing(world, make_patient, field, value, message):
    patient = make_patient()
    kwargs = dict(
        actor=StaffActor.from_membership(world.a.memberships[Role.FRONT_DESK]), subject=Subject.patient(world.a.practice.id, patient.id),
        topic="marketing_email", channel="phone", method="staff_phone", shown_text=PHONE_SCRIPT,
    )  # fmt: skip
    kwargs[field] = value
    before = counts(world.a.practice)
    if message is None:
        do_grant(**kwargs)
        return
    with pytest.raises(InvalidInput) as refused:
        do_grant(**kwargs)
    assert str(refused.value).startswith(message), str(refused.value)
    assert counts(world.a.practice) == before


def test_a_topic_is_only_for_the_subjects_it_applies_to(world):
    visitor = VisitorActor(world.a.practice.id, "v" * 22)
    with pytest.raises(InvalidInput, match="^News and offers by e-mail is not a choice a visitor makes here.$"):
        do_grant(actor=visitor, subject=Subject.visitor(world.a.practice.id, "v" * 22), topic="marketing_email",
                 channel="cookie", method="form_button", shown_text="x")  # fmt: skip


def test_who_may_record_what(world, make_patient):
    patient = make_patient()
    theirs = make_patient(world.b)
    a = world.a.practice.id
    grant = dict(topic="marketing_email", channel="phone", method="staff_phone", shown_text=PHONE_SCRIPT)
    billing = StaffActor.from_membership(world.a.memberships[Role.BILLING])
    with pytest.raises(Forbidden):  # billing does not record consent
        do_grant(actor=billing, subject=Subject.patient(a, patient.id), **grant)
    front_desk = StaffActor.from_membership(world.a.memberships[Role.FRONT_DESK])
    with pytest.raises(NotFound):  # another practice's patient: the same as a missing one
        do_grant(actor=front_desk, subject=Subject.patient(a, theirs.id), **grant)
    with pytest.raises(NotFound):
        do_grant(actor=front_desk, subject=Subject.patient(a, uuid.uuid4()), **grant)
    with pytest.raises(Forbidden):  # a subject of another practice than the actor's
        do_grant(actor=front_desk, subject=Subject.patient(world.b.practice.id, theirs.id), **grant)
    with pytest.raises(InvalidInput, match="Staff record a patient's choice made by phone"):
        do_grant(actor=front_desk, subject=Subject.patient(a, patient.id), **{**grant, "method": "form_button", "channel": "web"})
    with pytest.raises(Forbidden):  # a visitor may not record a patient's consent
        do_grant(actor=VisitorActor(a, "v" * 22), subject=Subject.patient(a, patient.id), **{**grant, "method": "form_button", "channel": "web"})
    with pytest.raises(Forbidden):  # a patient only their own
        do_grant(actor=PatientActor(a, uuid.uuid4()), subject=Subject.patient(a, patient.id), **{**grant, "method": "form_button", "channel": "portal"})
    with pytest.raises(Forbidden):
        do_grant(actor=None, subject=Subject.patient(a, patient.id), **grant)
    assert counts(world.a.practice)["events"] == 0


def test_a_closed_membership_records_nothing(world, make_patient):
    from confide.accounts.models import Membership

    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id):
        Membership.objects.filter(pk=world.a.memberships[Role.FRONT_DESK].pk).update(is_active=False)
    with pytest.raises(Forbidden):
        by_phone(world.a, patient.id, "marketing_email")


def test_trk1_a_patients_own_choice_keeps_ip_and_user_agent_encrypted_under_their_key_never_on_the_event(world, make_patient):
    patient = make_patient()
    event = do_patient_choice(
        action="grant", actor=PatientActor(world.a.practice.id, patient.id), subject=Subject.patient(world.a.practice.id, patient.id),
        topic="phi_by_email", channel="portal", method="form_button", shown_text="Send my results by e-mail? [Yes]",
        request=_request(),
    )  # fmt: skip
    assert (event.ip_prefix, event.ua_family) == ("", "")
    [stored] = evidence(world.a.practice)
    assert stored.event_id == event.pk and stored.patient_id == patient.id
    raw = stored.__dict__
    assert raw["ip_address"].startswith("cv1:s:") and "203.0.113" not in raw["ip_address"]
    assert raw["user_agent"].startswith("cv1:s:") and "Firefox" not in raw["user_agent"]
    with tenant_context(practice_id=world.a.practice.id), allow({"technical.network", "technical.device"}, subjects={patient.id}):
        assert (stored.ip_address, stored.user_agent) == ("203.0.113.77", FIREFOX)
    # Written through the chart door, as the registered system job, and the patient is the actor.
    opened = AuditEntry.objects.filter(event="records:chart:opened", actor_id="consent-evidence").get()
    assert (opened.subject_id, opened.categories, opened.purpose) == (patient.id, ["technical.device", "technical.network"], "operations")
    [granted] = _consent_audit(world.a.practice)
    assert (granted.actor_kind, granted.actor_id, granted.ip_address, granted.user_agent) == ("patient", str(patient.id), None, "")


def test_trk1_a_patients_browser_choice_outside_the_door_is_refused_and_nothing_is_written(world, make_patient):
    """The ledger sits below the chart door: evidence sealed under the patient's key is written
    only inside the door opened for it (confide.access.consent.do_patient_choice)."""
    patient = make_patient()
    with pytest.raises(Forbidden, match="through the chart door"):
        do_grant(
            actor=PatientActor(world.a.practice.id, patient.id), subject=Subject.patient(world.a.practice.id, patient.id),
            topic="phi_by_email", channel="portal", method="form_button", shown_text="Send my results by e-mail? [Yes]",
            request=_request(),
        )  # fmt: skip
    assert counts(world.a.practice)["events"] == 0 and evidence(world.a.practice) == []
    assert _consent_audit(world.a.practice) == []


def test_trk1_a_visitor_event_keeps_only_the_network_and_browser_family(world):
    visitor = "V" * 22
    event = do_grant(
        actor=VisitorActor(world.a.practice.id, visitor), subject=Subject.visitor(world.a.practice.id, visitor),
        topic="analytics_cookies", channel="cookie", method="form_button", shown_text="Count visits? [Allow]",
        request=_request(ip="2001:db8:abcd:12:34::9"),
    )  # fmt: skip
    assert (event.ip_prefix, event.ua_family, event.patient_id) == ("2001:db8:abcd::/48", "Firefox", None)
    assert evidence(world.a.practice) == []
    [entry] = _consent_audit(world.a.practice)
    assert (entry.actor_kind, entry.actor_id, entry.ip_address, entry.user_agent, entry.subject_id) == ("anonymous", "", None, "", None)
    assert entry.request_id == "a" * 32 and visitor not in str(entry.detail)


@pytest.mark.parametrize(
    ("address", "prefix"),
    [("203.0.113.77", "203.0.113.0/24"), ("::ffff:198.51.100.9", "198.51.100.0/24"), ("2001:db8::1", "2001:db8::/48"), ("", ""), ("not-an-ip", "")],
)
def test_trk1_network_prefixes(address, prefix):
    assert network_prefix(address) == prefix


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        (FIREFOX, "Firefox"),
        ("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36 Edg/140.0", "Edge"),
        ("Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15", "Safari"),
        ("Mozilla/5.0 (X11) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/140.0 Safari/537.36", "Chrome (headless)"),
        ("curl/8.5.0", "script"),
        ("", ""),
        ("Lynx/2.9", "other"),
    ],
)
def test_trk1_browser_families(agent, family):
    assert browser_family(agent) == family


def test_con1_an_import_keeps_its_original_time_and_nothing_else_may(world, make_patient, clock):
    patient = make_patient()
    front_desk = StaffActor.from_membership(world.a.memberships[Role.FRONT_DESK])
    earlier = timezone.now() - datetime.timedelta(days=400)
    imported = do_grant(
        actor=front_desk, subject=Subject.patient(world.a.practice.id, patient.id), topic="telehealth_recording",
        channel="paper", method="import", shown_text="Signed form: recording of sessions", occurred_at=earlier,
    )  # fmt: skip
    assert imported.at == earlier and imported.recorded_by_id == front_desk.user_id
    with pytest.raises(InvalidInput, match="Only an imported choice carries its own time"):
        do_withdraw(
            actor=front_desk, subject=Subject.patient(world.a.practice.id, patient.id), topic="telehealth_recording",
            channel="phone", method="staff_phone", shown_text=PHONE_SCRIPT, occurred_at=earlier,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="in the future"):
        do_grant(
            actor=front_desk, subject=Subject.patient(world.a.practice.id, patient.id), topic="ai_features",
            channel="paper", method="import", shown_text="x", occurred_at=timezone.now() + datetime.timedelta(days=1),
        )  # fmt: skip


def test_con1_decline_records_an_answer_and_is_refused_over_a_grant(world):
    visitor = "W" * 22
    actor, subject = VisitorActor(world.a.practice.id, visitor), Subject.visitor(world.a.practice.id, visitor)
    common = dict(actor=actor, subject=subject, topic="analytics_cookies", channel="cookie", method="form_button", shown_text="Count? [No]")
    declined = do_decline(**common)
    assert declined.action == "decline"
    st = services.state(subject, "analytics_cookies")
    assert (st.granted, st.answered) == (False, True)
    do_grant(**common)
    with pytest.raises(InvalidInput, match="^Usage statistics is granted; withdraw it instead of declining.$"):
        do_decline(**common)
    assert [e.event for e in _consent_audit(world.a.practice)] == ["consent:declined", "consent:granted"]


def test_has_consent_answers_per_purpose_and_channel(world, make_patient):
    patient = make_patient()
    a = world.a.practice.id
    assert services.has_consent(a, patient.id, "marketing") is False
    by_phone(world.a, patient.id, "marketing_sms")
    assert services.has_consent(a, patient.id, "marketing") is True
    assert services.has_consent(a, patient.id, "marketing", channel="sms") is True
    assert services.has_consent(a, patient.id, "marketing", channel="email") is False
    assert services.has_consent(a, patient.id, "treatment", channel="email") is False
    by_phone(world.a, patient.id, "phi_by_email")
    assert services.has_consent(a, patient.id, "treatment", channel="email") is True
    assert services.has_consent(world.b.practice.id, patient.id, "marketing") is False  # practice B's ledger knows nothing of it
    with pytest.raises(InvalidInput, match="^No consent covers treatment: it does not need one.$"):
        services.has_consent(a, patient.id, "treatment")
    with pytest.raises(InvalidInput, match="is not a purpose"):
        services.has_consent(a, patient.id, "sale")
    with pytest.raises(InvalidInput, match="is not a channel"):
        services.has_consent(a, patient.id, "marketing", channel="pigeon")
