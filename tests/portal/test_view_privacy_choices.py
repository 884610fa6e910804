"""CON1 / CON2 / CON3 / AI2: every consent topic in the portal, its state in words, one-step
grant and withdraw written to the ledger with evidence; bad input writes nothing."""

from __future__ import annotations

from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.consent.evidence import text_sha256
from confide.consent.models import ConsentEvent, ConsentEvidence
from confide.consent.topics import Action
from confide.core.tenancy import tenant_context
from confide.portal import privacy
from tests.portal_world import portal_sign_in


def _post(client, person_link, topic, action, *, digest=None, record=None):
    item = privacy.BY_TOPIC.get(topic)
    if digest is None and item is not None:
        digest = privacy.shown_digest(item, Action(action))
    return client.post(reverse("portal:privacy-choice"), {
        "record": str(record if record is not None else person_link.id), "topic": topic, "action": action, "digest": digest or "",
    })  # fmt: skip


def _events(practice_id, patient_id):
    with tenant_context(practice_id=practice_id):
        return list(ConsentEvent.objects.filter(subject_id=str(patient_id)).order_by("at"))


def test_con1_every_portal_topic_is_listed_with_its_state_and_one_button(client, portal):
    portal_sign_in(client, portal.adult.user)
    page = client.get(reverse("portal:privacy"))
    assert page.status_code == 200
    html = page.content.decode()
    for item in privacy.PORTAL_TOPICS:
        assert f'data-testid="topic-{item.topic}"' in html
        assert item.grant in html
    assert "AI help" in html  # AI2: the AI switch is here
    assert privacy.NO_PENALTY in html  # CON3, said where the choice is made
    assert 'data-testid="ledger-empty"' in html


def test_con1_withdrawing_sms_is_one_step_recorded_with_evidence_and_shown_with_the_ledger_line(client, portal):
    portal_sign_in(client, portal.adult.user)
    link, patient = portal.adult.link, portal.adult.patient
    assert _post(client, link, "marketing_sms", "grant").status_code == 302
    response = _post(client, link, "marketing_sms", "withdraw")
    assert response.status_code == 302 and response["Location"].endswith("#choices")
    events = _events(patient.practice_id, patient.pk)
    assert [(e.topic, e.action, e.method, e.channel) for e in events] == [
        ("marketing_sms", "grant", "form_button", "portal"), ("marketing_sms", "withdraw", "form_button", "portal"),
    ]
    item = privacy.BY_TOPIC["marketing_sms"]
    assert events[1].text_sha256 == text_sha256(privacy.shown_text(item, Action.WITHDRAW))  # the exact words shown
    with tenant_context(practice_id=patient.practice_id):
        assert ConsentEvidence.objects.filter(event=events[1]).exists()  # IP and browser, sealed under the patient's key
        entry = AuditEntry.objects.filter(event=AuditEvent.CONSENT_WITHDRAWN, subject_id=patient.pk).get()
    assert (entry.actor_kind, entry.actor_id, entry.actor_role) == ("patient", str(portal.adult.user.pk), "self")
    page = client.get(reverse("portal:privacy")).content.decode()
    assert "You withdrew text messages with news and offers on" in page
    row = page.split('data-testid="topic-marketing_sms"', 1)[1].split("</li>", 1)[0]
    assert '<span data-testid="state">Off</span>' in row and "Yes, send me texts" in row


def test_con1_a_parent_chooses_for_the_child_and_it_is_recorded_as_the_parents_choice(client, portal):
    portal_sign_in(client, portal.parent.user)
    client.post(reverse("portal:switch"), {"link_id": str(portal.child_link.id)})
    assert _post(client, portal.child_link, "ai_features", "grant").status_code == 302
    child = portal.child
    assert [(e.topic, e.action) for e in _events(child.practice_id, child.pk)] == [("ai_features", "grant")]
    with tenant_context(practice_id=child.practice_id):
        entry = AuditEntry.objects.filter(event=AuditEvent.CONSENT_GRANTED, subject_id=child.pk).get()
    assert (entry.actor_id, entry.actor_role) == (str(portal.parent.user.pk), "representative")
    assert _events(portal.parent.patient.practice_id, portal.parent.patient.pk) == []  # not the parent's own record


def _nothing_written(client, portal, response, message):
    assert response.status_code == 400
    assert message in response.content.decode()
    patient = portal.adult.patient
    assert _events(patient.practice_id, patient.pk) == []


def test_an_unknown_topic_is_a_message_and_nothing_is_written(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = _post(client, portal.adult.link, "sell_everything", "grant", digest="x")
    _nothing_written(client, portal, response, "That is not a choice on this page")


def test_a_psychotherapy_release_cannot_be_granted_from_the_portal(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = _post(client, portal.adult.link, "psychotherapy_notes_disclosure", "grant", digest="x")
    _nothing_written(client, portal, response, "That is not a choice on this page")


def test_withdrawing_what_was_never_granted_is_a_message_and_nothing_is_written(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = _post(client, portal.adult.link, "marketing_email", "withdraw")
    _nothing_written(client, portal, response, "There is nothing to withdraw")


def test_a_stale_or_forged_text_digest_is_refused(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = _post(client, portal.adult.link, "marketing_email", "grant", digest=text_sha256("something else"))
    _nothing_written(client, portal, response, "This page has changed since you opened it")


def test_a_forged_record_is_refused_and_nothing_is_written_for_either_record(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = _post(client, portal.adult.link, "marketing_email", "grant", record=portal.child_link.id)
    _nothing_written(client, portal, response, "This page was for another record")
    assert _events(portal.child.practice_id, portal.child.pk) == []


def test_an_action_other_than_grant_or_withdraw_is_refused(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = _post(client, portal.adult.link, "marketing_email", "decline", digest="x")
    _nothing_written(client, portal, response, "Choose yes or no")


def test_browser_signals_are_explained(client, portal):
    portal_sign_in(client, portal.adult.user)
    assert "Your browser sends no privacy signal" in client.get(reverse("portal:privacy")).content.decode()
    page = client.get(reverse("portal:privacy"), HTTP_SEC_GPC="1").content.decode()
    assert "Global Privacy Control" in page and "we honour it" in page
    page = client.get(reverse("portal:privacy"), HTTP_DNT="1").content.decode()
    assert "Do Not Track" in page
    page = client.get(reverse("portal:privacy"), HTTP_DNT="1", HTTP_SEC_GPC="1").content.decode()
    assert "two privacy signals" in page
