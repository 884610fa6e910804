"""RFC 8058 one-click unsubscribe (MSG3, RET3): a GET never unsubscribes; a POST (the mailbox
provider's, cookieless, or the page's button) withdraws marketing by e-mail in the ledger, opts
the address out, removes the person's marketing data, and stops a campaign already queued."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.consent.models import ConsentEvent
from confide.consent.services import Subject, state
from confide.consent.topics import Topic
from confide.core.tenancy import tenant_context
from confide.messaging import campaigns, unsubscribe
from confide.messaging.models import CampaignRecipient, EmailOptOut, Message, OptOutSource, Status
from tests.messaging.conftest import deliver_now, send
from tests.messaging.email_helpers import email_world

ADDRESS = "ann@example.test"


@pytest.fixture
def ew(world):
    return email_world(world.a, consents=("marketing_email",), email=ADDRESS)


@pytest.fixture
def mailbox():
    """A mailbox provider's client: no cookies, CSRF enforced as for any cross-site POST."""
    return Client(enforce_csrf_checks=True)


def _url(ew, address: str = ADDRESS) -> str:
    return unsubscribe.unsubscribe_url(ew.practice_id, ew.patient.id, address).split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def _granted(ew) -> bool:
    return state(Subject.patient(ew.practice_id, ew.patient.id), Topic.MARKETING_EMAIL).granted


def _opted_out(ew) -> bool:
    from confide.messaging.addresses import email_blind

    with tenant_context(practice_id=ew.practice_id):
        return EmailOptOut.objects.filter(email_blind=email_blind(ew.practice_id, ADDRESS), opted_out=True).exists()


def _campaign_sent(ew):
    """A campaign run to the patient and delivered (its e-mail sent), then a second queued."""
    with tenant_context(practice_id=ew.practice_id):
        first = campaigns.create_campaign(ew.front_desk, name="Spring", channel="email", body="Spring hours are longer.")
        campaigns.start_campaign(ew.front_desk, first.pk)
    campaigns.run_campaign(first.pk, ew.practice_id)
    with tenant_context(practice_id=ew.practice_id):
        sent = Message.objects.get(campaign_id=first.pk)
    assert deliver_now(sent) == "sent"
    with tenant_context(practice_id=ew.practice_id):
        second = campaigns.create_campaign(ew.front_desk, name="Summer", channel="email", body="Summer hours.")
        campaigns.start_campaign(ew.front_desk, second.pk)
    campaigns.run_campaign(second.pk, ew.practice_id)
    with tenant_context(practice_id=ew.practice_id):
        queued = Message.objects.get(campaign_id=second.pk)
    assert queued.status == Status.QUEUED
    return sent, queued


def test_get_shows_a_confirmation_and_never_unsubscribes_MSG3(ew, mailbox):
    response = mailbox.get(_url(ew))
    assert response.status_code == 200
    assert b"Unsubscribe" in response.content and b'method="post"' in response.content
    assert _granted(ew) and not _opted_out(ew)


