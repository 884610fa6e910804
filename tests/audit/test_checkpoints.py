"""AUD3: signed checkpoints, written outside the database after the entry commits.

The test transaction never commits, so `django_capture_on_commit_callbacks(execute=True)` stands
in for the commit: callbacks registered in a savepoint that rolled back are discarded by Django
exactly as they would be at a real commit. S3 is moto's server on loopback (tests/moto_server.py),
with a bucket created with Object Lock.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import stat
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from django.db import transaction

from confide.audit import checkpoints
from confide.audit.chain import record
from confide.audit.checkpoints import Checkpoint, DirectorySink, S3ObjectLockSink
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry, ChainHead
from tests.audit.sealing import sealed
from tests.moto_server import REGION, moto_endpoint

BUCKET = "confide-audit-checkpoints-test"


def _append(chain: str, n: int) -> list[AuditEntry]:
    """n entries, then the sealer's pass over them (which schedules the checkpoints), re-read."""
    entries = [record(AuditEvent.CHART_OPENED, practice_id=chain, purpose="treatment") for _ in range(n)]
    return sealed(*entries) if n > 1 else [sealed(*entries)]


def _files(root, chain) -> list[str]:
    directory = root / chain
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_a_checkpoint_every_n_entries_with_a_valid_signature(db, settings, sink_dir, keyring, django_capture_on_commit_callbacks):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 5
    chain = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        entries = _append(chain, 12)
    assert _files(sink_dir, chain) == ["000000000005.json", "000000000010.json"]
    public_key = checkpoints.load_public_key()
    for seq in (5, 10):
        checkpoint = Checkpoint.from_json((sink_dir / chain / f"{seq:012d}.json").read_bytes())
        assert (checkpoint.chain, checkpoint.seq, checkpoint.hash) == (chain, seq, entries[seq - 1].hash)
        assert checkpoints.signature_problem(checkpoint, public_key) == ""
    head = ChainHead.objects.get(chain=chain)
    assert (head.seq, head.checkpoint_seq) == (12, 10)


def test_each_entry_commits_on_its_own_as_in_the_application(db, settings, sink_dir, keyring, django_capture_on_commit_callbacks):
    """One captured commit per append: the checkpoint follows the commit of the entry it covers."""
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 3
    chain = str(uuid.uuid4())
    for n in range(1, 7):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            _append(chain, 1)
        assert len(callbacks) == (1 if n % 3 == 0 else 0)
    assert _files(sink_dir, chain) == ["000000000003.json", "000000000006.json"]


def test_a_checkpoint_when_the_last_one_is_older_than_the_interval(db, settings, sink_dir, keyring, django_capture_on_commit_callbacks):
    import time_machine

    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 1000
    settings.CONFIDE_AUDIT_CHECKPOINT_MINUTES = 10
    chain = str(uuid.uuid4())
    with time_machine.travel("2026-03-02T09:00:00Z", tick=False) as clock, django_capture_on_commit_callbacks(execute=True):
        _append(chain, 2)  # the first entry starts the clock
        clock.shift(datetime.timedelta(minutes=9, seconds=59))
        _append(chain, 1)
        assert _files(sink_dir, chain) == []
        clock.shift(datetime.timedelta(seconds=1))
        _append(chain, 1)  # ten minutes after the chain began: seq 4
        clock.shift(datetime.timedelta(minutes=5))
        _append(chain, 1)
        clock.shift(datetime.timedelta(minutes=5))
        _append(chain, 1)  # ten minutes after the checkpoint at seq 4
    assert _files(sink_dir, chain) == ["000000000004.json", "000000000006.json"]
    signed_at = Checkpoint.from_json((sink_dir / chain / "000000000006.json").read_bytes()).at
    assert signed_at == "2026-03-02T09:20:00.000000Z"


def test_a_rolled_back_entry_gets_no_checkpoint(db, settings, sink_dir, keyring, django_capture_on_commit_callbacks):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 3
    chain = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _append(chain, 2)
        with pytest.raises(RuntimeError), transaction.atomic():
            _append(chain, 1)  # seq 3: due
            raise RuntimeError("the action failed after its entry was written")
    assert callbacks == [] and _files(sink_dir, chain) == []
    head = ChainHead.objects.get(chain=chain)
    assert (head.seq, head.checkpoint_seq) == (2, 0)
    with django_capture_on_commit_callbacks(execute=True):
        third = _append(chain, 1)[0]  # seq 3 again, for real this time
    checkpoint = Checkpoint.from_json((sink_dir / chain / "000000000003.json").read_bytes())
    assert checkpoint.hash == third.hash


