"""Steps the passkey tests share: ask for options, answer with the software authenticator
(tests/soft_authenticator.py), post the answer — through the real endpoints."""

from __future__ import annotations

import json

from django.urls import reverse

from tests.soft_authenticator import SoftAuthenticator

JSON = "application/json"


def post_json(client, name: str, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(reverse(name), data=data, content_type=JSON, **extra)


def registration_options(client) -> dict:
    response = post_json(client, "portal:passkey-options", {})
    assert response.status_code == 200, response.content
    return response.json()


def add_passkey(client, auth: SoftAuthenticator | None = None, name: str = "My phone", **answer):
    """(response, authenticator): a signed-in portal client adds a passkey."""
    auth = auth or SoftAuthenticator()
    credential = auth.register(registration_options(client), **answer)
    return post_json(client, "portal:passkey-add", {"credential": credential, "name": name}), auth


def signin_options(client) -> dict:
    response = post_json(client, "portal:passkey-signin-options", {})
    assert response.status_code == 200, response.content
    return response.json()


def passkey_sign_in(client, auth: SoftAuthenticator, *, next_url: str | None = None, **answer):
    assertion = auth.sign_in(signin_options(client), **answer)
    body = {"credential": assertion} | ({"next": next_url} if next_url is not None else {})
    return post_json(client, "portal:passkey-signin", body)


def registered(client_factory, user) -> SoftAuthenticator:
    """A passkey added for `user` from a signed-in session of its own; the authenticator."""
    from tests.portal_world import portal_sign_in

    client = portal_sign_in(client_factory(), user)
    response, auth = add_passkey(client)
    assert response.status_code == 200, response.content
    return auth
