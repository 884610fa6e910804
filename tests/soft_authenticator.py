"""A software WebAuthn authenticator for the tests: an EC P-256 key made with `cryptography`, its
attestation ("none") and assertions encoded with `cbor2`, as a browser would send them — so the
server's verification (py_webauthn) really runs on them.

    auth = SoftAuthenticator()
    credential = auth.register(options_json, origin="http://testserver")   # the JSON for portal:passkey-add
    assertion = auth.sign_in(options_json, origin="http://testserver")     # the JSON for portal:passkey-signin
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://testserver"
FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    def __init__(self, *, sign_count: int = 0, user_verified: bool = True):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = sign_count
        self.user_verified = user_verified
        self.user_handle = b""
        self.rp_id = ""

    # --- the COSE key and authenticator data ---
    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _flags(self, *extra: int) -> int:
        flags = FLAG_UP | (FLAG_UV if self.user_verified else 0)
        for bit in extra:
            flags |= bit
        return flags

    def _auth_data(self, rp_id: str, flags: int, attested: bytes = b"") -> bytes:
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.sign_count) + attested

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    # --- ceremonies ---
    def register(self, options: str | dict, *, origin: str = ORIGIN, rp_id: str | None = None, challenge: str | None = None) -> dict:
        """What navigator.credentials.create() gives the page, as the JSON passkeys.js posts."""
        options = json.loads(options) if isinstance(options, str) else options
        self.rp_id = rp_id or options["rp"]["id"]
        self.user_handle = unb64url(options["user"]["id"])
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self.cose_key()
        auth_data = self._auth_data(self.rp_id, self._flags(FLAG_AT), attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", challenge or options["challenge"], origin)
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation), "transports": ["internal"]},
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def sign_in(self, options: str | dict, *, origin: str = ORIGIN, rp_id: str | None = None, challenge: str | None = None,
                count: bool = True) -> dict:  # fmt: skip
        """What navigator.credentials.get() gives the page, as the JSON passkeys.js posts. Each
        assertion moves the signature counter on, as a hardware authenticator does."""
        options = json.loads(options) if isinstance(options, str) else options
        if count:
            self.sign_count += 1
        auth_data = self._auth_data(rp_id or options.get("rpId") or self.rp_id, self._flags())
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(self.user_handle) if self.user_handle else None,
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
