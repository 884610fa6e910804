"""Signed checkpoints of each chain, written to a sink outside the database.

A checkpoint says "chain C had its entry `seq` with hash H at time T", signed with Ed25519. The
chain hash makes entry `seq` commit to every entry before it, so a checkpoint kept where the
database's writers cannot reach lets `confide audit verify` detect what the chain alone cannot:
a tail truncated after the checkpoint, or a prefix rewritten with recomputed hashes. Since v2 a
checkpoint also lists the hash of every entry it seals since the chain's previous checkpoint
(`since`+1 … `seq`, at most MAX_LISTED of them; the signature covers their digest), so verify
can name the first entry a rewrite changed rather than only the checkpoint that caught it.

When (the sealer, confide/audit/chain.py `seal`, calls `after_seal` under the chain-head lock):
* every CONFIDE_AUDIT_CHECKPOINT_EVERY (100) entries, and at a seal when
  CONFIDE_AUDIT_CHECKPOINT_MINUTES (10) have passed since the chain's last checkpoint; these are
  signed and written in `transaction.on_commit`, so a rolled-back seal never gets one;
* on a timer, for a chain that goes quiet: the seal that opens a tail (the first entries after a
  checkpoint, or the chain's genesis entry) enqueues one `seal_chain` task (confide/audit/tasks.py)
  with run_after = the sealer's time + CONFIDE_AUDIT_CHECKPOINT_MINUTES, in the same transaction
  and under the same lock. So there is one pending seal per open tail however many web and worker
  processes append, none for a rolled-back entry, and since the task is a row of the task
  database it survives a restart of the worker (`confide db_worker`). The task checkpoints the
  head as it is when it runs (`seal`); a failure is logged and retried an interval later.
* `confide audit checkpoint` seals every chain now (after an upgrade, before a backup).
Writing is best-effort for the action: a failing sink is logged (ids only) and the action still
commits; the next seal covers what a failed one missed, and `verify` fails for entries older
than twice the interval that no checkpoint covers.

Key: DATA_DIR/keyring/audit-signing.key (PKCS#8 PEM, mode 0600), created on first use, never in
the database, never logged; its public half is DATA_DIR/keyring/audit-signing.pub. If the public
key exists without the private key, nothing is re-created (checkpoints signed by a lost key
would silently stop verifying): restore the key, or move the .pub aside deliberately. Verifiers
should pin a copy of the .pub kept elsewhere (`verify --public-key`).

Sinks (CONFIDE_AUDIT_CHECKPOINT_SINK):
* `directory` (default): CONFIDE_AUDIT_CHECKPOINT_DIR/<chain>/<seq:012d>.json (default
  DATA_DIR/audit-checkpoints), written to a temporary file, fsynced, then hard-linked into place,
  so a file appears whole or not at all and is never overwritten. Point it at storage the
  database's host cannot rewrite (a mount from another machine, a synced folder) in production.
* `s3`: an S3 bucket created with Object Lock; each object is put with ObjectLockMode=COMPLIANCE
  and a retain-until date CONFIDE_AUDIT_CHECKPOINT_S3_RETAIN_DAYS ahead (If-None-Match: * so an
  existing key is never replaced). Verification reads every object *version*, so a delete marker
  cannot hide a checkpoint.
A sink that is missing or cannot be read is a failure of `verify` (`problem()`), not a warning:
deleting the checkpoints must not turn verification into the chain checking only itself.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

SIGNING_KEY_NAME = "audit-signing.key"
PUBLIC_KEY_NAME = "audit-signing.pub"
DOMAIN = b"confide-audit-checkpoint/v1\n"  # what a signature is over starts with this: no cross-protocol reuse
DOMAIN_V2 = b"confide-audit-checkpoint/v2\n"
MAX_LISTED = 1000  # entry hashes a checkpoint lists at most (64 KB): a longer span lists none
_CHAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")  # practice UUIDs and "platform": safe path parts


class CheckpointError(Exception):
    pass


class SigningKeyMissing(CheckpointError):
    pass


def _timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_chain(chain: str) -> str:
    if not _CHAIN_NAME.match(chain):
        raise CheckpointError(f"not a chain name: {chain[:50]!r}")
    return chain


def hashes_digest(hashes: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    seq: int
    hash: str
    at: str  # when it was signed, UTC
    key_id: str = ""
    signature: str = ""  # base64 Ed25519 signature over message()
    version: int = 2
    # v2: the entries since+1..seq are listed by hash (signed through their digest); since == seq
    # when none are listed (a span over MAX_LISTED, or the previous checkpoint is unknown).
    since: int = -1
    digest: str = ""
    hashes: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def message(self) -> bytes:
        if self.version == 1:
            return DOMAIN + f"{self.chain}\n{self.seq}\n{self.hash}\n{self.at}\n".encode()
        return DOMAIN_V2 + f"{self.chain}\n{self.seq}\n{self.hash}\n{self.at}\n{self.since}\n{self.digest}\n".encode()

    @property
    def lists_entries(self) -> bool:
        return self.version >= 2 and self.since < self.seq

    def without_hashes(self) -> Checkpoint:
        """The same checkpoint without its list (the digest stays): what verify keeps in memory."""
        return replace(self, hashes=())

    def to_json(self) -> bytes:
        data = asdict(self)
        version = data.pop("version")
        if version == 1:
            for name in ("since", "digest", "hashes"):
                data.pop(name)
        else:
            data["hashes"] = list(self.hashes)
        return (json.dumps({"v": version, **data}, sort_keys=True, indent=1) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Checkpoint:
        try:
            data = json.loads(raw)
            version = data.get("v")
            if version not in (1, 2):
                raise ValueError(f"unknown version {version!r}")
            checkpoint = cls(
                chain=str(data["chain"]), seq=int(data["seq"]), hash=str(data["hash"]), at=str(data["at"]),
                key_id=str(data["key_id"]), signature=str(data["signature"]), version=version,
            )  # fmt: skip
            if version == 2:
                hashes = data["hashes"]
                if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
                    raise ValueError("hashes is not a list of strings")
                checkpoint = replace(checkpoint, since=int(data["since"]), digest=str(data["digest"]), hashes=tuple(hashes))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"malformed checkpoint: {type(exc).__name__}: {str(exc)[:80]}") from None
        if "\n" in checkpoint.chain + checkpoint.hash + checkpoint.at + checkpoint.digest:
            raise CheckpointError("malformed checkpoint: a field contains a newline")
        if version == 2:
            if not 0 <= checkpoint.since <= checkpoint.seq or len(checkpoint.hashes) != checkpoint.seq - checkpoint.since:
                raise CheckpointError(f"malformed checkpoint: it lists {len(checkpoint.hashes)} hashes for seq {checkpoint.since + 1}..{checkpoint.seq}")
            if hashes_digest(checkpoint.hashes) != checkpoint.digest:
                raise CheckpointError("malformed checkpoint: its hashes do not match their digest")
            if checkpoint.hashes and checkpoint.hashes[-1] != checkpoint.hash:
                raise CheckpointError("malformed checkpoint: its last listed hash is not its own")
        return checkpoint


# --- keys ------------------------------------------------------------------------------------
def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def keyring_dir() -> Path:
    return Path(settings.DATA_DIR) / "keyring"


def _public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _create_exclusive(path: Path, data: bytes, mode: int) -> bool:
    """Write `path` whole or not at all, never replacing an existing file. False if it existed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        os.unlink(tmp)
    _fsync_dir(path.parent)
    return True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_key_lock = threading.Lock()
