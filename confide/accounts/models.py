"""Users (email is the login), memberships in practices with a role, and MFA devices. Sign-ins,
failures, lockouts and MFA changes are recorded in the audit log (confide/audit)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from base64 import b32encode
from datetime import timedelta
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models import F
from django.utils import timezone
from django_otp.models import MAX_THROTTLE_DELAY_SECONDS, Device, ThrottlingMixin, TimestampMixin, VerifyNotAllowed
from django_otp.oath import TOTP

from confide.accounts import secretbox
from confide.core.models import TenantModel
from confide.core.permissions import Role
from confide.core.text import single_line


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("an email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        # The fields' own validators (one line, a real address): a display name is shown on every
        # page and in e-mails, so whoever creates the account (a command, a future invitation) is checked.
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str) -> User:
        # Addresses are stored lower-cased; sign-in with any capitalisation finds the account.
        return self.get(email=username.strip().lower())

    def members_of(self, practice_id) -> list[tuple[int, str, bool]]:
        """(user id, display name, membership active) of everyone with a membership in the
        practice, active or not (a former member's entries stay the practice's to read).

        The audit log's viewer asks this through `get_user_model()`: the log sits below accounts
        (docs/architecture.md, "Layers") and knows people only as Django's user model."""
        from confide.core.tenancy import tenant_context

        with tenant_context(practice_id=practice_id):
            rows = Membership.objects.filter(practice_id=practice_id).values_list("user_id", "user__display_name", "is_active")
            return [(pk, name, active) for pk, name, active in rows]


class UserKind(models.TextChoices):
    """Two audiences that never mix: a staff account never reaches a portal page, a patient's
    portal account never reaches a staff page (accounts/middleware.py, core/routes.py)."""

    STAFF = "staff", "Staff"
    PATIENT = "patient", "Patient portal"


class User(AbstractBaseUser):
    """An account: a member of staff (memberships in practices, with roles) or a patient's
    portal account (links to the records it may act on: `PortalLink`). One address, one kind:
    a clinician who is also someone's patient signs in to the portal with another address."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(unique=True, validators=[single_line])
    display_name = models.CharField(max_length=150, validators=[single_line])
    is_active = models.BooleanField(default=True)
    kind = models.CharField(max_length=10, choices=UserKind.choices, default=UserKind.STAFF)
    created_at = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        # Deliberately the id: str(user) ends up in places (logs, reprs) where an email must not.
        return f"user:{self.pk}"

    @property
    def is_patient(self) -> bool:
        return self.kind == UserKind.PATIENT


class Membership(TenantModel):
    """User × practice × role. One user may belong to several practices."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    is_active = models.BooleanField(default=True)

    # A user must be able to list their own memberships before any practice is chosen.
    rls_extra_condition = "user_id = NULLIF(current_setting('confide.user_id', true), '')::bigint"

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "practice"], name="membership_unique_user_practice")]

    def __str__(self) -> str:
        return f"membership:{self.pk}"


class LinkKind(models.TextChoices):
    SELF = "self", "Own record"
    REPRESENTATIVE = "representative", "Personal representative"


