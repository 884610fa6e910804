"""AWS KMS key manager: each practice's KEK is a KMS key; wrapping is KMS Encrypt/Decrypt.

Select with CONFIDE_KEY_MANAGER=aws-kms. Configuration:

* CONFIDE_AWS_KMS_REGION (default us-east-1): region for new KEKs. Existing KEKs are always
  called in the region named by their ARN, so changing this later does not strand old keys.
* CONFIDE_AWS_KMS_ENDPOINT_URL (optional): a KMS-compatible server, or a test server. Must be
  https://, except on loopback: unwrapped data keys travel in the response body.
* Credentials come the standard boto3 way (environment, shared config, instance/task role).
  IAM needs kms:CreateKey, kms:TagResource, kms:DescribeKey, kms:Encrypt, kms:Decrypt and
  kms:ScheduleKeyDeletion.

KEK ids are "aws-kms:<key ARN>". The key material never leaves KMS; what the vault stores is
KMS ciphertext of its data keys.

Why the encryption context carries the associated data. KMS symmetric Encrypt/Decrypt take no
AAD argument; the encryption context is KMS's AAD: it is authenticated, not stored in the
ciphertext, and Decrypt fails (InvalidCiphertextException) unless it is presented exactly
again. Putting the vault's associated data there (practice id, purpose, subject id, version)
means a wrapped key copied to another practice's or subject's row will not unwrap. Decrypt also
names the KeyId, so a ciphertext made under some other KMS key the process can use is refused
instead of being opened under whichever key the blob points at. The context format is Tink's
own AWS KMS AEAD format ({"associatedData": hex(ad)}, empty context for empty AD), so any Tink
implementation in any language can open our wrapped keys during a recovery. The encryption
context is NOT secret: CloudTrail records it in cleartext. The vault's AD is ids only, never
PHI, and must stay that way.

What a KMS outage means. Without KMS there are no new unwraps: every access that needs a data
key fails closed with KeyManagerError (and no practice can be created). The vault caches
unwrapped data keys only for the duration of one access (one allowance), so there is no grace
period, in either direction: an outage bites on the next access, and so does revoking the key
(disabling it, scheduling deletion, withdrawing IAM permission). botocore is given short
connect/read timeouts and few retries, so a dead endpoint fails in seconds instead of hanging a
request worker. `kek_aead` checks the key's state once per process (DescribeKey) and caches
the AEAD object; KMS itself refuses Encrypt/Decrypt on a disabled or pending-deletion key.

Destruction. `destroy_kek` schedules deletion with the minimum 7-day window; until then an
operator can CancelKeyDeletion (then EnableKey). Afterwards everything wrapped under the key is
unrecoverable.

Cost. One KMS Decrypt per unwrap (per data key per access), one Encrypt per wrap (Tink's
serialize_encrypted adds a verifying Decrypt), one DescribeKey per KEK per process, plus a
monthly charge per KMS key, i.e. per practice. At the time of writing AWS bills about $1 per
key-month and $0.03 per 10,000 symmetric requests; check current pricing. Request rates count
against the account's per-region KMS quota; throttling surfaces as KeyManagerError.
"""

from __future__ import annotations

import binascii
import ipaddress
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import boto3
import tink
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from tink import aead

from confide.env import env_str
from confide.vault.errors import KeyManagerError

KEK_PREFIX = "aws-kms:"
DEFAULT_REGION = "us-east-1"
TAG_KEY = "confide-practice"
# KMS Encrypt takes at most 4 KiB of plaintext; data keys and Tink keysets are far smaller.
MAX_PLAINTEXT = 4096
_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/(?P<key_id>[A-Za-z0-9-]+)$")
# KMS answers these when the ciphertext does not open under this key with this context.
_CIPHERTEXT_REFUSED = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})
_ALGORITHM = "SYMMETRIC_DEFAULT"


def _encryption_context(associated_data: bytes) -> dict[str, str]:
    # Same shape as tink.integration.awskms, so Tink in any language opens our ciphertexts.
    if not associated_data:
        return {}
    return {"associatedData": binascii.hexlify(associated_data).decode("ascii")}