_keys: dict[Path, Ed25519PrivateKey] = {}


def signing_key() -> Ed25519PrivateKey:
    """The checkpoint signing key, created (with its .pub) on first use. Cached per process."""
    directory = keyring_dir()
    path = directory / SIGNING_KEY_NAME
    with _key_lock:
        cached = _keys.get(path)
        if cached is not None:
            return cached
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        pub_path = directory / PUBLIC_KEY_NAME
        if not path.exists():
            if pub_path.exists():
                raise SigningKeyMissing(
                    f"{path} is missing but {pub_path} exists: restore the signing key from backup "
                    "(or move the .pub aside on purpose to start a new key; keep it to verify older checkpoints)"
                )
            fresh = Ed25519PrivateKey.generate()
            pem = fresh.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            _create_exclusive(path, pem, 0o600)  # a concurrent process may have won: read what is there
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{path} is unreadable: {type(exc).__name__}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointError(f"{path} is not an Ed25519 key")
        expected = _public_pem(key.public_key())
        if not pub_path.exists():
            _create_exclusive(pub_path, expected, 0o644)
        if pub_path.read_bytes() != expected:
            raise CheckpointError(f"{pub_path} does not belong to {path}")
        _keys[path] = key
        return key


def load_public_key(path: Path | None = None) -> Ed25519PublicKey | None:
    """The verification key: `path`, or DATA_DIR/keyring/audit-signing.pub. None if absent."""
    path = path or keyring_dir() / PUBLIC_KEY_NAME
    if not path.exists():
        return None
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"{path} is not an Ed25519 public key")
    return key


