"""ACC2 (patients): a signed-in portal account adds a passkey (portal:passkey-options, then
portal:passkey-add), verified by py_webauthn on a real attestation from a software
authenticator; what is refused is refused with a clear message and nothing written."""

from __future__ import annotations

import json

from django.test import Client
from django.urls import reverse
from django_otp import user_has_device

from confide.accounts import passkeys
from confide.accounts.models import WebAuthnChallenge, WebAuthnCredential
from confide.accounts.services import portal_mfa_step_pending
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from tests.portal.passkey_steps import JSON, add_passkey, post_json, registration_options
from tests.portal_world import portal_sign_in
from tests.soft_authenticator import SoftAuthenticator


def _entries(event, user):
    return list(AuditEntry.objects.filter(event=event, detail__user_id=str(user.pk)).order_by("at"))


def test_acc2_patient_adds_a_passkey_which_is_listed_and_audited(client, portal):
    user = portal.adult.user
    portal_sign_in(client, user)
    options = registration_options(client)
    assert options["rp"] == {"id": "testserver", "name": "Confide patient portal"}
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["attestation"] == "none"

    auth = SoftAuthenticator()
    credential = auth.register(options)
    response = post_json(client, "portal:passkey-add", {"credential": credential, "name": "  My   phone "})
    assert response.status_code == 200 and response.json() == {"redirect": reverse("portal:passkeys")}

    passkey = WebAuthnCredential.objects.get(user=user)
    assert (passkey.name, passkey.sign_count, passkey.transports, passkey.confirmed) == ("My phone", 0, ["internal"], True)
    assert passkey.credential_id == credential["id"] and bytes(passkey.public_key) == auth.cose_key()
    assert passkey.created_at is not None and passkey.last_used_at is None
    [entry] = _entries(AuditEvent.PASSKEY_ADDED, user)
    assert entry.detail == {"user_id": str(user.pk), "passkey_id": str(passkey.pk)} and entry.outcome == "ok"
    page = client.get(reverse("portal:passkeys")).content.decode()
    assert "My phone" in page and "Passkey “My phone” added" in page


def test_acc2_a_passkey_is_a_second_factor_but_never_accepts_a_code(client, portal):
    user = portal.adult.user
    portal_sign_in(client, user)
    add_passkey(client)
    passkey = WebAuthnCredential.objects.get(user=user)
    assert user_has_device(user, confirmed=True)
    assert passkey.verify_token("123456") is False and passkey.verify_token("") is False
    user.is_verified = lambda: False  # a session that has passed the password step only
    assert portal_mfa_step_pending(user, None) == "verify"


def test_the_options_leave_out_the_accounts_own_passkeys(client, portal):
    portal_sign_in(client, portal.adult.user)
    response, auth = add_passkey(client)
    options = registration_options(client)
    assert [c["id"] for c in options["excludeCredentials"]] == [auth.register(options)["id"]]


def test_acc2_a_passkey_already_set_up_for_another_account_is_refused(client, portal):
    response, auth = add_passkey(portal_sign_in(client, portal.adult.user))
    assert response.status_code == 200
    other = portal_sign_in(Client(), portal.parent.user)
    response, _ = add_passkey(other, auth)  # the same authenticator: the same credential id
    assert response.status_code == 400
    assert response.json()["error"] == passkeys.ALREADY_REGISTERED
    assert WebAuthnCredential.objects.filter(user=portal.parent.user).count() == 0
    assert WebAuthnCredential.objects.get().user == portal.adult.user  # the first account keeps it
    [refused] = _entries(AuditEvent.PASSKEY_ADDED, portal.parent.user)
    assert refused.outcome == "refused" and refused.detail["reason"] == "already-registered"


def test_an_answer_to_another_challenge_is_refused_and_nothing_is_saved(client, portal):
    portal_sign_in(client, portal.adult.user)
    response, _ = add_passkey(client, challenge="bm90LXRoZS1jaGFsbGVuZ2U")
    assert response.status_code == 400 and response.json()["error"] == passkeys.REGISTER_FAILED
    assert not WebAuthnCredential.objects.exists()


