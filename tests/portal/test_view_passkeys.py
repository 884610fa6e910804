"""ACC2 (patients): the account's passkeys page (portal:passkeys) lists its own passkeys, renames
them, and removes one only after a fresh confirmation (portal:passkey-remove), audited. Another
account's passkey answers 404 and is left alone."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from confide.accounts.models import WebAuthnCredential
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.middleware import SESSION_AUTH_FRESH_AT
from tests.portal.passkey_steps import registered
from tests.portal_world import portal_sign_in


def _stale(client) -> None:
    session = client.session
    session[SESSION_AUTH_FRESH_AT] = 0
    session.save()


def test_the_page_lists_only_the_accounts_own_passkeys(client, portal):
    registered(Client, portal.adult.user)
    registered(Client, portal.parent.user)
    WebAuthnCredential.objects.filter(user=portal.parent.user).update(name="Paula's tablet")
    portal_sign_in(client, portal.adult.user)
    page = client.get(reverse("portal:passkeys"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "My phone" in text and "Paula" not in text
    assert 'data-passkey="register"' in text and "confide/passkeys.js" in text and "<script>" not in text
    assert '<label class="form-label" for="passkey-new-name">' in text


def test_an_account_without_passkeys_is_told_so(client, portal):
    portal_sign_in(client, portal.adult.user)
    assert "You have no passkeys yet" in client.get(reverse("portal:passkeys")).content.decode()


def test_patient_renames_a_passkey(client, portal):
    registered(Client, portal.adult.user)
    passkey = WebAuthnCredential.objects.get()
    portal_sign_in(client, portal.adult.user)
    response = client.post(reverse("portal:passkey-rename"), {"passkey": passkey.pk, "name": "Work laptop"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:passkeys")
    passkey.refresh_from_db()
    assert passkey.name == "Work laptop"


def test_a_bad_name_is_refused_with_a_message_and_nothing_changes(client, portal):
    registered(Client, portal.adult.user)
    passkey = WebAuthnCredential.objects.get()
    portal_sign_in(client, portal.adult.user)
    for bad in ("x" * 61, "two\u0000parts"):
        response = client.post(reverse("portal:passkey-rename"), {"passkey": passkey.pk, "name": bad})
        assert response.status_code == 400
        assert 'role="alert"' in response.content.decode()
    passkey.refresh_from_db()
    assert passkey.name == "My phone"


def test_another_accounts_passkey_cannot_be_renamed_or_removed(client, portal):
    registered(Client, portal.parent.user)
    theirs = WebAuthnCredential.objects.get()
    portal_sign_in(client, portal.adult.user)
    assert client.post(reverse("portal:passkey-rename"), {"passkey": theirs.pk, "name": "Mine now"}).status_code == 404
    assert client.get(reverse("portal:passkey-remove"), {"passkey": theirs.pk}).status_code == 404
    assert client.post(reverse("portal:passkey-remove"), {"passkey": theirs.pk}).status_code == 404
    assert client.post(reverse("portal:passkey-remove"), {"passkey": "not-a-number"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "My phone"
    assert not AuditEntry.objects.filter(event=AuditEvent.PASSKEY_REMOVED).exists()


def test_acc2_removing_a_passkey_asks_to_confirm_it_is_you_first(client, portal):
    registered(Client, portal.adult.user)
    passkey = WebAuthnCredential.objects.get()
    portal_sign_in(client, portal.adult.user)
    _stale(client)
    url = f"{reverse('portal:passkey-remove')}?passkey={passkey.pk}"
    asked = client.get(url)
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("portal:reauth"))
    posted = client.post(reverse("portal:passkey-remove"), {"passkey": passkey.pk})
    assert posted.status_code == 302 and posted["Location"].startswith(reverse("portal:reauth"))
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()


def test_acc2_patient_removes_a_passkey_and_it_is_audited(client, portal):
    user = portal.adult.user
    registered(Client, user)
    passkey = WebAuthnCredential.objects.get()
    portal_sign_in(client, user)
    confirm = client.get(reverse("portal:passkey-remove"), {"passkey": passkey.pk})
    assert confirm.status_code == 200 and "Remove the passkey “My phone”?" in confirm.content.decode()
    response = client.post(reverse("portal:passkey-remove"), {"passkey": passkey.pk})
    assert response.status_code == 302 and response["Location"] == reverse("portal:passkeys")
    assert not WebAuthnCredential.objects.exists()
    [entry] = AuditEntry.objects.filter(event=AuditEvent.PASSKEY_REMOVED)
    assert entry.detail == {"user_id": str(user.pk), "passkey_id": str(passkey.pk)}
