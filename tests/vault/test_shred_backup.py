"""SEC2/RTS4: a database backup taken before a shred, restored after it, cannot decrypt the patient.

Real files, real processes: seed two patients in a file SQLite database, copy the database file
(the backup), shred one patient with `confide keys shred`, put the backup file back, and read.
"""

import json
import shutil

import pytest
from django.db import connection

from tests.vault.test_canary_at_rest import _confide, _env

SEED = """
import datetime, json
from django.db import connection, transaction
from confide.accounts.models import Membership, User
from confide.core.actors import StaffActor
from confide.core.models import Practice
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.services import do_create_patient

with transaction.atomic():
    practice = Practice.objects.create(slug="backup-test", name="Backup Test")
    user = User.objects.create_user("clinician@backup.example.test", None, display_name="C")
    with tenant_context(practice_id=practice.id, user_id=user.id):
        actor = StaffActor.from_membership(Membership.objects.create(user=user, practice=practice, role=Role.CLINICIAN))
        gone = do_create_patient(actor=actor, given_name="Gone", family_name="Patient", email="gone@example.test")
        kept = do_create_patient(actor=actor, given_name="Kept", family_name="Patient", email="kept@example.test")
with connection.cursor() as cursor:
    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(json.dumps({"gone": str(gone.id), "kept": str(kept.id)}))
"""

READ = """
import json, os
from confide.core.models import Practice
from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from confide.vault.allowance import allow

practice = Practice.objects.get(slug="backup-test")
with tenant_context(practice_id=practice.id), allow({"contact.email"}):
    print(json.dumps({str(p.id): str(p.email) for p in Patient.objects.all()}))
"""


@pytest.mark.skipif(connection.vendor != "sqlite", reason="file-level backup of the SQLite database; the PostgreSQL pass runs test_shred.py's key-row restore")
def test_sec2_a_backup_from_before_the_shred_restored_after_it_cannot_decrypt_the_patient(tmp_path):
    env = _env(tmp_path)
    _confide(["migrate", "--noinput", "-v", "0"], env)
    ids = json.loads(_confide(["shell", "-c", SEED], env).strip().splitlines()[-1])
    database = tmp_path / "confide.sqlite3"
    backup = tmp_path / "backup.sqlite3"
    shutil.copy2(database, backup)
    before = json.loads(_confide(["shell", "-c", READ], env).strip().splitlines()[-1])
    assert before == {ids["gone"]: "gone@example.test", ids["kept"]: "kept@example.test"}

    _confide(["keys", "shred", "--patient", ids["gone"], "--yes"], env)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"confide.sqlite3{suffix}").unlink(missing_ok=True)
    shutil.copy2(backup, database)  # restore the pre-shred backup over the live database

    after = json.loads(_confide(["shell", "-c", READ], env).strip().splitlines()[-1])
    assert after == {ids["gone"]: "[erased]", ids["kept"]: "kept@example.test"}