class PortalLink(TenantModel):
    """A portal account × a patient record it may act on: the patient's own (`self`), or a minor's
    for a parent or guardian (`representative`, HIPAA §164.502(g)) with the recorded basis.

    The patient is named by id (`patient_id`), not by a foreign key: accounts sits below records
    (docs/architecture.md, "Layers"). The chart door re-reads the link on every opening by a
    patient actor (access/door.py), so a link ended a moment ago opens nothing. A link is never
    deleted: it is ended (`ended_at`, `ended_reason`), and what it allowed stays on record."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="portal_links")
    patient_id = models.UUIDField()
    kind = models.CharField(max_length=16, choices=LinkKind.choices)
    # Representative links: how the person is related and who at the practice verified it.
    relationship = models.CharField(max_length=60, blank=True, validators=[single_line])
    verified_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=40, blank=True, validators=[single_line])  # a code: deactivated, age_of_majority, ended_by_practice

    # A portal account lists its own links before any practice is chosen (as Membership).
    rls_extra_condition = "user_id = NULLIF(current_setting('confide.user_id', true), '')::bigint"

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "patient_id"], condition=models.Q(is_active=True), name="portal_link_one_active_per_record"
            ),
            # One account holds a patient's own record: the patient's.
            models.UniqueConstraint(
                fields=["patient_id"], condition=models.Q(is_active=True, kind="self"), name="portal_link_one_self_per_record"
            ),
        ]

    def __str__(self) -> str:
        return f"portal-link:{self.pk}"

    @property
    def is_representative(self) -> bool:
        return self.kind == LinkKind.REPRESENTATIVE


class AtomicThrottlingMixin(ThrottlingMixin):
    """django-otp's throttling (a back-off of 1, 2, 4 … seconds), written as UPDATEs of the two
    counters alone. django-otp saves the whole row: a request that loaded the device before
    another one used a code would write the old `last_t` back (the code usable again), and
    parallel failures would count once.

    The back-off starts after CONFIDE_MFA_FREE_FAILURES wrong codes in a row (3 by default),
    not after the first: a mistyped digit must not make the next, right, code wait. Three
    free guesses more out of a million change nothing an attacker can use; after them each
    failure doubles the wait as before (1, 2, 4 … seconds)."""

    class Meta:
        abstract = True

    def throttle_delay(self) -> float:
        """Seconds the next try must wait after the last failure: 0 within the free failures."""
        free = settings.CONFIDE_MFA_FREE_FAILURES
        if not self.throttling_enabled or self.throttling_failure_count <= free:
            return 0
        return min(self.get_throttle_factor() * (2 ** (self.throttling_failure_count - free - 1)), MAX_THROTTLE_DELAY_SECONDS)

    def verify_is_allowed(self):
        delay = self.throttle_delay()
        if delay and self.throttling_failure_timestamp is not None:
            locked_until = self.throttling_failure_timestamp + timedelta(seconds=delay)
            if timezone.now() < locked_until:
                return False, {
                    "reason": VerifyNotAllowed.N_FAILED_ATTEMPTS,
                    "failure_count": self.throttling_failure_count,
                    "locked_until": locked_until,
                }
        # Past django-otp's own back-off (this one replaces it), on to Device's checks.
        return super(ThrottlingMixin, self).verify_is_allowed()

    def throttle_increment(self, commit: bool = True) -> None:
        super().throttle_increment(commit=False)
        if commit:
            type(self).objects.filter(pk=self.pk).update(
                throttling_failure_count=F("throttling_failure_count") + 1,
                throttling_failure_timestamp=self.throttling_failure_timestamp,
            )

    def throttle_reset(self, commit: bool = True) -> None:
        super().throttle_reset(commit=False)
        if commit:
            type(self).objects.filter(pk=self.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)


class TOTPDevice(TimestampMixin, AtomicThrottlingMixin, Device):
    """A TOTP authenticator whose secret is sealed at rest (django-otp's own keeps it in clear).

    Verification mirrors django-otp's TOTPDevice: ±1 step tolerance, and a code is accepted only
    for a time step later than the last one used, so a code cannot be replayed — decided by the
    database, not by the copy a request loaded (see verify_token)."""

    sealed_key = models.TextField()
    last_t = models.BigIntegerField(default=-1)
    step = 30
    digits = 6
    tolerance = 1

    class Meta(Device.Meta):
        verbose_name = "TOTP device"

    def _aad(self) -> dict:
        return {"table": self._meta.db_table, "column": "sealed_key", "row_id": f"{self.user_id}"}

    def set_secret(self, secret: bytes) -> None:
        self.sealed_key = secretbox.seal(secret, **self._aad())

    @property
    def bin_key(self) -> bytes:
        return secretbox.open_sealed(self.sealed_key, **self._aad())

    def current_code(self) -> str:
        totp = TOTP(self.bin_key, self.step, 0, self.digits, 0)
        totp.time = time.time()
        return f"{totp.token():0{self.digits}d}"

    def verify_token(self, token) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        token = str(token).strip().replace(" ", "")
        verified = False
        if token.isdigit() and len(token) == self.digits:
            totp = TOTP(self.bin_key, self.step, 0, self.digits, 0)
            totp.time = time.time()
            if totp.verify(int(token), self.tolerance, self.last_t + 1):
                verified = self._claim_step(totp.t())
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    def _claim_step(self, t: int) -> bool:
        """Record time step `t` as used, if no request has used it (or a later one) yet. The row
        count decides: of parallel requests with one code, exactly one moves last_t to t; the
        others find last_t >= t and update nothing (on PostgreSQL they wait for the first
        one's commit and re-check the condition; SQLite serialises writers)."""
        now = timezone.now()
        claimed = TOTPDevice.objects.filter(pk=self.pk, last_t__lt=t).update(
            last_t=t, last_used_at=now, throttling_failure_count=0, throttling_failure_timestamp=None
        )
        if claimed != 1:
            return False
        self.last_t, self.last_used_at = t, now
        self.throttle_reset(commit=False)
        return True

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def config_url(self) -> str:
        issuer = settings.OTP_TOTP_ISSUER.replace(":", "")
        label = f"{issuer}:{self.user.email}"
        params = urlencode({"secret": b32encode(self.bin_key).decode(), "digits": self.digits, "period": self.step})
        return f"otpauth://totp/{quote(label)}?{params}&issuer={quote(issuer)}"


def _hash_recovery_code(code: str) -> str:
    # Codes are 50 random bits each, single-use and throttled: a keyed fast hash is enough.
    normalised = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(f"{settings.SECRET_KEY}:recovery:{normalised}".encode()).hexdigest()


class RecoveryCodeDevice(AtomicThrottlingMixin, Device):
    """Single-use recovery codes, stored only as keyed hashes (django-otp's static tokens are clear)."""

    class Meta(Device.Meta):
        verbose_name = "recovery codes"

    def get_throttle_factor(self) -> int:
        return 1

    def regenerate(self, count: int = 10) -> list[str]:
        self.codes.all().delete()
        codes = []
        for _ in range(count):
            raw = "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(10))
            codes.append(f"{raw[:5]}-{raw[5:]}")
        RecoveryCode.objects.bulk_create([RecoveryCode(device=self, code_hash=_hash_recovery_code(c)) for c in codes])
        return codes

    def verify_token(self, token) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        # One conditional DELETE, and its row count decides: of parallel requests with one
        # code, exactly one deletes the row; the others delete nothing and are refused.
        deleted, _ = self.codes.filter(code_hash=_hash_recovery_code(str(token))).delete()
        if deleted != 1:
            self.throttle_increment(commit=True)
            return False
        self.throttle_reset(commit=True)
        return True

    def remaining(self) -> int:
        return self.codes.count()


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "code_hash"], name="recovery_code_unique")]