def forget_keys() -> None:
    """Drop cached keys (tests move DATA_DIR)."""
    with _key_lock:
        _keys.clear()


def sign(
    chain: str, seq: int, head_hash: str, at: datetime.datetime | None = None, key: Ed25519PrivateKey | None = None,
    *, hashes: Iterable[str] | None = None,
) -> Checkpoint:
    """A v2 checkpoint; `hashes`, if given, are those of the entries up to and including `seq`
    since the previous checkpoint (the last one must be `head_hash`)."""
    key = key or signing_key()
    listed = tuple(hashes or ())
    if listed and listed[-1] != head_hash:
        raise CheckpointError("the last listed hash must be the checkpointed entry's")
    unsigned = Checkpoint(
        chain=_check_chain(chain), seq=int(seq), hash=head_hash, at=_timestamp(at or timezone.now()),
        since=int(seq) - len(listed), digest=hashes_digest(listed), hashes=listed,
    )  # fmt: skip
    signature = base64.b64encode(key.sign(unsigned.message())).decode()
    return replace(unsigned, key_id=key_id(key.public_key()), signature=signature)


def signature_problem(checkpoint: Checkpoint, public_key: Ed25519PublicKey | None) -> str:
    """'' when the signature is good; otherwise what is wrong with it."""
    if public_key is None:
        return "no public key to check it against"
    if checkpoint.key_id != key_id(public_key):
        return f"signed by key {checkpoint.key_id[:40]!r}, not by {key_id(public_key)}"
    try:
        public_key.verify(base64.b64decode(checkpoint.signature, validate=True), checkpoint.message())
    except (InvalidSignature, ValueError):
        return "the signature does not verify"
    return ""


# --- sinks -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredCheckpoint:
    """One checkpoint as read back from a sink: parsed, or the reason it could not be."""

    location: str
    seq: int  # from the object's name
    checkpoint: Checkpoint | None
    error: str = ""


class CheckpointSink(Protocol):
    name: str

    def describe(self) -> str:
        """Where it is, for messages: "directory /srv/…", "s3 bucket/prefix/"."""

    def problem(self) -> str:
        """'' if the sink can be read; otherwise why not ("missing", "not a directory", …)."""

    def put(self, checkpoint: Checkpoint) -> bool:
        """Store a checkpoint; False (and nothing changed) if one is already stored at its seq."""

    def has(self, chain: str, seq: int) -> bool:
        """Whether a checkpoint of `chain` at `seq` is stored."""

    def chains(self) -> list[str]:
        """Every chain the sink holds checkpoints for."""

    def read(self, chain: str) -> list[StoredCheckpoint]:
        """The chain's checkpoints, ordered by seq, without their hash lists (constant size each)."""

    def load(self, location: str) -> Checkpoint:
        """One stored checkpoint in full, hash list included (`StoredCheckpoint.location`)."""


def _parse_stored(location: str, name: str, raw: bytes) -> StoredCheckpoint:
    stem = name.removesuffix(".json")
    seq = int(stem) if stem.isdigit() else -1
    try:
        checkpoint = Checkpoint.from_json(raw)
    except CheckpointError as exc:
        return StoredCheckpoint(location, seq, None, str(exc))
    if checkpoint.seq != seq:
        return StoredCheckpoint(location, seq, None, f"named for seq {seq} but says seq {checkpoint.seq}")
    return StoredCheckpoint(location, seq, checkpoint.without_hashes())


