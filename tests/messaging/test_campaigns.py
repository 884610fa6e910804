"""Campaigns (MSG2): the audience is always the ledger's marketing consent for the channel at
send time, checked again by the final gate; a campaign reaches a patient at most once."""

from __future__ import annotations

import pytest
from django.urls import reverse

from confide.core.errors import Forbidden, InvalidInput
from confide.core.permissions import Role
from confide.core.actors import StaffActor
from confide.core.tenancy import tenant_context
from confide.messaging import campaigns
from confide.messaging.models import Campaign, CampaignRecipient, CampaignStatus, Kind, Message, Status
from tests.consent.helpers import by_phone
from tests.messaging.conftest import deliver_now
from tests.messaging.email_helpers import add_patient, email_world

NEWS = "Flu shots are here. Walk in any weekday morning."


@pytest.fixture
def ew(world):
    """Four patients: e-mail marketing granted (two), granted then withdrawn, texts only."""
    ew = email_world(world.a, consents=("marketing_email",), email="ann@example.test")
    ew.granted2 = add_patient(ew, consents=("marketing_email",), email="bo@example.test", given_name="Bo")
    ew.withdrawn = add_patient(ew, consents=("marketing_email",), email="cy@example.test", given_name="Cy")
    by_phone(ew.pw, ew.withdrawn.id, "marketing_email", "withdraw")
    ew.sms_only = add_patient(ew, consents=("marketing_sms",), email="di@example.test", given_name="Di")
    return ew


def _campaign(ew, **fields):
    with tenant_context(practice_id=ew.practice_id):
        return campaigns.create_campaign(ew.front_desk, **({"name": "Flu shots", "channel": "email", "body": NEWS} | fields))


def _sent_to(ew, campaign) -> list:
    with tenant_context(practice_id=ew.practice_id):
        return sorted(str(p) for p in Message.objects.filter(campaign_id=campaign.pk).values_list("patient_id", flat=True))


def test_audience_is_the_ledgers_marketing_consent_for_the_channel_MSG2(ew):
    assert campaigns.audience_size(ew.practice_id, "email") == 2
    assert campaigns.audience_size(ew.practice_id, "sms") == 1
    campaign = _campaign(ew)
    with tenant_context(practice_id=ew.practice_id):
        started, first = campaigns.start_campaign(ew.front_desk, campaign.pk)
    assert first and started.status == CampaignStatus.SENDING and started.audience_count == 2
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry

    entry = AuditEntry.objects.filter(event=AuditEvent.CAMPAIGN_STARTED, practice_id=ew.practice_id).get()
    assert entry.detail == {"channel": "email", "audience": 2} and [str(r) for r in entry.resource_ids] == [str(campaign.pk)]
    assert campaigns.run_campaign(campaign.pk, ew.practice_id) == 2
    assert _sent_to(ew, campaign) == sorted([str(ew.patient.id), str(ew.granted2.id)])
    with tenant_context(practice_id=ew.practice_id):
        done = Campaign.objects.get(pk=campaign.pk)
        kinds = set(Message.objects.filter(campaign_id=campaign.pk).values_list("kind", flat=True))
    assert (done.status, done.processed_count, done.queued_count, done.skipped_count) == (CampaignStatus.SENT, 2, 2, 0)
    assert kinds == {Kind.MARKETING}


def test_consent_withdrawn_between_batches_read_and_send_is_never_sent_MSG2(ew):
    campaign = _campaign(ew)
    with tenant_context(practice_id=ew.practice_id):
        campaigns.start_campaign(ew.front_desk, campaign.pk)
    by_phone(ew.pw, ew.granted2.id, "marketing_email", "withdraw")  # after the preview, before the walk
    campaigns.run_campaign(campaign.pk, ew.practice_id)
    assert _sent_to(ew, campaign) == [str(ew.patient.id)]


def test_queued_campaign_message_is_refused_by_the_final_gate_after_withdrawal_MSG2(ew):
    campaign = _campaign(ew)
    with tenant_context(practice_id=ew.practice_id):
        campaigns.start_campaign(ew.front_desk, campaign.pk)
    campaigns.run_campaign(campaign.pk, ew.practice_id)
    with tenant_context(practice_id=ew.practice_id):
        message = Message.objects.get(campaign_id=campaign.pk, patient_id=ew.patient.id)
    assert message.status == Status.QUEUED
    by_phone(ew.pw, ew.patient.id, "marketing_email", "withdraw")
    outcome = deliver_now(message)
    with tenant_context(practice_id=ew.practice_id):
        status, code = Message.objects.filter(pk=message.pk).values_list("status", "refusal_code").get()
    assert outcome == "refused" and status == Status.REFUSED and code == "consent-marketing"


