"""`confide keys …` (site/management/commands/keys.py), in-process through call_command."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from confide.records.services import CHART, do_create_patient
from confide.vault import kms, tombstones
from confide.vault.allowance import allow
from confide.vault.models import PracticeKey, SubjectKey

ROOT = Path(__file__).resolve().parents[2]


def keys(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("keys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def patient_b(world):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role

    with tenant_context(practice_id=world.b.practice.id):
        actor = StaffActor.from_membership(world.b.memberships[Role.CLINICIAN])
        return do_create_patient(actor=actor, given_name="Bea", family_name="B", email="bea@example.test")


def _key_state(patient_id, practice_id) -> list:
    with tenant_context(practice_id=practice_id):
        return list(SubjectKey.objects.filter(subject_id=patient_id).values_list("version", "state"))


def test_status_reports_managers_kek_age_and_subject_states_but_no_key_material(make_patient, world, clock):
    kept, gone = make_patient(), make_patient()
    call_command("keys", "shred", "--patient", str(gone.id), "--yes", stdout=io.StringIO())
    clock.shift(10 * 86400)
    out, _ = keys("status")
    section_a = out.split("practice a (")[1].split("practice b (")[0]
    practice_key = PracticeKey.objects.get(practice_id=world.a.practice.id)
    assert "key manager: local" in section_a
    assert f"KEK: {practice_key.kek_id}" in section_a
    assert "KEK age: 10 days" in section_a and "last KEK rotation: never" in section_a
    assert "unused KEKs: none" in section_a
    assert "subjects: 2 (active 1, rotation in progress 0, all versions destroyed 1)" in section_a
    assert "shredded subjects (tombstoned): 1" in section_a
    assert "practice b (" in out and "no keys yet" in out.split("practice b (")[1]
    # Never key material: no wrapped key, no keyring keyset appears in any encoding.
    secrets = [bytes(practice_key.wrapped_data_keyset), bytes(practice_key.wrapped_index_key)]
    secrets += [bytes(row.wrapped_keyset) for row in SubjectKey.objects.exclude(wrapped_keyset=None)]
    keyring = json.loads(kms.key_manager().path.read_text())["keks"]
    texts = [entry["keyset"] for entry in keyring.values()]
    texts += [enc(s).decode() for s in secrets for enc in (base64.b64encode, base64.urlsafe_b64encode)] + [s.hex() for s in secrets]
    assert not [t for t in texts if t[:24] in out]


@pytest.mark.skipif(
    os.environ.get("CONFIDE_TEST_DATABASE") == "postgres", reason="transactional test: SQLite pass only (see tests/postgres_setup.py)"
)
def test_rotate_kek_by_slug(make_patient, world, transactional_db):
    """Committed for real (transactional_db), as on the command line: the old KEK goes on commit."""
    patient = make_patient(email="kek@example.test")
    old = PracticeKey.objects.get(practice_id=world.a.practice.id).kek_id
    out, err = keys("rotate-kek", "--practice", "a")
    new = PracticeKey.objects.get(practice_id=world.a.practice.id).kek_id
    assert new != old and f"KEK rotated {old} -> {new}" in out and "1 subject key versions re-wrapped" in out
    assert f"old KEK {old} destroyed" in out and err == ""
    with allow(CHART):
        assert Patient.objects.get(id=patient.id).email == "kek@example.test"


@pytest.mark.skipif(
    os.environ.get("CONFIDE_TEST_DATABASE") == "postgres", reason="transactional test: SQLite pass only (see tests/postgres_setup.py)"
)
def test_status_lists_an_unused_kek_and_rotate_kek_removes_it_and_says_so(make_patient, world, transactional_db):
    """Committed for real, as on the command line: unused KEKs go once the re-wraps commit.
    (Both databases, from real processes: tests/concurrency/test_rotation.py.)"""
    make_patient(email="kek@example.test")
    orphan = kms.key_manager().create_kek(str(world.a.practice.id))  # a rotation killed before its re-wrap
    out, _ = keys("status")
    section_a = out.split("practice a (")[1].split("practice b (")[0]
    assert f"unused KEKs: 1 ({orphan}): made by a rotation that did not finish, or by one running now" in section_a
    out, _ = keys("rotate-kek", "--practice", "a")
    assert f"removed unused KEK {orphan} (left by a rotation that did not finish; it wrapped no key)" in out
    assert orphan not in json.loads(kms.key_manager().path.read_text())["keks"]


def test_rotate_kek_of_an_unknown_practice_is_refused(make_patient, world):
    make_patient()
    before = PracticeKey.objects.get(practice_id=world.a.practice.id).kek_id
    with pytest.raises(CommandError, match="no practice with slug 'nope'"):
        keys("rotate-kek", "--practice", "nope")
    assert PracticeKey.objects.get(practice_id=world.a.practice.id).kek_id == before


def test_rotate_subject_finds_the_patients_practice(make_patient, patient_b, world):
    make_patient()  # practice A comes first and does not hold the patient
    out, _ = keys("rotate-subject", "--patient", str(patient_b.id), "--batch-size", "2")
    assert f"patient {patient_b.id} (b): now on key v2;" in out and "destroyed versions: v1" in out
    assert _key_state(patient_b.id, world.b.practice.id) == [(1, "destroyed"), (2, "active")]
    with tenant_context(practice_id=world.b.practice.id), allow(CHART):
        assert Patient.objects.get(id=patient_b.id).email == "bea@example.test"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rotate-subject", "--patient", "not-a-uuid"], "--patient must be a UUID"),
        (["rotate-subject", "--patient", str(uuid.UUID(int=7))], "no patient with id 00000000-0000-0000-0000-000000000007 in any practice"),
        (["rotate-subject", "--patient", "{patient}", "--batch-size", "0"], "--batch-size must be at least 1"),
        (["shred", "--patient", "12345", "--yes"], "--patient must be a UUID"),
        (["shred", "--patient", str(uuid.UUID(int=7)), "--yes"], "no patient with id"),
        (["shred", "--patient", "{patient}"], "irreversible"),
    ],
)
def test_refusals_are_specific_and_change_nothing(make_patient, world, args, message):
    patient = make_patient()
    args = [a.replace("{patient}", str(patient.id)) for a in args]
    with pytest.raises(CommandError, match=re.escape(message)):
        keys(*args)
    assert _key_state(patient.id, world.a.practice.id) == [(1, "active")]
    assert not tombstones.is_shredded(str(patient.id))


def test_shred_with_yes_erases_the_patient_once(make_patient, world):
    patient = make_patient(email="shred@example.test")
    out, _ = keys("shred", "--patient", str(patient.id), "--yes")
    assert f"patient {patient.id} (a) shredded: 1 key versions destroyed" in out
    assert tombstones.is_shredded(str(patient.id))
    assert _key_state(patient.id, world.a.practice.id) == [(1, "destroyed")]
    with pytest.raises(CommandError, match="already shredded"):
        keys("shred", "--patient", str(patient.id), "--yes")
    with pytest.raises(CommandError, match="SubjectErased"):
        keys("rotate-subject", "--patient", str(patient.id))


def test_the_command_line_exits_non_zero_on_refusal(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "confide.settings", "CONFIDE_DEV_MODE": "1",
        "CONFIDE_DATA_DIR": str(tmp_path),
    }
    run = subprocess.run(
        [sys.executable, "-m", "confide.cli", "keys", "shred", "--patient", "xyz", "--yes"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 1 and "--patient must be a UUID" in run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "confide.cli", "keys"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 2 and "status,rotate-kek,rotate-subject,shred" in run.stderr