class DirectorySink:
    name = "directory"

    def __init__(self, root: Path):
        self.root = Path(root)

    def describe(self) -> str:
        return f"directory {self.root}"

    def problem(self) -> str:
        if not self.root.exists():
            return "missing"
        if not self.root.is_dir():
            return "not a directory"
        try:
            next(iter(self.root.iterdir()), None)
        except OSError as exc:
            return f"unreadable ({type(exc).__name__})"
        return ""

    def path(self, chain: str, seq: int) -> Path:
        return self.root / _check_chain(chain) / f"{seq:012d}.json"

    def has(self, chain: str, seq: int) -> bool:
        return self.path(chain, seq).is_file()

    def load(self, location: str) -> Checkpoint:
        return Checkpoint.from_json(Path(location).read_bytes())

    def put(self, checkpoint: Checkpoint) -> bool:
        final = self.path(checkpoint.chain, checkpoint.seq)
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if final.exists():
            return False
        return _create_exclusive(final, checkpoint.to_json(), 0o444)

    def chains(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _CHAIN_NAME.match(p.name))

    def read(self, chain: str) -> list[StoredCheckpoint]:
        directory = self.root / _check_chain(chain)
        if not directory.is_dir():
            return []
        stored = [self._read_one(p) for p in directory.iterdir() if not p.name.startswith(".")]
        return sorted(stored, key=lambda s: (s.seq, s.location))

    @staticmethod
    def _read_one(path: Path) -> StoredCheckpoint:
        try:
            return _parse_stored(str(path), path.name, path.read_bytes())
        except OSError as exc:  # a directory where a file should be, a file it may not read
            stem = path.name.removesuffix(".json")
            return StoredCheckpoint(str(path), int(stem) if stem.isdigit() else -1, None, f"unreadable: {type(exc).__name__}")


class S3ObjectLockSink:
    name = "s3"

    def __init__(self, bucket: str, prefix: str = "audit-checkpoints/", retain_days: int = 2190, client=None, endpoint_url: str = ""):
        if client is None:
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint_url or None)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.retain_days = retain_days

    def describe(self) -> str:
        return f"s3 {self.bucket}/{self.prefix}"

    def problem(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.list_object_versions(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except ClientError as exc:
            return f"unreadable ({exc.response.get('Error', {}).get('Code', 'error')})"
        except BotoCoreError as exc:
            return f"unreadable ({type(exc).__name__})"
        return ""

    def key(self, chain: str, seq: int) -> str:
        return f"{self.prefix}{_check_chain(chain)}/{seq:012d}.json"

    def has(self, chain: str, seq: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(chain, seq))
        except ClientError:
            return False
        return True

    def load(self, location: str) -> Checkpoint:
        key, _, version_id = location.removeprefix(f"s3://{self.bucket}/").partition("?versionId=")
        return Checkpoint.from_json(self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)["Body"].read())

    def put(self, checkpoint: Checkpoint) -> bool:
        from botocore.exceptions import ClientError

        until = timezone.now() + datetime.timedelta(days=self.retain_days)
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self.key(checkpoint.chain, checkpoint.seq), Body=checkpoint.to_json(),
                ContentType="application/json", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
                IfNoneMatch="*",
            )  # fmt: skip
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                return False
            raise
        return True

    def _pages(self, **kwargs) -> Iterator[dict]:
        yield from self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, **kwargs)

    def chains(self) -> list[str]:
        names = set()
        for page in self._pages(Prefix=self.prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(self.prefix) :].rstrip("/")
                if _CHAIN_NAME.match(name):
                    names.add(name)
        return sorted(names)

    def read(self, chain: str) -> list[StoredCheckpoint]:
        stored = []
        for page in self._pages(Prefix=f"{self.prefix}{_check_chain(chain)}/"):
            for version in page.get("Versions", []):  # every version: a newer one or a delete marker hides nothing
                key, version_id = version["Key"], version["VersionId"]
                body = self.client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)["Body"].read()
                stored.append(_parse_stored(f"s3://{self.bucket}/{key}?versionId={version_id}", key.rsplit("/", 1)[-1], body))
        return sorted(stored, key=lambda s: (s.seq, s.location))