def test_the_signing_key_is_created_once_0600_outside_the_database(db, settings, sink_dir, keyring, django_capture_on_commit_callbacks, caplog_all):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 1
    with django_capture_on_commit_callbacks(execute=True):
        _append(str(uuid.uuid4()), 2)
    key_file, pub_file = keyring / "audit-signing.key", keyring / "audit-signing.pub"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o700
    pem = key_file.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----") and pub_file.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    checkpoints.forget_keys()
    with django_capture_on_commit_callbacks(execute=True):
        _append(str(uuid.uuid4()), 1)
    assert key_file.read_bytes() == pem  # reused, not re-created
    # Never in the database, never in a log line: the base64 body of the PEM appears nowhere.
    body = b"".join(pem.splitlines()[1:-1]).decode()
    raw = base64.b64decode(body)[-32:]
    dumped = json.dumps([list(AuditEntry.objects.values()), list(ChainHead.objects.values())], default=str)
    for needle in (body[-20:], raw.hex(), base64.b64encode(raw).decode()):
        assert needle not in dumped and needle not in caplog_all.text


def test_a_lost_signing_key_is_not_silently_replaced(db, settings, sink_dir, keyring, django_capture_on_commit_callbacks, caplog_all):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 1
    checkpoints.signing_key()
    (keyring / "audit-signing.key").unlink()
    checkpoints.forget_keys()
    with pytest.raises(checkpoints.SigningKeyMissing, match="restore the signing key"):
        checkpoints.signing_key()
    chain = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        entry = _append(chain, 1)[0]  # the action still commits; the failure is logged, by ids
    assert AuditEntry.objects.filter(id=entry.id).exists() and _files(sink_dir, chain) == []
    failure = next(r for r in caplog_all.records if r.getMessage() == "audit checkpoint could not be written")
    assert failure.levelno == logging.ERROR and failure.object_id == chain and failure.count == 1
    assert not (keyring / "audit-signing.key").exists()


def test_the_directory_sink_never_overwrites(tmp_path, keyring):
    sink = DirectorySink(tmp_path / "checkpoints")
    chain = str(uuid.uuid4())
    first = checkpoints.sign(chain, 100, "a" * 64)
    assert sink.put(first) is True
    assert sink.put(checkpoints.sign(chain, 100, "b" * 64)) is False
    path = sink.path(chain, 100)
    assert Checkpoint.from_json(path.read_bytes()) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert [p.name for p in path.parent.iterdir()] == ["000000000100.json"]  # no temporary file left behind
    assert [s.checkpoint for s in sink.read(chain)] == [first] and sink.chains() == [chain]


def test_a_chain_name_cannot_leave_the_sink(tmp_path, keyring):
    with pytest.raises(checkpoints.CheckpointError, match="not a chain name"):
        DirectorySink(tmp_path).put(checkpoints.sign("../../etc", 1, "a" * 64))


# --- S3 with Object Lock (moto on loopback) ------------------------------------------------------
@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    with moto_endpoint(tmp_path_factory.mktemp("aws"), "s3") as endpoint:
        boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        yield endpoint


@pytest.fixture
def s3(s3_endpoint):
    return boto3.client("s3", region_name=REGION, endpoint_url=s3_endpoint)


@pytest.fixture
def s3_sink(s3, settings, s3_endpoint, keyring):
    prefix = f"run-{uuid.uuid4().hex[:8]}/"
    settings.CONFIDE_AUDIT_CHECKPOINT_SINK = "s3"
    settings.CONFIDE_AUDIT_CHECKPOINT_S3_BUCKET = BUCKET
    settings.CONFIDE_AUDIT_CHECKPOINT_S3_PREFIX = prefix
    settings.CONFIDE_AUDIT_CHECKPOINT_S3_RETAIN_DAYS = 30
    settings.CONFIDE_AUDIT_CHECKPOINT_S3_ENDPOINT_URL = s3_endpoint
    sink = checkpoints.sink()
    assert isinstance(sink, S3ObjectLockSink)
    return sink


def test_s3_checkpoints_are_locked_in_compliance_mode_and_never_replaced(db, s3, s3_sink, settings, django_capture_on_commit_callbacks):
    settings.CONFIDE_AUDIT_CHECKPOINT_EVERY = 4
    chain = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        entries = _append(chain, 8)
    key = s3_sink.key(chain, 4)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=s3_sink.prefix)["Contents"]] == [key, s3_sink.key(chain, 8)]
    head = s3.head_object(Bucket=BUCKET, Key=key)  # (moto's server answers GetObjectRetention with a 500)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=29)
    # Not replaced by a second put of the same seq (If-None-Match), and the locked version cannot be deleted.
    assert s3_sink.put(checkpoints.sign(chain, 4, "f" * 64)) is False
    version = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    assert len(version) == 1
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version[0]["VersionId"])
    stored = s3_sink.read(chain)
    assert [(s.seq, s.checkpoint.hash) for s in stored] == [(4, entries[3].hash), (8, entries[7].hash)]
    assert s3_sink.chains() == [chain]


def test_s3_a_delete_marker_does_not_hide_a_checkpoint(db, s3, s3_sink, keyring):
    chain = str(uuid.uuid4())
    s3_sink.put(checkpoints.sign(chain, 100, "a" * 64))
    s3.delete_object(Bucket=BUCKET, Key=s3_sink.key(chain, 100))  # no version id: a delete marker
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=s3_sink.key(chain, 100))
    assert [s.seq for s in s3_sink.read(chain)] == [100] and chain in s3_sink.chains()
