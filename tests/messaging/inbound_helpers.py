"""Signed Twilio webhooks for the inbound tests: the practice's number, a token, and a client
call that signs its form exactly as Twilio would (RequestValidator over the public URL)."""

from __future__ import annotations

import itertools
from urllib.parse import urlencode

import pytest
from django.test import Client

TOKEN = "test-twilio-token"
BASE = "https://confide.example.test"
PRACTICE_NUMBER = "+15017250604"
PATIENT_NUMBER = "+14155550142"  # messaging_world's patient
STRANGER = "+12125550187"
_sids = itertools.count(1)


@pytest.fixture
def twilio(settings):
    settings.CONFIDE_TWILIO_AUTH_TOKEN = TOKEN
    settings.CONFIDE_TWILIO_WEBHOOK_BASE = BASE
    return settings


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def give_number(practice_id, number: str = PRACTICE_NUMBER):
    from confide.messaging.inbound import set_sms_number

    return set_sms_number(practice_id, number)


def sign(path: str, params, token: str = TOKEN, query: str = "") -> str:
    from twilio.request_validator import RequestValidator

    url = f"{BASE}{path}" + (f"?{query}" if query else "")
    return RequestValidator(token).compute_signature(url, params)


def inbound_params(body: str, *, sender: str = PATIENT_NUMBER, to: str = PRACTICE_NUMBER, sid: str | None = None) -> dict:
    sid = sid or new_sid()
    return {"ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received", "Body": body,
            "To": to, "NumSegments": "1", "MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender, "ApiVersion": "2010-04-01"}  # fmt: skip


def post_hook(params: dict, *, path: str = "/hooks/sms/twilio", signature: str | None = None, client: Client | None = None, raw: bytes | None = None):
    client = client or Client()
    signature = sign(path, params) if signature is None else signature
    data = raw if raw is not None else urlencode(params).encode()
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return client.generic("POST", path, data=data, content_type="application/x-www-form-urlencoded", headers=headers)


def text_in(body: str, **kwargs):
    return post_hook(inbound_params(body, **kwargs))