@functools.lru_cache(maxsize=8)
def _sink_for(kind: str, directory: str, bucket: str, prefix: str, retain_days: int, endpoint_url: str) -> CheckpointSink:
    if kind == "directory":
        return DirectorySink(Path(directory))
    if kind == "s3":
        if not bucket:
            raise CheckpointError("CONFIDE_AUDIT_CHECKPOINT_SINK=s3 needs CONFIDE_AUDIT_CHECKPOINT_S3_BUCKET")
        return S3ObjectLockSink(bucket, prefix, retain_days, endpoint_url=endpoint_url)
    raise CheckpointError(f"CONFIDE_AUDIT_CHECKPOINT_SINK must be directory or s3; got {kind!r}")


def sink() -> CheckpointSink:
    """The configured sink (settings are read on each call, so overriding them in tests works)."""
    return _sink_for(
        settings.CONFIDE_AUDIT_CHECKPOINT_SINK,
        str(settings.CONFIDE_AUDIT_CHECKPOINT_DIR),
        settings.CONFIDE_AUDIT_CHECKPOINT_S3_BUCKET,
        settings.CONFIDE_AUDIT_CHECKPOINT_S3_PREFIX,
        settings.CONFIDE_AUDIT_CHECKPOINT_S3_RETAIN_DAYS,
        settings.CONFIDE_AUDIT_CHECKPOINT_S3_ENDPOINT_URL,
    )


# --- when, and the write ---------------------------------------------------------------------
def seal_interval() -> datetime.timedelta:
    """How soon after an entry a checkpoint covers it at the latest, with a worker running."""
    return datetime.timedelta(minutes=settings.CONFIDE_AUDIT_CHECKPOINT_MINUTES)


def after_seal(head, sealed: list[tuple[int, str]], now: datetime.datetime) -> dict:
    """Called by the sealer (confide/audit/chain.py) with the locked chain head (before this
    batch), the (seq, hash) of the entries it has just sealed, in order, and its clock.

    Returns the extra ChainHead fields to update with seq/hash. Every checkpoint that falls due
    (each seq divisible by CONFIDE_AUDIT_CHECKPOINT_EVERY; and the batch's last entry when
    CONFIDE_AUDIT_CHECKPOINT_MINUTES have passed since the chain's last checkpoint) is signed and
    written once the transaction commits; otherwise, if this batch opens a tail (the head was
    checkpointed), the timer's seal of it is enqueued, in this transaction. The sealer's clock,
    not the entries' `at`, decides "overdue": entries are stamped by many processes."""
    every = settings.CONFIDE_AUDIT_CHECKPOINT_EVERY
    started = head.checkpoint_at  # the last checkpoint's time; None before the chain's first entry
    since = head.checkpoint_seq
    fields: dict = {}
    for seq, entry_hash in sealed:
        if seq % every == 0:
            transaction.on_commit(functools.partial(_write_after_commit, head.chain, seq, entry_hash, since))
            since = seq
    last_seq, last_hash = sealed[-1]
    if since < last_seq and started is not None and now - started >= seal_interval():
        transaction.on_commit(functools.partial(_write_after_commit, head.chain, last_seq, last_hash, since))
        since = last_seq
    if since != head.checkpoint_seq:
        fields = {"checkpoint_seq": since, "checkpoint_at": max(now, started or now)}
    elif started is None:
        fields = {"checkpoint_at": now}  # the chain's first entry starts the clock
    if since < last_seq and (head.seq == head.checkpoint_seq or since != head.checkpoint_seq):
        schedule_seal(head.chain, now + seal_interval())  # this batch opened a tail
    return fields


