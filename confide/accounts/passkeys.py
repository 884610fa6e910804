"""Passkeys (WebAuthn) for portal accounts (ACC2 for patients): adding one, signing in with one,
renaming and removing them. The ceremonies are py_webauthn's (Duo Labs): it parses the CBOR,
COSE keys and attestation, and checks challenge, origin, RP ID, flags and signature; this module
decides which challenge, origin and RP ID are expected, and what a result means for the account.

* A challenge is made per ceremony, kept in the session of the browser that asked, and claimed
  once: `WebAuthnChallenge` holds its hash, and verification deletes that row with one
  conditional DELETE, whose row count decides (parallel requests with one answer: one wins).
* The relying party is the host the portal is reached at, without its port
  (CONFIDE_WEBAUTHN_RP_ID overrides it); the origin must be the request's own scheme and host,
  or CONFIDE_BASE_URL's.
* Signing in with a passkey is both factors: the device, unlocked by the person (user
  verification is required). The session is signed in (Django's `login`) and verified
  (`django_otp.login` with the passkey as the device). After a password sign-in, the same
  endpoint is the second factor, and then only the account's own passkeys count.
* Every failure says the same thing to the browser; the audit entry keeps the reason code.
  Failures per client address are limited like password sign-ins (accounts/throttle.py).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils import timezone
from django_otp import login as otp_login
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from confide.accounts.models import User, WebAuthnChallenge, WebAuthnCredential
from confide.accounts.services import auth_is_fresh, mark_auth_fresh, record_security_event
from confide.accounts.throttle import client_key, count_attempt, limit_reached
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput, NotFound
from confide.core.http import client_ip
from confide.core.text import line_problem

RP_NAME = "Confide patient portal"
SESSION_CHALLENGE = {
    WebAuthnChallenge.Purpose.REGISTER: "confide_passkey_register_challenge",
    WebAuthnChallenge.Purpose.SIGNIN: "confide_passkey_signin_challenge",
}
NAME_MAX = 60
DEFAULT_NAME = "Passkey"

# What the browser is told about any failed passkey sign-in: nothing about which check failed.
SIGNIN_FAILED = "That passkey did not work. Try again, or sign in with your email and password."
SIGNIN_THROTTLED = "Too many tries with a passkey. Wait a few minutes, or sign in with your email and password."
REGISTER_EXPIRED = "This try to add a passkey ran out of time or was already used. Please try again."
REGISTER_FAILED = "Your device's answer could not be checked, so no passkey was added. Please try again."
CONFIRM_FIRST = "To add a passkey, first confirm it is you with your password. Reload this page to do that."
ALREADY_REGISTERED = "This passkey is already set up for a portal account. Each passkey can sign in to one account only."

# Errors the parsing and checking of a browser's answer may raise on bad input.
_BAD_ANSWER = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError)


# --- The relying party -------------------------------------------------------------------------
def relying_party(request: HttpRequest) -> tuple[str, list[str]]:
    """(RP ID, the origins an answer may come from). `get_host()` is checked against
    ALLOWED_HOSTS, so the host is one this site answers to."""
    host = request.get_host()
    rp_id = settings.CONFIDE_WEBAUTHN_RP_ID or split_domain_port(host)[0]
    origins = {f"{request.scheme}://{host}"}
    if settings.CONFIDE_BASE_URL:
        base = urlsplit(settings.CONFIDE_BASE_URL)
        origins.add(f"{base.scheme}://{base.netloc}")
    return rp_id, sorted(origins)


def _timeout() -> timedelta:
    return timedelta(seconds=settings.CONFIDE_WEBAUTHN_TIMEOUT_SECONDS)


# --- Challenges ----------------------------------------------------------------------------------
def _hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _new_challenge(request: HttpRequest, purpose: str, user: User | None) -> bytes:
    """A fresh challenge for this session (replacing its previous one for the same purpose)."""
    challenge = secrets.token_bytes(32)
    now = timezone.now()
    previous = request.session.get(SESSION_CHALLENGE[purpose])
    with transaction.atomic():
        WebAuthnChallenge.objects.filter(expires_at__lte=now).delete()
        if isinstance(previous, str):
            try:
                WebAuthnChallenge.objects.filter(challenge_hash=_hash(base64url_to_bytes(previous))).delete()
            except ValueError:
                pass
        WebAuthnChallenge.objects.create(challenge_hash=_hash(challenge), purpose=purpose, user=user, expires_at=now + _timeout())
    request.session[SESSION_CHALLENGE[purpose]] = bytes_to_base64url(challenge)
    return challenge


def _claim_challenge(request: HttpRequest, purpose: str, user: User | None) -> bytes | None:
    """This session's challenge for `purpose`, claimed for good; None if it has none, it expired,
    it was made for another account, or another request claimed it first. The DELETE's row
    count decides: of parallel requests carrying one challenge, exactly one deletes its row."""
    encoded = request.session.pop(SESSION_CHALLENGE[purpose], None)
    if not isinstance(encoded, str):
        return None
    try:
        challenge = base64url_to_bytes(encoded)
    except ValueError:
        return None
    rows = WebAuthnChallenge.objects.filter(challenge_hash=_hash(challenge), purpose=purpose, expires_at__gt=timezone.now())
    rows = rows.filter(user=user) if user is not None else rows.filter(user__isnull=True)
    deleted, _ = rows.delete()
    return challenge if deleted == 1 else None


def _descriptors(credentials) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(c.credential_id),
            transports=[AuthenticatorTransport(t) for t in c.transports if t in known] or None,
        )
        for c in credentials
    ]


# --- The account's passkeys -----------------------------------------------------------------------
def list_passkeys(user: User) -> list[WebAuthnCredential]:
    return list(WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at", "pk"))


def access_own_passkey(user: User, passkey_id) -> WebAuthnCredential:
    """One of the account's own passkeys, or NotFound (the same for another account's, or none)."""
    try:
        pk = int(str(passkey_id))
    except ValueError:
        raise NotFound("passkey") from None
    passkey = WebAuthnCredential.objects.filter(pk=pk, user=user).first()
    if passkey is None:
        raise NotFound("passkey")
    return passkey


def clean_name(name) -> str:
    """The label the patient gives a passkey: one line, at most NAME_MAX characters."""
    if name is None:
        return DEFAULT_NAME
    if not isinstance(name, str):
        raise InvalidInput("Give the passkey a short name, like “My phone”.")
    problem = line_problem(name)  # the one rule for one-line text (core/text.py): no control or bidi characters
    if problem is not None and problem[0] != "invisible_only":
        raise InvalidInput(problem[1])
    name = " ".join(name.split())
    if len(name) > NAME_MAX:
        raise InvalidInput(f"Keep the name to {NAME_MAX} characters or fewer.")
    return name or DEFAULT_NAME


def do_rename_passkey(request: HttpRequest, passkey_id, name) -> WebAuthnCredential:
    passkey = access_own_passkey(request.user, passkey_id)
    passkey.name = clean_name(name)
    passkey.save(update_fields=["name"])
    return passkey


@transaction.atomic
def do_remove_passkey(request: HttpRequest, passkey_id) -> None:
    """Remove one of the account's passkeys (the route asks for a fresh confirmation first)."""
    passkey = access_own_passkey(request.user, passkey_id)
    pk = passkey.pk
    passkey.delete()
    record_security_event(AuditEvent.PASSKEY_REMOVED, request=request, user=request.user, detail={"passkey_id": str(pk)})


