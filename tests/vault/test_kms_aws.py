"""AwsKmsKeyManager against a real KMS-speaking HTTP server (moto) on 127.0.0.1.

Every request goes through boto3 -> HTTP -> moto's server thread; nothing is patched in-process
(no `mock_aws`). The one exception is `test_kms_refusals_map_to_vault_errors`, which uses
botocore's Stubber for refusals moto cannot produce (moto keeps decrypting under a key that is
pending deletion; real KMS answers KMSInvalidStateException).
"""

from __future__ import annotations

import secrets
import socket
import time

import boto3
import pytest
import tink
from botocore.stub import Stubber
from tink import aead

from confide.vault import kms
from confide.vault.errors import KeyManagerError
from confide.vault.kms_aws import AwsKmsKeyManager
from tests.moto_server import REGION, moto_endpoint

AD = b"confide-practice-key|practice-1|data"


@pytest.fixture(scope="module")
def kms_endpoint(tmp_path_factory):
    """A moto server on an ephemeral loopback port."""
    with moto_endpoint(tmp_path_factory.mktemp("aws"), "kms") as endpoint:
        yield endpoint


@pytest.fixture
def manager(kms_endpoint):
    return AwsKmsKeyManager(region=REGION, endpoint_url=kms_endpoint)


@pytest.fixture
def raw_kms(kms_endpoint):
    """A plain boto3 client for looking at what the manager did."""
    return boto3.client("kms", region_name=REGION, endpoint_url=kms_endpoint)


@pytest.fixture
def closed_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _arn(kek_id: str) -> str:
    return kek_id.removeprefix("aws-kms:")


def test_create_kek_makes_a_tagged_symmetric_key(manager, raw_kms):
    assert manager.exists() is True
    kek_id = manager.create_kek("practice-1")
    assert kek_id.startswith(f"aws-kms:arn:aws:kms:{REGION}:")
    meta = raw_kms.describe_key(KeyId=_arn(kek_id))["KeyMetadata"]
    assert meta["Description"] == "confide KEK for practice practice-1"
    assert (meta["KeyUsage"], meta["KeySpec"], meta["KeyState"]) == ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "Enabled")
    tags = raw_kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]
    assert {"TagKey": "confide-practice", "TagValue": "practice-1"} in tags


def test_wrap_unwrap_round_trip(manager):
    kek = manager.kek_aead(manager.create_kek("practice-1"))
    assert isinstance(kek, aead.Aead)
    data_key = secrets.token_bytes(32)
    wrapped = kek.encrypt(data_key, AD)
    assert data_key not in wrapped
    assert kek.decrypt(wrapped, AD) == data_key
    assert kek.decrypt(kek.encrypt(data_key, b""), b"") == data_key


def test_wrong_associated_data_is_refused(manager):
    kek = manager.kek_aead(manager.create_kek("practice-1"))
    data_key = secrets.token_bytes(32)
    wrapped = kek.encrypt(data_key, AD)
    for other in (b"confide-practice-key|practice-2|data", b""):
        with pytest.raises(tink.TinkError, match="InvalidCiphertextException") as caught:
            kek.decrypt(wrapped, other)
        assert data_key.hex() not in str(caught.value)


def test_tampered_ciphertext_is_refused(manager):
    kek = manager.kek_aead(manager.create_kek("practice-1"))
    wrapped = kek.encrypt(secrets.token_bytes(32), AD)
    tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 0x01])
    with pytest.raises(tink.TinkError):
        kek.decrypt(tampered, AD)
    with pytest.raises(tink.TinkError):
        kek.decrypt(b"", AD)


def test_ciphertext_under_one_kek_does_not_open_under_another(manager):
    kek1 = manager.kek_aead(manager.create_kek("practice-1"))
    kek2 = manager.kek_aead(manager.create_kek("practice-2"))
    data_key = secrets.token_bytes(32)
    wrapped = kek1.encrypt(data_key, AD)
    # Real KMS answers IncorrectKeyException (-> TinkError); moto answers AccessDeniedException
    # (-> KeyManagerError). Either way it must not open.
    with pytest.raises((tink.TinkError, KeyManagerError)) as caught:
        kek2.decrypt(wrapped, AD)
    assert data_key.hex() not in str(caught.value)


def test_wraps_a_tink_keyset(manager):
    kek = manager.kek_aead(manager.create_kek("practice-1"))
    handle = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM)
    blob = tink.proto_keyset_format.serialize_encrypted(handle, kek, AD)
    opened = tink.proto_keyset_format.parse_encrypted(blob, kek, AD).primitive(aead.Aead)
    original = handle.primitive(aead.Aead)
    assert opened.decrypt(original.encrypt(b"canary-diagnosis-xyzzy", b"row"), b"row") == b"canary-diagnosis-xyzzy"
    assert original.decrypt(opened.encrypt(b"note", b"row"), b"row") == b"note"
    with pytest.raises(tink.TinkError):
        tink.proto_keyset_format.parse_encrypted(blob, kek, b"confide-practice-key|practice-2|data")


