"""Encrypted files over django-storages' S3Storage against moto's S3 server on 127.0.0.1.

Every request goes boto3 -> HTTP -> moto's server thread; nothing is patched in-process.
"""

from __future__ import annotations

import io
import os

import boto3
import pytest
from storages.backends.s3 import S3Storage

from confide.vault import files, keys
from confide.vault.allowance import allow
from confide.vault.errors import DecryptionFailed
from confide.vault.files import EncryptedStorage, rewrap_file_header
from confide.vault.models import SubjectKey
from tests.moto_server import REGION, moto_endpoint

BUCKET = "confide-files-test"
CATEGORY = "health.documents"
CANARY = b"canary-diagnosis-xyzzy"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """A moto server on an ephemeral loopback port, with one bucket."""
    with moto_endpoint(tmp_path_factory.mktemp("aws"), "s3") as endpoint:
        boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint


@pytest.fixture
def raw_s3(s3_endpoint):
    return boto3.client("s3", region_name=REGION, endpoint_url=s3_endpoint)


@pytest.fixture
def storage(s3_endpoint):
    return EncryptedStorage(
        S3Storage(
            bucket_name=BUCKET, endpoint_url=s3_endpoint, access_key="testing", secret_key="testing",
            region_name=REGION, addressing_style="path",
        )
    )


def _save(storage, patient, data: bytes) -> str:
    with allow({CATEGORY}):
        return storage.save_encrypted("attachment", io.BytesIO(data), practice_id=patient.practice_id,
                                      subject_id=patient.id, content_type="application/pdf", category=CATEGORY)


def _open(storage, patient, name) -> bytes:
    with allow({CATEGORY}), storage.open_decrypted(
        name, practice_id=patient.practice_id, subject_id=patient.id, category=CATEGORY
    ) as handle:
        return handle.read()


def _pdf(size: int) -> bytes:
    return b"%PDF-1.7\n" + CANARY + os.urandom(size) + b"\n%%EOF\n"


def test_round_trip_through_s3(storage, raw_s3, make_patient):
    patient = make_patient()
    data = _pdf(3 * 1024 * 1024)
    name = _save(storage, patient, data)
    stored = raw_s3.get_object(Bucket=BUCKET, Key=name)
    body = stored["Body"].read()
    assert body.startswith(b"CFV1") and CANARY not in body and len(body) > len(data)
    assert stored["ContentType"] == "application/octet-stream"  # the real type is only inside
    assert _open(storage, patient, name) == data
    storage.delete(name)
    assert "Contents" not in raw_s3.list_objects_v2(Bucket=BUCKET, Prefix=name)


def test_an_object_tampered_in_s3_does_not_decrypt(storage, raw_s3, make_patient):
    patient = make_patient()
    name = _save(storage, patient, _pdf(100_000))
    body = bytearray(raw_s3.get_object(Bucket=BUCKET, Key=name)["Body"].read())
    body[-500] ^= 0x01
    raw_s3.put_object(Bucket=BUCKET, Key=name, Body=bytes(body))
    with pytest.raises(DecryptionFailed, match="content did not decrypt"):
        _open(storage, patient, name)


def test_missing_object_is_file_not_found(storage, make_patient):
    patient = make_patient()
    with pytest.raises(FileNotFoundError):
        _open(storage, patient, f"{patient.practice_id}/{patient.id}/attachment/{'0' * 32}")


def test_rewrap_on_s3_replaces_the_object(storage, raw_s3, make_patient):
    patient = make_patient()
    data = _pdf(1_500_000)
    name = _save(storage, patient, data)
    keys.new_subject_key(patient.practice_id, patient.id, 2)
    SubjectKey.objects.filter(subject_id=patient.id, version=1).update(state=SubjectKey.State.RETIRING)
    assert rewrap_file_header(storage, name, patient.practice_id, patient.id, 2) is True
    assert files.read_header(storage, name).key_version == 2
    listed = raw_s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{patient.practice_id}/{patient.id}/")
    assert [item["Key"] for item in listed["Contents"]] == [name]  # the temporary is gone
    SubjectKey.objects.filter(subject_id=patient.id, version=1).update(wrapped_keyset=None, state="destroyed")
    assert _open(storage, patient, name) == data
