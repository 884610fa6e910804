"""The request id: taken from a proxy only when it is UUID- or ULID-shaped, since it is written
into hashed, append-only audit entries (AUD1: ids only); anything else is replaced by our own."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry

GENERATED = re.compile(r"^[0-9a-f]{32}$")
UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def _failed_sign_in(client, request_id: str) -> tuple[str, AuditEntry]:
    response = client.post(
        reverse("accounts:login"), {"username": "nobody@example.test", "password": "wrong-password-123"}, headers={"X-Request-ID": request_id}
    )
    assert response.status_code == 200
    return response["X-Request-ID"], AuditEntry.objects.filter(event=AuditEvent.SIGNIN_FAILED).latest("id")


@pytest.mark.parametrize("request_id", [UUID, UUID.upper(), UUID.replace("-", ""), ULID, ULID.lower()])
def test_a_uuid_or_ulid_from_the_proxy_is_kept_in_the_response_and_the_audit_entry(client, db, request_id):
    answered, entry = _failed_sign_in(client, request_id)
    assert answered == request_id and entry.request_id == request_id


@pytest.mark.parametrize(
    "request_id",
    [
        "Jane-Doe-1980-03-02-diabetes",  # letters, digits and dashes, 8–64 long: what the old check let through
        "abcdef12-3456",
        "0f8fad5b-d9cb-469f-a165-70867728950e0",  # one character too many
        "{0f8fad5b-d9cb-469f-a165-70867728950e}",
        "0f8fad5b-d9cb-469f-a165_70867728950e",
        "81ARZ3NDEKTSV4RRFFQ69G5FAV",  # a ULID cannot start above 7 (its time would overflow 48 bits)
        "01ARZ3NDEKTSV4RRFFQ69G5FAU",  # U is not in Crockford's base32
        "0" * 10_000,
        "",
    ],
)
def test_aud1_any_other_request_id_is_replaced_and_never_reaches_the_audit_log(client, db, request_id):
    answered, entry = _failed_sign_in(client, request_id)
    assert GENERATED.match(answered), answered
    assert entry.request_id == answered