# --- Adding a passkey -------------------------------------------------------------------------------
def registration_options(request: HttpRequest) -> str:
    """The options for navigator.credentials.create(), as JSON: a discoverable credential
    (the patient signs in without typing an address), user verification required, no
    attestation asked for (we trust the person, not the make of their device), and the
    account's own passkeys excluded (the same device is not added twice)."""
    user = request.user
    _require_fresh_auth(request)
    rp_id, _origins = relying_party(request)
    challenge = _new_challenge(request, WebAuthnChallenge.Purpose.REGISTER, user)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=RP_NAME,
        user_name=user.email,
        user_id=user.uuid.bytes,  # a stable, meaningless handle: not the address, not the row id
        user_display_name=user.display_name or user.email,
        challenge=challenge,
        timeout=settings.CONFIDE_WEBAUTHN_TIMEOUT_SECONDS * 1000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED
        ),
        exclude_credentials=_descriptors(list_passkeys(user)),
    )
    return options_to_json(options)


def _require_fresh_auth(request: HttpRequest) -> None:
    """A new passkey is a new way in that lasts: like removing one, adding one needs the
    password confirmed recently (CONFIDE_RECENT_AUTH_MINUTES), so a session left open on a
    shared computer cannot be turned into lasting access."""
    if not auth_is_fresh(request):
        raise InvalidInput(CONFIRM_FIRST)


