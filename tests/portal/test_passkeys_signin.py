"""ACC2 (patients): signing in to the portal with a passkey alone (both factors), or using it as
the second factor after the password. Every refusal gives the browser one message and nothing
else, keeps the session signed out, and is audited with its reason."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY

from confide.accounts import passkeys
from confide.accounts.models import WebAuthnCredential
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from tests.portal.passkey_steps import passkey_sign_in, post_json, registered, signin_options


def _reasons(user=None) -> list[str]:
    entries = AuditEntry.objects.filter(event=AuditEvent.PASSKEY_SIGNIN_FAILED).order_by("at", "pk")
    if user is not None:
        entries = entries.filter(detail__user_id=str(user.pk))
    return [e.detail["reason"] for e in entries]


def _refused(response) -> bool:
    return response.status_code == 400 and response.json() == {"error": passkeys.SIGNIN_FAILED}


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_acc2_patient_signs_in_with_a_passkey_alone_and_lands_on_the_portal(client, portal):
    user = portal.adult.user
    auth = registered(Client, user)
    options = signin_options(client)
    assert options["rpId"] == "testserver" and options["userVerification"] == "required"
    assert options["allowCredentials"] == []  # discoverable: the browser offers what it holds
    response = passkey_sign_in(client, auth)
    assert response.status_code == 200 and response.json() == {"redirect": reverse("portal:home")}
    assert client.session["_auth_user_id"] == str(user.pk)
    passkey = WebAuthnCredential.objects.get(user=user)
    assert client.session[DEVICE_ID_SESSION_KEY] == passkey.persistent_id  # both factors: verified
    assert client.get(reverse("portal:home")).status_code == 200
    passkey.refresh_from_db()
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    [used] = AuditEntry.objects.filter(event=AuditEvent.PASSKEY_SIGNIN)
    assert used.detail == {"user_id": str(user.pk), "passkey_id": str(passkey.pk), "step": "signin"}
    assert AuditEntry.objects.filter(event=AuditEvent.SIGNIN_SUCCEEDED, detail__user_id=str(user.pk)).exists()


def test_the_next_page_is_followed_only_inside_the_portal(client, portal):
    auth = registered(Client, portal.adult.user)
    response = passkey_sign_in(client, auth, next_url="/portal/switch/")
    assert response.json() == {"redirect": "/portal/switch/"}
    for bad in ("https://evil.example/", "/records/", "//evil.example/portal/"):
        other = Client()
        assert passkey_sign_in(other, auth, next_url=bad).json() == {"redirect": reverse("portal:home")}


def test_an_answer_to_another_challenge_is_refused(client, portal):
    auth = registered(Client, portal.adult.user)
    response = passkey_sign_in(client, auth, challenge="c29tZS1vdGhlci1jaGFsbGVuZ2U")
    assert _refused(response) and not _signed_in(client)
    assert _reasons() == ["verification"]


def test_an_answer_cannot_be_replayed(client, portal):
    auth = registered(Client, portal.adult.user)
    assertion = auth.sign_in(signin_options(client))
    assert post_json(client, "portal:passkey-signin", {"credential": assertion}).status_code == 200
    client.post(reverse("portal:signout"))  # the same browser posts the same answer again
    again = post_json(client, "portal:passkey-signin", {"credential": assertion})
    assert _refused(again) and not _signed_in(client)
    signin_options(client)  # a new challenge does not revive the old answer
    assert _refused(post_json(client, "portal:passkey-signin", {"credential": assertion}))
    assert _reasons() == ["challenge", "verification"]


def test_an_answer_made_for_another_site_is_refused(client, portal):
    auth = registered(Client, portal.adult.user)
    assert _refused(passkey_sign_in(client, auth, origin="https://evil.example"))
    assert _refused(passkey_sign_in(client, auth, rp_id="evil.example"))
    assert not _signed_in(client) and _reasons() == ["verification", "verification"]


def test_a_sign_count_that_goes_backwards_is_refused_and_audited(client, portal):
    user = portal.adult.user
    auth = registered(Client, user)
    auth.sign_count = 40
    assert passkey_sign_in(Client(), auth).status_code == 200  # 41
    auth.sign_count = 10  # a copy of the key, behind the original: a cloned authenticator
    response = passkey_sign_in(client, auth)
    assert _refused(response) and not _signed_in(client)
    assert WebAuthnCredential.objects.get(user=user).sign_count == 41
    assert _reasons(user) == ["sign-count"]


def test_a_removed_passkey_no_longer_signs_in(client, portal):
    auth = registered(Client, portal.adult.user)
    WebAuthnCredential.objects.all().delete()
    assert _refused(passkey_sign_in(client, auth)) and not _signed_in(client)
    assert _reasons() == ["unknown"]


def test_a_closed_account_cannot_sign_in_with_its_passkey(client, portal):
    user = portal.adult.user
    auth = registered(Client, user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert _refused(passkey_sign_in(client, auth)) and not _signed_in(client)
    assert _reasons(user) == ["account"]


def test_a_device_that_did_not_check_the_person_is_refused(client, portal):
    auth = registered(Client, portal.adult.user)
    auth.user_verified = False
    assert _refused(passkey_sign_in(client, auth)) and not _signed_in(client)


def _password_only(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_acc2_after_the_password_the_passkey_is_the_second_factor(portal):
    user = portal.adult.user
    auth = registered(Client, user)
    client = _password_only(user)
    page = client.get(reverse("portal:home"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("portal:mfa-verify"))
    verify_page = client.get(page["Location"]).content.decode()
    assert 'data-passkey="signin"' in verify_page and "confide/passkeys.js" in verify_page
    options = signin_options(client)
    assert [c["id"] for c in options["allowCredentials"]] == [WebAuthnCredential.objects.get().credential_id]
    response = passkey_sign_in(client, auth)
    assert response.status_code == 200
    assert client.get(reverse("portal:home")).status_code == 200
    [used] = AuditEntry.objects.filter(event=AuditEvent.PASSKEY_SIGNIN)
    assert used.detail["step"] == "second-factor"


def test_acc2_another_accounts_passkey_is_not_a_second_factor(portal):
    registered(Client, portal.adult.user)
    other = registered(Client, portal.parent.user)
    client = _password_only(portal.adult.user)
    assert _refused(passkey_sign_in(client, other))
    assert client.session["_auth_user_id"] == str(portal.adult.user.pk)  # still the adult, still unverified
    assert client.get(reverse("portal:home"))["Location"].startswith(reverse("portal:mfa-verify"))
    assert _reasons() == ["other-account"]


def test_acc6_failed_passkey_sign_ins_are_limited_per_address(client, portal, settings):
    settings.CONFIDE_PASSKEY_FAILURE_LIMIT = 2
    auth = registered(Client, portal.adult.user)
    for _ in range(2):
        assert _refused(passkey_sign_in(client, auth, origin="https://evil.example"))
    response = passkey_sign_in(client, auth)  # right this time, but the limit is reached
    assert response.status_code == 400 and response.json() == {"error": passkeys.SIGNIN_THROTTLED}
    assert not _signed_in(client)
    other_address = Client(REMOTE_ADDR="198.51.100.7")
    assert passkey_sign_in(other_address, auth).status_code == 200
    assert _reasons() == ["verification", "verification", "throttled"]


def test_bad_json_or_a_wrong_shape_gets_a_400_and_nobody_is_signed_in(client, portal):
    registered(Client, portal.adult.user)
    for body in ("{oops", "[]", '"text"', '{"credential": []}', '{"credential": {"id": "abc"}}'):
        signin_options(client)
        response = post_json(client, "portal:passkey-signin", body)
        assert response.status_code == 400 and response.json()["error"], body
        assert not _signed_in(client)
    assert client.post(reverse("portal:passkey-signin"), {"credential": "x"}).status_code == 400


def test_the_signin_page_offers_a_passkey_only_once_the_script_finds_one_possible(client, db):
    page = client.get(reverse("portal:signin")).content.decode()
    assert 'data-passkey="signin"' in page and "Sign in with a passkey" in page
    assert "hidden>" in page.split('data-passkey="signin"')[1].split("\n")[0]  # hidden until passkeys.js shows it
    assert 'name="password"' in page  # the password form works without JavaScript
    assert "<script>" not in page


def test_an_account_whose_only_second_factor_is_a_passkey_is_not_asked_for_a_code(portal):
    registered(Client, portal.adult.user)
    page = _password_only(portal.adult.user).get(reverse("portal:mfa-verify")).content.decode()
    assert "Use your passkey" in page and "Use my passkey" in page
    assert 'name="token"' not in page  # no authenticator app, no recovery codes: nothing to type


def test_a_client_asking_for_challenges_faster_than_a_person_would_is_refused(client, db, settings):
    from confide.accounts.models import WebAuthnChallenge

    settings.CONFIDE_PASSKEY_OPTIONS_LIMIT = 3
    for _ in range(3):
        assert post_json(Client(), "portal:passkey-signin-options", {}).status_code == 200
    refused = post_json(Client(), "portal:passkey-signin-options", {})
    assert refused.status_code == 400 and refused.json() == {"error": passkeys.SIGNIN_THROTTLED}
    assert WebAuthnChallenge.objects.count() == 3


def test_a_passkey_of_a_staff_account_never_opens_the_portal(client, portal, world):
    auth = registered(Client, portal.adult.user)
    WebAuthnCredential.objects.update(user=world.a.owner)  # as if a staff account held one
    assert _refused(passkey_sign_in(client, auth)) and not _signed_in(client)
    assert _reasons(world.a.owner) == ["account"]
