"""SEC1 at rest: PHI written through the services is ciphertext in the database's own bytes.

A patient is created through `records.services.do_create_patient` with the canary name, email,
phone, date of birth and note, in a separate process that commits (the test database is rolled
back per test, so its rows never reach a file or a dump). Then the raw bytes are searched: the
SQLite file (after a WAL checkpoint, with -wal/-shm if present, and everything else under the
data directory), or a `pg_dump` of the PostgreSQL database. A value that is not encrypted (the
practice name) must be found, or the search proves nothing.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

from confide.vault.blind_index import normalise_phone
from tests.conftest import CANARIES

BIN = Path(sys.executable).parent
CONTROL_NAME = "Canary Control Practice"  # stored in clear: the search's positive control
ENCRYPTED_FIELDS_WRITTEN = 6  # given and family name, date of birth, email, phone, health_background

SEED = """
import json, os
from django.db import connection, transaction
from confide.accounts.models import Membership, User
from confide.core.actors import StaffActor
from confide.core.models import Practice
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.services import do_create_patient
import datetime

seed = json.loads(os.environ["CANARY_SEED"])
given, family = seed["name"].split()
with transaction.atomic():
    practice = Practice.objects.create(slug=seed["slug"], name=seed["practice_name"])
    user = User.objects.create_user(seed["user_email"], None, display_name="Control Clinician")
    with tenant_context(practice_id=practice.id, user_id=user.id):
        membership = Membership.objects.create(user=user, practice=practice, role=Role.CLINICIAN)
        do_create_patient(
            actor=StaffActor.from_membership(membership), given_name=given, family_name=family,
            date_of_birth=datetime.date.fromisoformat(seed["dob"]), email=seed["email"], phone=seed["phone"],
            health_background=seed["note"],
        )
if connection.vendor == "sqlite":
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
connection.close()
print(json.dumps({"practice_id": str(practice.id), "user_id": user.id}))
"""

CLEANUP = """
import json, os
from django.db import transaction
from confide.accounts.models import Membership, User
from confide.core.models import Practice
from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from confide.vault.models import BlindIndexEntry, PracticeKey, SubjectKey

seeded = json.loads(os.environ["CANARY_SEEDED"])
with transaction.atomic():
    with tenant_context(practice_id=seeded["practice_id"]):
        # A practice's tenant rows, every kind it can have here but its policy versions, which
        # the database itself refuses to delete (_drop_policy_versions does that first).
        for model in (BlindIndexEntry, Patient, SubjectKey, PracticeKey, Membership):
            model.objects.all().delete()
    User.objects.filter(id=seeded["user_id"]).delete()
    Practice.objects.filter(id=seeded["practice_id"]).delete()
