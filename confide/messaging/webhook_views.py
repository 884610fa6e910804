"""Twilio's webhooks: an inbound SMS and a delivery status callback (MSG7, MSG1).

Public POST routes, CSRF-exempt, authenticated by `X-Twilio-Signature` alone
(../shared/reference/rules-and-deadlines.md §3.4). The signed URL is the configured public
address (CONFIDE_TWILIO_WEBHOOK_BASE, else CONFIDE_BASE_URL) with this path and query string:
never `request.build_absolute_uri()`, whose host a proxy or a client chooses. Each refusal is a
4xx with nothing stored but one `messaging:webhook:rejected` entry (ids and a reason code) and
one log line without the body:

    413/400  the body is over 8 KB, not form-encoded UTF-8, or lacks MessageSid/From/To
    403      the signature is missing or wrong, or no auth token is configured
    200      an unknown number, a replayed MessageSid, an unknown status SID: nothing done
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt

from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.messaging import inbound
from confide.messaging.addresses import NotSearchable, e164

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 8 * 1024  # a Twilio SMS webhook is ~1 KB with a 1,600-character body
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class Rejected(Exception):
    def __init__(self, status: int, reason: str, practice_id=None):
        super().__init__(reason)
        self.status, self.reason, self.practice_id = status, reason, practice_id


def signed_url(request: HttpRequest) -> str:
    """The URL Twilio signed: the configured public base, this path, the query string as sent."""
    base = (getattr(settings, "CONFIDE_TWILIO_WEBHOOK_BASE", "") or settings.CONFIDE_BASE_URL).rstrip("/")
    query = request.META.get("QUERY_STRING", "")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def signature_valid(url: str, params, signature: str) -> bool:
    from twilio.request_validator import RequestValidator

    token = getattr(settings, "CONFIDE_TWILIO_AUTH_TOKEN", "")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(url, params, signature)


def _params(request: HttpRequest) -> MultiValueDict:
    """The form body, strictly: at most MAX_BODY_BYTES, form-encoded, UTF-8 after decoding."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        raise Rejected(413, "too-large")
    raw = request.body
    if len(raw) > MAX_BODY_BYTES:
        raise Rejected(413, "too-large")
    if not (request.content_type or "").startswith("application/x-www-form-urlencoded"):
        raise Rejected(400, "not-form")
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=bool(raw), encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "not-utf8") from None
    if any("\x00" in key or "\x00" in value for key, value in pairs):
        raise Rejected(400, "nul")
    params = MultiValueDict()
    for key, value in pairs:
        params.appendlist(key, value)
    return params


def _practice_of(number: str):
    try:
        return inbound.practice_for_number(number) if number else None
    except NotSearchable:
        return None


def _reject(request: HttpRequest, hook: str, exc: Rejected) -> HttpResponse:
    record(AuditEvent.WEBHOOK_REJECTED, practice_id=exc.practice_id, detail={"hook": hook, "reason": exc.reason}, request=request)
    logger.warning("webhook %s rejected: %s (status %s)", hook, exc.reason, exc.status)
    messages = {413: "The request body is too large.", 403: "The request signature is not valid.", 400: "The request is not a valid provider callback."}
    return HttpResponse(messages.get(exc.status, "Refused."), status=exc.status, content_type="text/plain; charset=utf-8")


def _authenticated(request: HttpRequest, practice_number_field: str) -> tuple[MultiValueDict, object]:
    params = _params(request)
    practice_id = _practice_of(params.get(practice_number_field, ""))
    if not signature_valid(signed_url(request), params, request.headers.get("X-Twilio-Signature", "")):
        raise Rejected(403, "signature", practice_id)
    return params, practice_id


def _twiml() -> HttpResponse:
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@route("messaging:hook-sms")
def hook_sms(request: HttpRequest) -> HttpResponse:
    try:
        params, practice_id = _authenticated(request, "To")
        sid, sender, body = params.get("MessageSid", ""), params.get("From", ""), params.get("Body", "")
        if not sid or len(sid) > 64 or not sender:
            raise Rejected(400, "missing-field", practice_id)
        try:
            e164(sender)
        except NotSearchable:
            raise Rejected(400, "bad-from", practice_id) from None
        if practice_id is None:
            logger.info("inbound sms to a number no practice has: nothing done")
            return _twiml()
        if not body.strip():
            if (params.get("NumMedia") or "0") == "0":
                raise Rejected(400, "empty-body", practice_id)
            body = "[A picture or file was sent by text. Ask the patient to send it in the portal instead.]"
        try:
            outcome = inbound.handle_sms(practice_id=practice_id, sid=sid, from_number=sender, body=body, request=request)
        except InvalidInput:
            raise Rejected(400, "bad-body", practice_id) from None
    except Rejected as exc:
        return _reject(request, "sms", exc)
    logger.info("inbound sms: %s", outcome.result, extra={"practice_id": str(practice_id)})
    return _twiml()


@csrf_exempt
@route("messaging:hook-sms-status")
def hook_sms_status(request: HttpRequest) -> HttpResponse:
    try:
        params, practice_id = _authenticated(request, "From")
        sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "") or params.get("SmsStatus", "")
        if not sid or len(sid) > 64 or not status or len(status) > 20:
            raise Rejected(400, "missing-field", practice_id)
    except Rejected as exc:
        return _reject(request, "sms-status", exc)
    if practice_id is None:
        logger.info("status callback from a number no practice has: nothing done")
        return HttpResponse(status=200)
    result = inbound.record_status(practice_id=practice_id, sid=sid, status=status, error_code=params.get("ErrorCode", "")[:16], request=request)
    logger.info("status callback: %s", result, extra={"practice_id": str(practice_id), "provider_ref": sid})
    return HttpResponse(status=200)