class Invitation(TenantModel):
    """An invitation to join a practice with a role, sent by e-mail (`confide/accounts/invitations.py`).

    Only the SHA-256 of its random token is kept: the link in the e-mail is the one copy of the
    token, so a database reader cannot accept anyone's invitation. Single use is decided by the
    database (a conditional UPDATE of `accepted_at`, whose row count decides)."""

    email = models.EmailField(validators=[single_line])
    role = models.CharField(max_length=32, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    # None: made by the operator (`confide practice create`, the first-run page), not by a member.
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation:{self.pk}"

    @property
    def state(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class AttemptCount(models.Model):
    """How many times one client (a keyed hash of an address or an e-mail address, never either
    in clear) asked for something rate-limited in one window: the counter behind the password
    reset limits (accounts/throttle.py). A conditional UPDATE (`count < limit`) makes the
    increment atomic across threads, workers and machines (PostgreSQL's row lock, SQLite's
    writer lock); rows of past windows are deleted as new ones start."""

    key = models.CharField(max_length=64)  # HMAC-SHA256(secret key, "<what>:<address or e-mail>")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="attempt_count_one_row_per_window")]
        indexes = [models.Index(fields=["window_start"], name="attempt_count_by_window")]

    def __str__(self) -> str:
        return f"attempt-count:{self.pk}"


class WebAuthnCredential(TimestampMixin, Device):
    """A passkey (WebAuthn credential) of a portal account: the public key its authenticator
    made, found by the credential id the authenticator sends back (accounts/passkeys.py).

    A django-otp device, so a passkey sign-in marks the session verified (`django_otp.login`)
    and `user_has_device` counts it as a second factor. A passkey is both factors at once: the
    device it lives on (something you have) unlocked by a fingerprint, face or PIN (something
    you are or know), which the sign-in requires (user verification). It has no code to type:
    `verify_token` always refuses. `created_at` and `last_used_at` come from TimestampMixin.

    The public key and the counters are not secret (they verify, they cannot sign), so they are
    stored as they are; `name` is the label the patient chose ("My phone")."""

    name = models.CharField(max_length=64, validators=[single_line], help_text="The label the patient gave it.")
    credential_id = models.CharField(max_length=1400, unique=True)  # base64url of the raw id (≤ 1023 bytes)
    public_key = models.BinaryField()  # COSE_Key bytes, as the authenticator sent them
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)  # hints for the browser ("internal", "hybrid", ...)
    aaguid = models.CharField(max_length=36, blank=True)  # the authenticator's model, not the person

    class Meta(Device.Meta):
        verbose_name = "passkey"

    def verify_token(self, token) -> bool:
        return False  # a passkey answers a challenge (accounts/passkeys.py); codes are not passkeys


class WebAuthnChallenge(models.Model):
    """A challenge handed to the browser for one passkey ceremony (adding one, or signing in).

    The challenge itself travels in the session of the browser it was made for; this row is
    what makes it single-use: verification claims it with one conditional DELETE, and of parallel
    requests carrying the same answer, exactly one deletes the row (accounts/passkeys.py).
    Only its SHA-256 is kept. Rows of challenges never answered are removed once expired."""

    class Purpose(models.TextChoices):
        REGISTER = "register", "Add a passkey"
        SIGNIN = "signin", "Sign in with a passkey"

    challenge_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    # Adding a passkey: the signed-in account. Signing in: the account whose second factor is
    # pending, or none (anyone may answer with a passkey of their own).
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="webauthn_challenge_by_expiry")]

    def __str__(self) -> str:
        return f"webauthn-challenge:{self.pk}"
class PortalInvitation(TenantModel):
    """An invitation to the patient portal for one record (`confide/accounts/portal_invitations.py`):
    the patient's own (`self`), or a minor's for a parent or guardian (`representative`, with the
    relationship, the basis and who at the practice verified it).

    As the staff `Invitation`: only the SHA-256 of the token is kept, single use is decided by a
    conditional UPDATE of `used_at`. The patient is named by id (accounts sits below records)."""

    patient_id = models.UUIDField()
    kind = models.CharField(max_length=16, choices=LinkKind.choices, default=LinkKind.SELF)
    relationship = models.CharField(max_length=60, blank=True, validators=[single_line])
    basis = models.CharField(max_length=40, blank=True, validators=[single_line])
    verified_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    email = models.EmailField(validators=[single_line])
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    # None: the system (the 18th-birthday job, an operator's `confide portal invite`).
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["practice", "patient_id"], name="portal_invitation_by_patient")]

    def __str__(self) -> str:
        return f"portal-invitation:{self.pk}"

    @property
    def state(self) -> str:
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    @property
    def is_representative(self) -> bool:
        return self.kind == LinkKind.REPRESENTATIVE