def test_sending_twice_sends_nothing_twice_MSG2(ew):
    campaign = _campaign(ew)
    other = StaffActor.from_membership(ew.pw.memberships[Role.OWNER])
    with tenant_context(practice_id=ew.practice_id):
        _, first = campaigns.start_campaign(ew.front_desk, campaign.pk)
        _, second = campaigns.start_campaign(other, campaign.pk)  # a second staff member, a double click
    assert (first, second) == (True, False)
    assert campaigns.run_campaign(campaign.pk, ew.practice_id) == 2
    # A worker died and the task runs again: whoever has a recipient row is skipped.
    with tenant_context(practice_id=ew.practice_id):
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    assert campaigns.run_campaign(campaign.pk, ew.practice_id) == 0
    sent = _sent_to(ew, campaign)
    assert len(sent) == len(set(sent)) == 2
    with tenant_context(practice_id=ew.practice_id):
        assert CampaignRecipient.objects.filter(campaign=campaign).count() == 2
        # A finished campaign cannot be started again either.
        assert campaigns.start_campaign(ew.front_desk, campaign.pk)[1] is False


def test_only_staff_who_configure_messaging_write_campaigns(ew):
    clinician = StaffActor.from_membership(ew.pw.memberships[Role.CLINICIAN])
    with tenant_context(practice_id=ew.practice_id), pytest.raises(Forbidden):
        campaigns.create_campaign(clinician, name="x", channel="email", body=NEWS)


@pytest.mark.parametrize(
    "fields",
    [{"name": ""}, {"channel": "portal"}, {"channel": "fax"}, {"body": ""}, {"body": "x" * 20_001}, {"name": "a\nb"},
     {"subject": "News\r\nBcc: all@example.test"}],
)
def test_bad_campaign_input_is_refused_and_nothing_written(ew, fields):
    with pytest.raises(InvalidInput):
        _campaign(ew, **fields)
    with tenant_context(practice_id=ew.practice_id):
        assert not Campaign.objects.exists()


def test_campaign_pages_write_preview_send_and_show_progress_MSG2(ew, signed_in):
    client = signed_in(Role.FRONT_DESK)
    response = client.post(reverse("messaging:campaign-list"), {"name": "Flu shots", "channel": "email", "subject": "Flu shots", "body": NEWS})
    assert response.status_code == 302
    with tenant_context(practice_id=ew.practice_id):
        campaign = Campaign.objects.get()
    page = client.get(reverse("messaging:campaign-detail", kwargs={"campaign_id": campaign.pk}))
    assert page.status_code == 200 and b"2 patients agreed" in page.content
    assert b"<script" not in page.content.split(b"</head>")[1] and b"style=" not in page.content
    send = reverse("messaging:campaign-send", kwargs={"campaign_id": campaign.pk})
    assert client.post(send).status_code == 302
    assert client.post(send).status_code == 302  # the double click
    progress_url = reverse("messaging:campaign-progress", kwargs={"campaign_id": campaign.pk})
    progress = client.get(progress_url, headers={"HX-Request": "true"})  # htmx polling: the part alone
    assert progress.status_code == 200 and b"<progress" in progress.content and b'hx-trigger="every 2s"' in progress.content
    assert b"<main" not in progress.content
    whole = client.get(progress_url)  # opened directly: the campaign's whole page
    assert whole.status_code == 200 and b"<main" in whole.content and b"<progress" in whole.content
    campaigns.run_campaign(campaign.pk, ew.practice_id)
    done = client.get(progress_url, headers={"HX-Request": "true"})
    assert b"hx-get" not in done.content and b"2 of 2" in done.content
    bad = client.post(reverse("messaging:campaign-list"), {"name": "", "channel": "email", "body": ""})
    assert bad.status_code == 400


def test_a_text_campaign_goes_only_to_those_who_agreed_to_news_by_text_MSG2(ew):
    campaign = _campaign(ew, channel="sms", body="Flu shots this week. Reply STOP to stop.")
    with tenant_context(practice_id=ew.practice_id):
        campaigns.start_campaign(ew.front_desk, campaign.pk)
    campaigns.run_campaign(campaign.pk, ew.practice_id)
    assert _sent_to(ew, campaign) == [str(ew.sms_only.id)]
    with tenant_context(practice_id=ew.practice_id):
        status = Message.objects.filter(campaign_id=campaign.pk).values_list("status", flat=True).get()
    assert status in (Status.QUEUED, Status.DEFERRED)  # deferred outside the recipient's allowed hours