def test_tinks_own_aws_kms_aead_opens_our_ciphertext(manager, raw_kms):
    """Same encryption-context format as tink.integration.awskms: recoverable with stock Tink."""
    from tink.integration import awskms

    kek_id = manager.create_kek("practice-1")
    data_key = secrets.token_bytes(32)
    wrapped = manager.kek_aead(kek_id).encrypt(data_key, AD)
    key_uri = "aws-kms://" + _arn(kek_id)
    stock = awskms.new_client(boto3_client=raw_kms, key_uri=key_uri).get_aead(key_uri)
    assert stock.decrypt(wrapped, AD) == data_key


def test_destroy_kek_schedules_deletion_and_refuses_unwrap(manager, raw_kms, kms_endpoint):
    kek_id = manager.create_kek("practice-1")
    wrapped = manager.kek_aead(kek_id).encrypt(secrets.token_bytes(32), AD)
    manager.destroy_kek(kek_id)
    meta = raw_kms.describe_key(KeyId=_arn(kek_id))["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    assert 6.9 * 86400 < meta["DeletionDate"].timestamp() - time.time() < 7.1 * 86400
    with pytest.raises(KeyManagerError, match="PendingDeletion"):
        manager.kek_aead(kek_id).decrypt(wrapped, AD)
    # A fresh process (no cache) learns it from KMS too.
    with pytest.raises(KeyManagerError, match="PendingDeletion"):
        AwsKmsKeyManager(region=REGION, endpoint_url=kms_endpoint).kek_aead(kek_id)
    manager.destroy_kek(kek_id)  # idempotent


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("KMSInvalidStateException", KeyManagerError),
        ("DisabledException", KeyManagerError),
        ("AccessDeniedException", KeyManagerError),
        ("ThrottlingException", KeyManagerError),
        ("IncorrectKeyException", tink.TinkError),
        ("InvalidCiphertextException", tink.TinkError),
    ],
)
def test_kms_refusals_map_to_vault_errors(kms_endpoint, code, raised):
    arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    manager = AwsKmsKeyManager(region=REGION, endpoint_url=kms_endpoint)
    client = manager.client()
    secret = secrets.token_bytes(32)
    with Stubber(client) as stub:
        stub.add_response(
            "describe_key",
            {"KeyMetadata": {"KeyId": arn.rsplit("/", 1)[1], "Arn": arn, "KeyState": "Enabled",
                             "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT"}},
        )
        stub.add_client_error("decrypt", service_error_code=code, service_message=f"leaky {secret.hex()}")
        kek = manager.kek_aead("aws-kms:" + arn)
        with pytest.raises(raised) as caught:
            kek.decrypt(b"\x01" * 64, AD)
    assert str(caught.value) == f"KMS Decrypt under aws-kms:{arn}: " + (
        f"KMS refused the ciphertext ({code})" if raised is tink.TinkError else f"KMS error {code}"
    )


def test_unreachable_endpoint_fails_fast(closed_port, kms_endpoint):
    manager = AwsKmsKeyManager(region=REGION, endpoint_url=f"http://127.0.0.1:{closed_port}")
    arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    started = time.monotonic()
    with pytest.raises(KeyManagerError, match=r"KMS CreateKey for practice p1: KMS unreachable .*EndpointConnectionError"):
        manager.create_kek("p1")
    with pytest.raises(KeyManagerError, match="EndpointConnectionError"):
        manager.kek_aead("aws-kms:" + arn)
    assert time.monotonic() - started < 10


def test_malformed_kek_id_is_refused(manager):
    with pytest.raises(KeyManagerError, match="not an aws-kms KEK id"):
        manager.kek_aead("local:0123abcd")


@pytest.fixture
def fresh_key_manager():
    kms.reset_key_manager()
    yield
    kms.reset_key_manager()


def test_key_manager_selects_aws_kms_from_environment(monkeypatch, kms_endpoint, fresh_key_manager):
    monkeypatch.setenv("CONFIDE_KEY_MANAGER", "aws-kms")
    monkeypatch.setenv("CONFIDE_AWS_KMS_REGION", REGION)
    monkeypatch.setenv("CONFIDE_AWS_KMS_ENDPOINT_URL", kms_endpoint)
    manager = kms.key_manager()
    assert isinstance(manager, AwsKmsKeyManager)
    assert (manager.name, manager.region, manager.endpoint_url) == ("aws-kms", REGION, kms_endpoint)
    kek = manager.kek_aead(manager.create_kek("practice-env"))
    assert kek.decrypt(kek.encrypt(b"k" * 32, AD), AD) == b"k" * 32


@pytest.mark.parametrize("url", ["http://kms.example.test", "ftp://127.0.0.1:1", "not a url"])
def test_endpoint_must_be_https_off_loopback(monkeypatch, url):
    monkeypatch.setenv("CONFIDE_AWS_KMS_ENDPOINT_URL", url)
    with pytest.raises(KeyManagerError, match="CONFIDE_AWS_KMS_ENDPOINT_URL"):
        AwsKmsKeyManager.from_environment()


def test_region_defaults_to_us_east_1(monkeypatch):
    monkeypatch.delenv("CONFIDE_AWS_KMS_REGION", raising=False)
    monkeypatch.setenv("CONFIDE_AWS_KMS_ENDPOINT_URL", "https://kms.example.test")
    manager = AwsKmsKeyManager.from_environment()
    assert (manager.region, manager.endpoint_url) == ("us-east-1", "https://kms.example.test")