"""


def _needles() -> dict[str, bytes]:
    given, family = CANARIES["name"].split()
    e164 = normalise_phone(CANARIES["phone"])
    plain = {
        "name": CANARIES["name"], "given name": given, "family name": family, "email": CANARIES["email"],
        "phone": CANARIES["phone"], "phone E.164": e164, "phone digits": e164.lstrip("+"),
        "date of birth": CANARIES["dob"], "note": CANARIES["note"],
    }
    needles = {label: value.encode() for label, value in plain.items()}
    needles |= {f"{label} (case-folded)": value.casefold().encode() for label, value in plain.items()}
    return needles


def _confide(args: list[str], env: dict, extra: dict | None = None) -> str:
    result = subprocess.run(
        [str(BIN / "confide"), *args], env=env | (extra or {}), capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, f"confide {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _env(data_dir: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("CANARY_SEED", "CANARY_SEEDED")}
    return env | {
        "DJANGO_SETTINGS_MODULE": "confide.settings",
        "CONFIDE_DEV_MODE": "1",
        "CONFIDE_DATA_DIR": str(data_dir),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    }


def _seed(env: dict, slug: str) -> dict:
    seed = CANARIES | {"slug": slug, "practice_name": CONTROL_NAME, "user_email": f"control@{slug}.example.test"}
    out = _confide(["shell", "-c", SEED], env, {"CANARY_SEED": json.dumps(seed)})
    return json.loads(out.strip().splitlines()[-1])


def _assert_no_canary_in(haystack: bytes, where: str) -> None:
    assert CONTROL_NAME.encode() in haystack, f"control value not found in {where}: the search proves nothing"
    found = [label for label, needle in _needles().items() if needle in haystack]
    assert not found, f"canary {', '.join(found)} found in clear in {where}"
    assert haystack.count(b"cv1:s:") >= ENCRYPTED_FIELDS_WRITTEN, f"the patient's ciphertexts are not in {where}"


def test_sec1_a_canary_patient_created_through_the_services_appears_nowhere_in_the_sqlite_database_file(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite pass runs this")
    env = _env(tmp_path)
    for key in ("DATABASE_URL", "DATABASE_MIGRATE_URL"):
        env.pop(key, None)
    _confide(["migrate", "--noinput", "-v", "0"], env)
    _seed(env, "canary-at-rest")

    database = tmp_path / "confide.sqlite3"
    assert database.exists()
    db_bytes = b"".join(p.read_bytes() for p in (database, tmp_path / "confide.sqlite3-wal", tmp_path / "confide.sqlite3-shm") if p.exists())
    _assert_no_canary_in(db_bytes, "the SQLite database (-wal, -shm)")
    # Nor anywhere else the app keeps data: keyring, tombstones.
    everything = b"".join(p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file())
    leaked = [label for label, needle in _needles().items() if needle in everything]
    assert not leaked, f"canary {', '.join(leaked)} found in clear under the data directory"


def test_sec1_a_canary_patient_created_through_the_services_appears_nowhere_in_a_postgresql_dump(
    tmp_path, django_db_setup
):
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL pass runs this")
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = _env(tmp_path)
    # Committed rows in the shared CI database, under a practice slug no other test uses, deleted
    # again below (.ci/run drops the whole database at the end anyway). Seeded as the application
    # role, so row-level security applies as it does in the app.
    slug = f"canary-at-rest-{uuid.uuid4().hex[:12]}"
    seeded = _seed(env, slug)
    try:
        # As the superuser: the owner is bound by FORCE ROW LEVEL SECURITY, which would hide the
        # rows (or make pg_dump refuse); a superuser sees every row, as a backup would.
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", "--no-password", "-h", db["HOST"] or "127.0.0.1",
             "-p", str(db["PORT"] or 5432), "-U", "postgres", "-d", db["NAME"]],
            env=env, capture_output=True, timeout=180, check=False,
        )
        assert dump.returncode == 0, dump.stderr.decode(errors="replace")
        assert slug.encode() in dump.stdout
        _assert_no_canary_in(dump.stdout, f"pg_dump of {db['NAME']}")
    finally:
        _drop_policy_versions(env, db, seeded["practice_id"])
        _confide(["shell", "-c", CLEANUP], env, {"CANARY_SEEDED": json.dumps(seeded)})


def _drop_policy_versions(env: dict, db: dict, practice_id: str) -> None:
    """Policy versions are immutable for every role, the owner included (policy migration
    0003). Removing a throwaway practice is the one time a DBA would switch the triggers off:
    as the superuser, in one transaction, with session_replication_role = replica."""
    practice = str(uuid.UUID(practice_id))  # a UUID, so it is safe inside the SQL text
    sql = (
        "BEGIN; SET LOCAL session_replication_role = replica; "
        f"DELETE FROM policy_noticeacknowledgement WHERE practice_id = '{practice}'; "
        f"DELETE FROM policy_noticedelivery WHERE practice_id = '{practice}'; "
        f"DELETE FROM policy_policyversion WHERE practice_id = '{practice}'; COMMIT;"
    )
    result = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", "-h", db["HOST"] or "127.0.0.1",
         "-p", str(db["PORT"] or 5432), "-U", "postgres", "-d", db["NAME"], "-c", sql],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