def test_an_answer_cannot_be_posted_twice(client, portal):
    portal_sign_in(client, portal.adult.user)
    auth = SoftAuthenticator()
    body = {"credential": auth.register(registration_options(client)), "name": "Laptop"}
    assert post_json(client, "portal:passkey-add", body).status_code == 200
    WebAuthnCredential.objects.all().delete()
    again = post_json(client, "portal:passkey-add", body)
    assert again.status_code == 400 and again.json()["error"] == passkeys.REGISTER_EXPIRED
    assert not WebAuthnCredential.objects.exists()
    assert not WebAuthnChallenge.objects.exists()


def test_an_answer_from_another_site_is_refused(client, portal):
    portal_sign_in(client, portal.adult.user)
    response, _ = add_passkey(client, origin="https://portal.example.net")
    assert response.status_code == 400
    response, _ = add_passkey(client, rp_id="example.net")
    assert response.status_code == 400
    assert not WebAuthnCredential.objects.exists()


def test_a_passkey_whose_device_did_not_check_the_person_is_refused(client, portal):
    portal_sign_in(client, portal.adult.user)
    response, _ = add_passkey(client, SoftAuthenticator(user_verified=False))
    assert response.status_code == 400 and not WebAuthnCredential.objects.exists()


def test_bad_json_or_a_wrong_shape_gets_a_400_with_a_message_and_writes_nothing(client, portal):
    portal_sign_in(client, portal.adult.user)
    options = registration_options(client)
    for body in ("{not json", "[]", json.dumps({"credential": "text"}), json.dumps({"credential": {"id": 5}})):
        response = post_json(client, "portal:passkey-add", body)
        assert response.status_code == 400 and response.json()["error"], body
    response = client.post(reverse("portal:passkey-add"), {"credential": "x"})  # a form, not JSON
    assert response.status_code == 400 and response.json()["error"]
    too_long = {"credential": SoftAuthenticator().register(options), "name": "x" * 61}
    response = post_json(client, "portal:passkey-add", too_long)
    assert response.status_code == 400 and "60 characters" in response.json()["error"]
    assert not WebAuthnCredential.objects.exists()
    response = post_json(client, "portal:passkey-options", "[1, 2]")
    assert response.status_code == 400


def test_the_json_endpoints_need_the_csrf_token(portal):
    client = portal_sign_in(Client(enforce_csrf_checks=True), portal.adult.user)
    refused = client.post(reverse("portal:passkey-options"), data="{}", content_type=JSON)
    assert refused.status_code == 403
    client.get(reverse("portal:passkeys"))  # sets the CSRF cookie; the page carries the token
    token = client.cookies["csrftoken"].value
    allowed = client.post(reverse("portal:passkey-options"), data="{}", content_type=JSON, headers={"X-CSRFToken": token})
    assert allowed.status_code == 200


def test_a_visitor_cannot_ask_for_registration_options(client, db):
    response = post_json(client, "portal:passkey-options", {})
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:signin"))
    assert not WebAuthnChallenge.objects.exists()


def test_the_rp_id_can_be_set_and_the_base_url_is_an_allowed_origin(client, portal, settings):
    settings.CONFIDE_WEBAUTHN_RP_ID = "testserver"
    settings.CONFIDE_BASE_URL = "https://portal.example.org"
    portal_sign_in(client, portal.adult.user)
    response, _ = add_passkey(client, origin="https://portal.example.org")
    assert response.status_code == 200


def test_acc2_adding_a_passkey_needs_the_password_confirmed_recently(client, portal):
    from confide.core.middleware import SESSION_AUTH_FRESH_AT

    portal_sign_in(client, portal.adult.user)
    options = registration_options(client)
    session = client.session
    session[SESSION_AUTH_FRESH_AT] = 0  # signed in long ago
    session.save()
    page = client.get(reverse("portal:passkeys")).content.decode()
    assert 'data-testid="confirm-to-add"' in page and 'data-passkey="register"' not in page
    assert f'{reverse("portal:reauth")}?next={reverse("portal:passkeys")}' in page
    refused = post_json(client, "portal:passkey-options", {})
    assert refused.status_code == 400 and refused.json()["error"] == passkeys.CONFIRM_FIRST
    answer = {"credential": SoftAuthenticator().register(options), "name": "Phone"}
    refused = post_json(client, "portal:passkey-add", answer)
    assert refused.status_code == 400 and refused.json()["error"] == passkeys.CONFIRM_FIRST
    assert not WebAuthnCredential.objects.exists()