def check_add_passkey(request: HttpRequest, credential: dict, name) -> WebAuthnCredential:
    """Verify the browser's answer to the registration options and keep the passkey. A passkey
    already set up for any account is refused (and the refusal audited): one passkey, one account."""
    user = request.user
    _require_fresh_auth(request)
    name = clean_name(name)
    if not isinstance(credential, dict):
        raise InvalidInput(REGISTER_FAILED)
    challenge = _claim_challenge(request, WebAuthnChallenge.Purpose.REGISTER, user)
    if challenge is None:
        raise InvalidInput(REGISTER_EXPIRED)
    rp_id, origins = relying_party(request)
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origins,
            require_user_verification=True,
        )  # fmt: skip
    except _BAD_ANSWER:
        raise InvalidInput(REGISTER_FAILED) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    transports = (credential.get("response") or {}).get("transports") if isinstance(credential.get("response"), dict) else None
    known = {t.value for t in AuthenticatorTransport}
    transports = [t for t in transports if isinstance(t, str) and t in known][:8] if isinstance(transports, list) else []
    try:
        with transaction.atomic():
            if WebAuthnCredential.objects.filter(credential_id=credential_id).exists():
                raise IntegrityError("credential id taken")
            passkey = WebAuthnCredential.objects.create(
                user=user, name=name, confirmed=True, credential_id=credential_id,
                public_key=verified.credential_public_key, sign_count=verified.sign_count,
                transports=transports, aaguid=verified.aaguid[:36],
            )  # fmt: skip
            record_security_event(AuditEvent.PASSKEY_ADDED, request=request, user=user, detail={"passkey_id": str(passkey.pk)})
    except IntegrityError:
        # Whose it is stays unsaid: the browser is told only that it is taken.
        record_security_event(
            AuditEvent.PASSKEY_ADDED, request=request, user=user, outcome="refused", detail={"reason": "already-registered"}
        )
        raise InvalidInput(ALREADY_REGISTERED) from None
    if not user.is_verified():
        # The account had no second factor in this session; it has one now, just used (user
        # verification was required): without this the next page would ask for it at once.
        otp_login(request, passkey)
    return passkey


# --- Signing in with a passkey -----------------------------------------------------------------------
def _pending_user(request: HttpRequest) -> User | None:
    """The portal account already signed in with its password in this session (its passkey is
    then the second factor), else None (a visitor, or a staff session: a new sign-in)."""
    user = request.user
    return user if user.is_authenticated and user.is_patient else None


def signin_options(request: HttpRequest) -> str:
    """The options for navigator.credentials.get(), as JSON: discoverable credentials (the
    browser offers the passkeys it holds for this site), user verification required. For a
    second factor, the account's own passkeys are named."""
    pending = _pending_user(request)
    # Anyone may ask, and each answer is a row until it expires: a client asking faster than
    # any person would is refused (counted per address, like the failures).
    if not count_attempt(_options_key(request), limit=settings.CONFIDE_PASSKEY_OPTIONS_LIMIT, window=settings.AXES_COOLOFF_TIME):
        raise InvalidInput(SIGNIN_THROTTLED)
    rp_id, _origins = relying_party(request)
    challenge = _new_challenge(request, WebAuthnChallenge.Purpose.SIGNIN, pending)
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        timeout=settings.CONFIDE_WEBAUTHN_TIMEOUT_SECONDS * 1000,
        allow_credentials=_descriptors(list_passkeys(pending)) if pending else [],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options)