def schedule_seal(chain: str, when: datetime.datetime) -> None:
    """Enqueue the timer's seal of `chain` for `when` (in the caller's transaction, with the
    database task backend). A backend that cannot defer a task (`immediate`, for one-off
    scripts) gets none: `confide audit checkpoint` is the way to seal after such a script."""
    from confide.audit.tasks import seal_chain

    if seal_chain.get_backend().supports_defer:
        seal_chain.using(run_after=when).enqueue(chain)


def listed_hashes(chain: str, since: int, seq: int) -> list[str] | None:
    """The hashes of entries since+1..seq, read from the database; None when there are more than
    MAX_LISTED, the previous checkpoint is unknown, or the rows read are not exactly those."""
    from confide.audit.models import AuditEntry
    from confide.audit.scope import chain_scope

    if not 0 <= since < seq or seq - since > MAX_LISTED:
        return None
    with chain_scope(chain):
        rows = list(AuditEntry.objects.filter(chain=chain, seq__gt=since, seq__lte=seq).order_by("seq").values_list("seq", "hash"))
    if [s for s, _ in rows] != list(range(since + 1, seq + 1)):
        return None
    return [h for _, h in rows]


def _signed(chain: str, seq: int, head_hash: str, since: int | None) -> Checkpoint:
    hashes = listed_hashes(chain, since, seq) if since is not None else None
    if hashes and hashes[-1] != head_hash:
        hashes = None  # not the entries the head names: list none rather than the wrong ones
    return sign(chain, seq, head_hash, hashes=hashes)


def write(chain: str, seq: int, head_hash: str, target: CheckpointSink | None = None, *, since: int | None = None) -> Checkpoint:
    """Sign and store a checkpoint now, listing the entries after `since` when it can. Storing
    the same seq twice keeps the first."""
    checkpoint = _signed(chain, seq, head_hash, since)
    (target or sink()).put(checkpoint)
    return checkpoint


def _write_after_commit(chain: str, seq: int, head_hash: str, since: int) -> None:
    try:
        write(chain, seq, head_hash, since=since)
    except Exception:  # noqa: BLE001 — the entry is committed; a lost checkpoint must not fail the action
        logger.error(
            "audit checkpoint could not be written",
            exc_info=True,
            extra={"event": "audit:checkpoint:failed", "object_id": chain, "count": seq},
        )
        try:
            schedule_seal(chain, timezone.now() + seal_interval())  # the timer tries again
        except Exception:  # noqa: BLE001 — verify reports a tail left unsealed
            logger.error("audit seal could not be scheduled", exc_info=True, extra={"event": "audit:checkpoint:failed", "object_id": chain})


def seal(chain: str, target: CheckpointSink | None = None) -> Checkpoint | None:
    """Checkpoint the chain's head as it is now, unless the sink holds a checkpoint of it
    already (the timer's task, and `confide audit checkpoint`). The head is read and marked under
    its lock, the checkpoint written after that commits; returns it if newly stored. Raises if
    the sink cannot be written (the caller retries)."""
    from confide.audit.models import ChainHead

    target = target or sink()
    with transaction.atomic():
        head = ChainHead.objects.select_for_update().filter(chain=chain).first()
        if head is None or head.seq == 0:
            return None
        since = head.checkpoint_seq
        if since < head.seq:
            ChainHead.objects.filter(chain=chain).update(
                checkpoint_seq=head.seq, checkpoint_at=max(timezone.now(), head.checkpoint_at or timezone.now())
            )
    if since == head.seq and target.has(chain, head.seq):
        return None
    checkpoint = _signed(chain, head.seq, head.hash, since if since < head.seq else None)
    return checkpoint if target.put(checkpoint) else None


def checkpoint_heads(chains: Iterable[str] | None = None) -> list[Checkpoint]:
    """Seal every chain (or those named) now: `confide audit checkpoint`, after an upgrade or
    before a backup. Returns the checkpoints newly stored."""
    from confide.audit.models import ChainHead

    target, written = sink(), []
    heads = ChainHead.objects.filter(seq__gt=0).order_by("chain")
    if chains is not None:
        heads = heads.filter(chain__in=list(chains))
    for chain in heads.values_list("chain", flat=True):
        checkpoint = seal(chain, target)
        if checkpoint is not None:
            written.append(checkpoint)
    return written