def _translate(exc: Exception, what: str) -> Exception:
    """A vault error for a botocore failure, naming only the operation/key and an error code."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code") or "Unknown")
        if code in _CIPHERTEXT_REFUSED:
            return tink.TinkError(f"{what}: KMS refused the ciphertext ({code})")
        return KeyManagerError(f"{what}: KMS error {code}")
    return KeyManagerError(f"{what}: KMS unreachable or misconfigured ({type(exc).__name__})")


def _parse_kek_id(kek_id: str) -> re.Match:
    match = _ARN.match(kek_id[len(KEK_PREFIX) :]) if kek_id.startswith(KEK_PREFIX) else None
    if match is None:
        raise KeyManagerError(f"KEK {kek_id!r} is not an aws-kms KEK id")
    return match


class KmsAead(aead.Aead):
    """Tink AEAD whose key lives in KMS: Encrypt/Decrypt with the AD as encryption context."""

    def __init__(self, client: Any, kek_id: str, arn: str):
        self._client = client
        self.kek_id = kek_id
        self.arn = arn

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        if len(plaintext) > MAX_PLAINTEXT:
            raise tink.TinkError(f"KMS Encrypt under {self.kek_id}: plaintext over {MAX_PLAINTEXT} bytes")
        try:
            response = self._client.encrypt(
                KeyId=self.arn,
                Plaintext=plaintext,
                EncryptionContext=_encryption_context(associated_data),
                EncryptionAlgorithm=_ALGORITHM,
            )
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"KMS Encrypt under {self.kek_id}") from None
        return response["CiphertextBlob"]

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        if not ciphertext:
            raise tink.TinkError(f"KMS Decrypt under {self.kek_id}: empty ciphertext")
        try:
            response = self._client.decrypt(
                KeyId=self.arn,
                CiphertextBlob=ciphertext,
                EncryptionContext=_encryption_context(associated_data),
                EncryptionAlgorithm=_ALGORITHM,
            )
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"KMS Decrypt under {self.kek_id}") from None
        if response.get("KeyId") != self.arn:
            # KMS enforces KeyId itself; this guards against a "compatible" server that does not.
            raise tink.TinkError(f"KMS Decrypt under {self.kek_id}: answered by another key")
        return response["Plaintext"]


class AwsKmsKeyManager:
    """KEKs as AWS KMS symmetric keys, one per practice."""

    name = "aws-kms"

    def __init__(
        self,
        region: str = DEFAULT_REGION,
        endpoint_url: str | None = None,
        *,
        session: boto3.session.Session | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        max_attempts: int = 2,
        pending_window_days: int = 7,
    ):
        if not 7 <= pending_window_days <= 30:
            raise KeyManagerError("KMS key deletion window must be 7 to 30 days")
        self.region = region
        self.endpoint_url = endpoint_url
        self.pending_window_days = pending_window_days
        self._session = session or boto3.session.Session()
        self._config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": max_attempts},
        )
        self._lock = threading.Lock()  # boto3 sessions are not thread-safe; clients are
        self._clients: dict[str, Any] = {}
        self._aeads: dict[str, KmsAead] = {}

    @classmethod
    def from_environment(cls) -> AwsKmsKeyManager:
        region = env_str("CONFIDE_AWS_KMS_REGION", DEFAULT_REGION).strip() or DEFAULT_REGION
        endpoint = env_str("CONFIDE_AWS_KMS_ENDPOINT_URL").strip() or None
        if endpoint is not None:
            _check_endpoint(endpoint)
        return cls(region=region, endpoint_url=endpoint)

    def client(self, region: str | None = None) -> Any:
        region = region or self.region
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                client = self._session.client(
                    "kms", region_name=region, endpoint_url=self.endpoint_url, config=self._config
                )
                self._clients[region] = client
            return client

    def exists(self) -> bool:
        return True

    def create_kek(self, label: str) -> str:
        try:
            response = self.client().create_key(
                Description=f"confide KEK for practice {label}",
                KeyUsage="ENCRYPT_DECRYPT",
                KeySpec="SYMMETRIC_DEFAULT",
                Tags=[{"TagKey": TAG_KEY, "TagValue": str(label)}],
            )
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"KMS CreateKey for practice {label}") from None
        return KEK_PREFIX + response["KeyMetadata"]["Arn"]

    def kek_aead(self, kek_id: str) -> aead.Aead:
        cached = self._aeads.get(kek_id)
        if cached is not None:
            return cached
        match = _parse_kek_id(kek_id)
        arn = kek_id[len(KEK_PREFIX) :]
        client = self.client(match["region"])
        try:
            meta = client.describe_key(KeyId=arn)["KeyMetadata"]
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"KMS DescribeKey for {kek_id}") from None
        state = meta.get("KeyState")
        if state != "Enabled":
            raise KeyManagerError(f"KEK {kek_id} is {state} in KMS")
        if meta.get("KeyUsage") != "ENCRYPT_DECRYPT" or meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            raise KeyManagerError(f"KEK {kek_id} is not a symmetric encryption key")
        primitive = KmsAead(client, kek_id, arn)
        with self._lock:
            return self._aeads.setdefault(kek_id, primitive)

    def destroy_kek(self, kek_id: str) -> None:
        match = _parse_kek_id(kek_id)
        client = self.client(match["region"])
        with self._lock:
            self._aeads.pop(kek_id, None)
        try:
            # The bare key id, not the ARN: both are valid for keys in our own account, and
            # moto (the test server) only understands the former here.
            client.schedule_key_deletion(KeyId=match["key_id"], PendingWindowInDays=self.pending_window_days)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "KMSInvalidStateException" and self._pending(client, kek_id):
                return  # already scheduled: destroying twice is not an error
            raise _translate(exc, f"KMS ScheduleKeyDeletion for {kek_id}") from None
        except BotoCoreError as exc:
            raise _translate(exc, f"KMS ScheduleKeyDeletion for {kek_id}") from None

    def _pending(self, client: Any, kek_id: str) -> bool:
        try:
            state = client.describe_key(KeyId=kek_id[len(KEK_PREFIX) :])["KeyMetadata"].get("KeyState")
        except (ClientError, BotoCoreError):
            return False
        return state in {"PendingDeletion", "PendingReplicaDeletion"}


def _check_endpoint(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise KeyManagerError("CONFIDE_AWS_KMS_ENDPOINT_URL must be an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise KeyManagerError("CONFIDE_AWS_KMS_ENDPOINT_URL must use https unless it is on loopback")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
