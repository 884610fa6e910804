"""The inbound SMS webhook: signatures (the reference's test vectors), forged and missing
signatures, replays, malformed bodies, the practice found by its number (MSG7)."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.messaging.models import InboundReceipt, Message, UnmatchedInbound
from tests.messaging.inbound_helpers import (  # noqa: F401 - the fixture
    PATIENT_NUMBER,
    give_number,
    inbound_params,
    post_hook,
    text_in,
    twilio,
)

# ../shared/reference/rules-and-deadlines.md §3.4
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234", "From": "+14158675309", "To": "+18005551212"}


def test_reference_vector_form_no_port_MSG7():
    validator = RequestValidator("12345")
    assert validator.compute_signature(URL, PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert validator.validate(URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_reference_vector_with_port_443_validates_either_way_MSG7():
    validator = RequestValidator("12345")
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert validator.compute_signature(with_port, PARAMS) == "kvajT1Ptam85bY51eRf/AJRuM3w="
    assert validator.validate(URL, PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=")
    assert validator.validate(with_port, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_reference_vector_docs_variant_MSG7():
    params = PARAMS | {"Caller": "+12349013030", "From": "+12349013030"}
    assert RequestValidator("12345").compute_signature(URL, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_reference_vector_duplicate_keys_through_the_webhooks_parser_MSG7(rf, settings):
    from confide.messaging.webhook_views import _params

    request = rf.post("/x", data="Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234", content_type="application/x-www-form-urlencoded")
    params = _params(request)
    assert params.getlist("Digits") == ["5678", "1234"]
    assert RequestValidator("12345").validate(URL, params, "IK+Dwps556ElfBT0I3Rgjkr1wJU=")


@pytest.mark.parametrize("forged", ["RSOYDt4T1cUTdK1PDd93/VVr8B9=", "", "kvajT1Ptam85bY51eRf/AJRuM3w"])
def test_forged_signatures_of_the_vectors_fail_MSG7(forged):
    assert not RequestValidator("12345").validate(URL, PARAMS, forged)
    assert not RequestValidator("54321").validate(URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not RequestValidator("12345").validate(URL, PARAMS | {"Digits": "1235"}, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def _stored(practice_id) -> tuple[int, int, int]:
    with tenant_context(practice_id=practice_id):
        return Message.objects.count(), InboundReceipt.objects.count(), UnmatchedInbound.objects.count()


def _rejections(reason: str) -> list:
    return [e for e in AuditEntry.objects.filter(event=AuditEvent.WEBHOOK_REJECTED) if e.detail.get("reason") == reason]


@pytest.mark.parametrize("signature", ["forged", "missing", "other-token", "other-url"])
def test_forged_or_missing_signature_is_403_and_stores_nothing_MSG7(mw, twilio, signature, caplog):
    from tests.messaging.inbound_helpers import sign

    give_number(mw.practice_id)
    params = inbound_params("Canary body 7Q")
    value = {"forged": "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "missing": "", "other-token": sign("/hooks/sms/twilio", params, token="nope"),
             "other-url": sign("/hooks/sms/twilio/other", params)}[signature]  # fmt: skip
    before = _stored(mw.practice_id)
    response = post_hook(params, signature=value)
    assert response.status_code == 403
    assert _stored(mw.practice_id) == before
    (entry,) = _rejections("signature")
    assert entry.chain == str(mw.practice_id) and entry.detail["hook"] == "sms"
    assert "Canary body 7Q" not in caplog.text


def test_the_signed_url_is_the_configured_base_not_the_host_header_MSG7(mw, twilio, settings):
    from django.test import Client

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "proxy.internal"]
    give_number(mw.practice_id)
    # Signed over BASE; a proxy's Host header (what build_absolute_uri would use) changes nothing.
    assert post_hook(inbound_params("Hello"), client=Client(HTTP_HOST="proxy.internal")).status_code == 200


def test_no_auth_token_configured_refuses_everything_MSG7(mw, twilio, settings):
    give_number(mw.practice_id)
    params = inbound_params("Hello")
    settings.CONFIDE_TWILIO_AUTH_TOKEN = ""
    assert post_hook(params).status_code == 403


def test_a_valid_text_is_filed_once_and_a_replay_does_nothing_MSG7(mw, twilio):
    give_number(mw.practice_id)
    params = inbound_params("Can I move my appointment?")
    first = post_hook(params)
    assert first.status_code == 200 and first["Content-Type"].startswith("text/xml")
    after_first = _stored(mw.practice_id)
    second = post_hook(params)  # Twilio's retry, or a captured request played back: same signature
    assert second.status_code == 200
    assert _stored(mw.practice_id) == after_first == (1, 1, 0)


@pytest.mark.parametrize(
    ("case", "status"),
    [("no-from", 400), ("no-sid", 400), ("bad-from", 400), ("empty-body", 400), ("too-long-body", 400), ("10kb", 413),
     ("non-utf8", 400), ("nul", 400), ("json", 400)],
)  # fmt: skip
def test_malformed_requests_are_refused_clearly_and_store_nothing_MSG7(mw, twilio, case, status):
    give_number(mw.practice_id)
    params = inbound_params("Hello")
    raw = None
    if case == "no-from":
        del params["From"]
    elif case == "no-sid":
        del params["MessageSid"]
    elif case == "bad-from":
        params["From"] = "not a number"
    elif case == "empty-body":
        params["Body"] = "   "
    elif case == "too-long-body":
        params["Body"] = "x" * 1601
    elif case == "10kb":
        params["Body"] = "x" * 10_240
    elif case == "non-utf8":
        raw = b"MessageSid=SM1&From=%2B14155550142&To=%2B15017250604&Body=%ff%fe"
    elif case == "nul":
        params["Body"] = "a\x00b"
    before = _stored(mw.practice_id)
    if case == "json":
        from django.test import Client

        response = Client().post("/hooks/sms/twilio", data={"Body": "x"}, content_type="application/json", headers={"X-Twilio-Signature": "x"})
    else:
        response = post_hook(params, raw=raw)
    assert response.status_code == status, response.content
    assert _stored(mw.practice_id) == before
    assert AuditEntry.objects.filter(event=AuditEvent.WEBHOOK_REJECTED).count() == 1


def test_a_text_to_a_number_no_practice_has_is_answered_and_ignored(mw, twilio):
    give_number(mw.practice_id)
    response = text_in("Hello", to="+15005550006")
    assert response.status_code == 200
    assert _stored(mw.practice_id) == (0, 0, 0)


def test_get_is_not_allowed(mw, twilio):
    from django.test import Client

    assert Client().get("/hooks/sms/twilio").status_code == 405


def test_the_number_finds_the_practice_under_row_security(world, twilio):
    from confide.messaging.inbound import practice_for_number

    give_number(world.a.practice.id)
    give_number(world.b.practice.id, "+15017250605")
    assert practice_for_number("+15017250604") == world.a.practice.id
    assert practice_for_number("(501) 725-0605") == world.b.practice.id
    assert practice_for_number("+15017250606") is None


def test_a_matched_text_lands_in_the_patients_thread(mw, twilio):
    from confide.access.door import MESSAGING_INBOUND_JOB, open_chart
    from confide.core.purposes import Purpose

    give_number(mw.practice_id)
    assert text_in("Running 5 minutes late", sender="(415) 555-0142").status_code == 200
    with tenant_context(practice_id=mw.practice_id):
        (message,) = Message.objects.all()
    job = MESSAGING_INBOUND_JOB.for_practice(mw.practice_id)
    with open_chart(job, mw.patient.id, Purpose.TREATMENT, categories=job.categories):
        assert message.body == "Running 5 minutes late"
    assert message.channel == "sms" and message.direction == "in" and message.patient_id == mw.patient.id