def test_one_click_post_unsubscribes_and_removes_marketing_data_MSG3_RET3(ew, mailbox):
    sent, queued = _campaign_sent(ew)
    mail.outbox = []
    response = mailbox.post(_url(ew), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and b"You are unsubscribed" in response.content
    assert not _granted(ew) and _opted_out(ew)
    with tenant_context(practice_id=ew.practice_id):
        event = ConsentEvent.objects.filter(subject_id=str(ew.patient.id), topic="marketing_email").order_by("-created_at").first()
        assert (event.action, event.method, event.channel) == ("withdraw", "unsubscribe_link", "email")
        assert EmailOptOut.objects.get().source == OptOutSource.UNSUBSCRIBE_LINK
        # RET3: which campaigns reached them, and the finished marketing e-mail, are gone.
        assert not CampaignRecipient.objects.filter(patient_id=ew.patient.id).exists()
        assert not Message.objects.filter(pk=sent.pk).exists()
        assert Message.objects.filter(pk=queued.pk).exists()  # left for the final gate
    assert AuditEntry.objects.filter(event=AuditEvent.OPT_OUT_CHANGED, practice_id=ew.practice_id).count() == 1
    # Before the next send: the campaign queued before the unsubscribe is refused, nothing goes out.
    assert deliver_now(queued) == "refused"
    assert mail.outbox == []


def test_second_post_and_the_page_button_are_idempotent_MSG3(ew, mailbox):
    assert mailbox.post(_url(ew), {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert mailbox.post(_url(ew), {"confirm": "yes"}).status_code == 200
    with tenant_context(practice_id=ew.practice_id):
        assert ConsentEvent.objects.filter(subject_id=str(ew.patient.id), topic="marketing_email", action="withdraw").count() == 1
        assert EmailOptOut.objects.count() == 1
    assert AuditEntry.objects.filter(event=AuditEvent.OPT_OUT_CHANGED, practice_id=ew.practice_id).count() == 1


def test_operational_email_still_goes_after_unsubscribing_MSG3(ew, mailbox):
    mailbox.post(_url(ew), {"List-Unsubscribe": "One-Click"})
    mail.outbox = []
    assert deliver_now(send(ew, channel="email", body="See you at 3 tomorrow.")) == "sent"
    assert len(mail.outbox) == 1


def _tampered(token: str) -> str:
    payload, rest = token.split(":", 1)
    return payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + ":" + rest


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda ew, t: _tampered(t), id="tampered"),
        pytest.param(lambda ew, t: signing.dumps({"p": str(ew.practice_id), "s": str(ew.patient.id), "c": "email", "b": "x"}, salt="other"), id="other-salt"),
        pytest.param(lambda ew, t: signing.dumps({"p": str(ew.practice_id), "s": str(ew.patient.id), "c": "sms", "b": "x"}, salt=unsubscribe.SALT), id="sms"),
        pytest.param(lambda ew, t: signing.dumps({"p": "not-a-uuid"}, salt=unsubscribe.SALT), id="malformed"),
        pytest.param(lambda ew, t: "nonsense", id="nonsense"),
        pytest.param(lambda ew, t: "x" * 3000, id="long"),
    ],
)
def test_forged_or_malformed_token_is_a_400_and_changes_nothing_MSG3(ew, mailbox, make):
    token = make(ew, unsubscribe.make_token(ew.practice_id, ew.patient.id, ADDRESS))
    url = reverse("messaging:unsubscribe", kwargs={"token": token})
    assert mailbox.get(url).status_code == 400
    assert mailbox.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 400
    assert _granted(ew) and not _opted_out(ew)


def test_expired_token_is_a_400(ew, mailbox):
    with time_machine.travel(datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=unsubscribe.TOKEN_DAYS + 1), tick=False):
        url = _url(ew)
    assert mailbox.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 400
    assert _granted(ew) and not _opted_out(ew)


def test_post_without_the_one_click_body_or_button_changes_nothing(ew, mailbox):
    assert mailbox.post(_url(ew), {"something": "else"}).status_code == 400
    assert _granted(ew) and not _opted_out(ew)


def test_token_carries_no_address_or_name(ew):
    token = unsubscribe.make_token(ew.practice_id, ew.patient.id, ADDRESS)
    data = signing.loads(token, salt=unsubscribe.SALT)
    assert set(data) == {"p", "s", "c", "b"} and ADDRESS not in str(data) and "Marisol" not in str(data)


@pytest.mark.parametrize(("action", "topic"), [("grant", "marketing_email"), ("withdraw", "phi_by_email"), ("withdraw", "marketing_sms")])
def test_the_unsubscribe_link_method_only_ever_withdraws_marketing_email(ew, action, topic):
    from confide.consent import services as consent
    from confide.core.actors import PatientActor
    from confide.core.errors import Forbidden

    actor = PatientActor(practice_id=ew.practice_id, patient_id=ew.patient.id)
    with pytest.raises(Forbidden):
        consent.do_choose(action=action, actor=actor, subject=Subject.patient(ew.practice_id, ew.patient.id), topic=topic,
                          channel="email", method="unsubscribe_link", shown_text=unsubscribe.SHOWN_TEXT)  # fmt: skip
    assert _granted(ew)


def test_a_second_unsubscribe_after_resubscribing_by_phone_opts_out_again(ew, mailbox):
    from confide.messaging.addresses import email_blind
    from tests.consent.helpers import by_phone

    mailbox.post(_url(ew), {"List-Unsubscribe": "One-Click"})
    with tenant_context(practice_id=ew.practice_id):
        EmailOptOut.objects.filter(email_blind=email_blind(ew.practice_id, ADDRESS)).update(opted_out=False)  # staff cleared it
    by_phone(ew.pw, ew.patient.id, "marketing_email")
    assert mailbox.post(_url(ew), {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert not _granted(ew) and _opted_out(ew)
    assert AuditEntry.objects.filter(event=AuditEvent.OPT_OUT_CHANGED, practice_id=ew.practice_id).count() == 2