def _throttle_key(request: HttpRequest) -> str:
    return client_key("passkey-ip", client_ip(request))


def _options_key(request: HttpRequest) -> str:
    return client_key("passkey-options-ip", client_ip(request))


def check_passkey_signin(request: HttpRequest, credential: dict) -> User:
    """Verify a passkey answer and sign the session in with it (both factors), or, after a
    password sign-in, verify it as the second factor. Any failure: InvalidInput(SIGNIN_FAILED),
    the reason audited, one more failure counted for the client's address. Not one transaction:
    a failure's count and audit entry must stay when the error is raised."""
    key, limit, window = _throttle_key(request), settings.CONFIDE_PASSKEY_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME
    if limit_reached(key, limit=limit, window=window):
        record_security_event(AuditEvent.PASSKEY_SIGNIN_FAILED, request=request, detail={"reason": "throttled"})
        raise InvalidInput(SIGNIN_THROTTLED)
    pending = _pending_user(request)
    passkey, reason = None, None
    challenge = _claim_challenge(request, WebAuthnChallenge.Purpose.SIGNIN, pending)
    try:
        parsed = parse_authentication_credential_json(credential) if isinstance(credential, dict) else None
    except _BAD_ANSWER:
        parsed = None
    if challenge is None:
        reason = "challenge"  # none asked for, expired, or already used (a replay)
    elif parsed is None:
        reason = "malformed"
    else:
        passkey = WebAuthnCredential.objects.select_related("user").filter(
            credential_id=bytes_to_base64url(parsed.raw_id), confirmed=True
        ).first()
        reason = _check_answer(request, passkey, parsed, challenge, pending)
    if reason is not None:
        count_attempt(key, limit=limit, window=window)
        detail = {"reason": reason} | ({"passkey_id": str(passkey.pk)} if passkey is not None else {})
        record_security_event(
            AuditEvent.PASSKEY_SIGNIN_FAILED, request=request, user=passkey.user if passkey is not None else pending, detail=detail
        )
        raise InvalidInput(SIGNIN_FAILED)
    user = passkey.user
    if pending is None:
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    otp_login(request, passkey)
    mark_auth_fresh(request)
    record_security_event(
        AuditEvent.PASSKEY_SIGNIN, request=request, user=user,
        detail={"passkey_id": str(passkey.pk), "step": "second-factor" if pending else "signin"},
    )  # fmt: skip
    return user


def _check_answer(request, passkey, parsed, challenge: bytes, pending: User | None) -> str | None:
    """The reason code the answer is refused for, or None (and the new sign count stored)."""
    if passkey is None:
        return "unknown"
    if not (passkey.user.is_active and passkey.user.is_patient):
        return "account"
    if pending is not None and passkey.user_id != pending.pk:
        return "other-account"
    rp_id, origins = relying_party(request)
    try:
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origins,
            credential_public_key=bytes(passkey.public_key),
            # The counter is compared below, after the signature is known to be right: a count
            # that goes backwards is then a sign of a cloned authenticator, not a forgery.
            credential_current_sign_count=0,
            require_user_verification=True,
        )  # fmt: skip
    except _BAD_ANSWER:
        return "verification"  # challenge, origin, RP ID, flags or signature
    new, old = verified.new_sign_count, passkey.sign_count
    if (new or old) and new <= old:
        return "sign-count"
    # The stored count moves only from the value this answer was checked against.
    moved = WebAuthnCredential.objects.filter(pk=passkey.pk, sign_count=old).update(sign_count=new, last_used_at=timezone.now())
    return None if moved == 1 else "sign-count"
