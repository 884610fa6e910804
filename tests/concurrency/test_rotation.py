"""Issue 11 items 5 and 6: `confide keys rotate-kek` run by several processes at once, for
several practices sharing one data directory (one local keyring), and a rotation killed half-way.

Each rotation is a real process running the command line's own entry point
(`execute_from_command_line`, as `confide` does); they are started, left to finish importing, and
released together. Afterwards the scenario reads the keyring file and every patient's record
again with a fresh key manager, as a new process would: whatever any process was told, every
practice's keys must be in the keyring and every value must still decrypt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.concurrency.harness import REPO, new_world, run_scenario

PRACTICES = 3
PROCESSES_PER_PRACTICE = 3

# A `confide keys …` process that waits, after start-up, for one byte on stdin before it runs.
CONFIDE_AFTER_SIGNAL = """
import sys
import django
django.setup()
sys.stdin.read(1)
from django.core.management import execute_from_command_line
execute_from_command_line(["confide", *sys.argv[1:]])
"""


def _patients(world, n: int) -> dict[str, dict]:
    """n patients of the practice, with values in several encrypted fields; {id: values}."""
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.services import do_create_patient

    clinician = StaffActor.from_membership(world.memberships[Role.CLINICIAN])
    made = {}
    with tenant_context(practice_id=world.practice.id):
        for k in range(n):
            values = {"given_name": f"Given{k}", "family_name": world.practice.slug, "email": f"p{k}@{world.practice.slug}.example.test"}
            made[str(do_create_patient(actor=clinician, **values).id)] = values
    return made


def _read_back(world, expected: dict[str, dict]) -> dict[str, object]:
    """Each patient's values read again from the database through a fresh key manager (the
    keyring file as a new process would find it); a value that does not open is reported."""
    import uuid

    from confide.core.tenancy import tenant_context
    from confide.records.models import Patient
    from confide.records.services import CHART
    from confide.vault import kms
    from confide.vault.allowance import allow

    kms.reset_key_manager()  # forget KEKs this process has cached
    out = {}
    with tenant_context(practice_id=world.practice.id), allow(CHART):
        for patient_id, values in expected.items():
            try:
                patient = Patient.objects.get(id=uuid.UUID(patient_id))
                out[patient_id] = {name: getattr(patient, name) for name in values}
            except Exception as exc:  # noqa: BLE001 — reported to the parent, which fails the test
                out[patient_id] = f"{type(exc).__name__}: {exc}"
    return out


def _keyring_state(worlds) -> dict:
    """The keyring as JSON (or why it is not), and per practice: the KEK the database names and
    every KEK the keyring holds for it."""
    from django.conf import settings

    from confide.core.tenancy import tenant_context
    from confide.vault.models import PracticeKey

    path = settings.DATA_DIR / "keyring" / "keyring.json"
    try:
        keks = json.loads(path.read_text())["keks"]
    except (OSError, ValueError, KeyError) as exc:
        return {"valid": False, "problem": f"{type(exc).__name__}: {exc}"}
    practices = {}
    for world in worlds:
        with tenant_context(practice_id=world.practice.id):
            current = PracticeKey.objects.get(practice_id=world.practice.id).kek_id
        labelled = sorted(kek_id for kek_id, entry in keks.items() if entry.get("label") == str(world.practice.id))
        practices[world.practice.slug] = {"current": current, "in_keyring": labelled}
    return {"valid": True, "practices": practices}


def _rotations_recorded(world) -> int:
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry

    return AuditEntry.objects.filter(chain=str(world.practice.id), event=AuditEvent.KEK_ROTATED).count()


def _chain_problems(world) -> list[str]:
    from confide.audit.models import ChainHead
    from confide.audit.verify import stream_rows, verify_chain

    from confide.audit.chain import seal

    chain = str(world.practice.id)
    seal(chain)  # as `confide audit verify` does first
    head = ChainHead.objects.filter(chain=chain).values_list("seq", "hash").first()
    return [str(problem) for problem in verify_chain(chain, stream_rows(chain), head=head).problems]


# --- many rotations at once -------------------------------------------------------------------------
def scenario_concurrent_kek_rotations(params):
    worlds = [new_world(f"kek{n}") for n in range(params["practices"])]
    expected = {world.practice.slug: _patients(world, 3) for world in worlds}
    processes = []
    for world in worlds:
        for _ in range(params["per_practice"]):
            processes.append((world.practice.slug, subprocess.Popen(
                [sys.executable, "-c", CONFIDE_AFTER_SIGNAL, "keys", "rotate-kek", "--practice", world.practice.slug],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
            )))  # fmt: skip
    time.sleep(2)  # let every process finish importing Django, so the signal releases them together
    for _, process in processes:
        process.stdin.write("go")
        process.stdin.flush()
    runs = []
    for slug, process in processes:
        out, err = process.communicate(timeout=240)
        runs.append({"practice": slug, "exit": process.returncode, "stdout": out[-1500:], "stderr": err[-3000:]})
    return {
        "runs": runs,
        "keyring": _keyring_state(worlds),
        "expected": expected,
        "read_back": {world.practice.slug: _read_back(world, expected[world.practice.slug]) for world in worlds},
        "rotations_recorded": {world.practice.slug: _rotations_recorded(world) for world in worlds},
        "chain_problems": {world.practice.slug: _chain_problems(world) for world in worlds},
    }


def test_concurrent_kek_rotations_of_several_practices_lose_no_key(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_concurrent_kek_rotations, practices=PRACTICES, per_practice=PROCESSES_PER_PRACTICE)
    runs = result["runs"]
    assert len(runs) == PRACTICES * PROCESSES_PER_PRACTICE
    for run in runs:  # each one succeeded, or was refused with a message (never a traceback)
        assert run["exit"] in (0, 1) and "Traceback" not in run["stderr"], run
        if run["exit"] == 0:
            assert "KEK rotated" in run["stdout"] and "destroyed" in run["stdout"], run
        else:
            assert run["stderr"].startswith("CommandError: ") or "Error:" in run["stderr"], run
    succeeded = {slug: sum(1 for r in runs if r["practice"] == slug and r["exit"] == 0) for slug in result["expected"]}
    assert all(count >= 1 for count in succeeded.values()), runs
    assert result["rotations_recorded"] == succeeded  # one audit entry per rotation that said it rotated
    assert result["chain_problems"] == {slug: [] for slug in result["expected"]}
    keyring = result["keyring"]
    assert keyring["valid"], keyring
    for slug, state in keyring["practices"].items():
        # the KEK the database names is in the keyring, and it is the practice's only one:
        # every superseded KEK was destroyed, no KEK made by a losing process was left behind
        assert state["in_keyring"] == [state["current"]], (slug, state, runs)
    assert result["read_back"] == result["expected"]


# --- a rotation killed half-way -----------------------------------------------------------------------
def scenario_killed_kek_rotation(params):
    from django.conf import settings

    from confide.vault import rotation

    world = new_world("kekkill")
    expected = _patients(world, 2)
    slug = world.practice.slug
    keyring = settings.DATA_DIR / "keyring" / "keyring.json"

    def keks_of_practice() -> list[str]:
        keks = json.loads(keyring.read_text())["keks"]
        return sorted(k for k, entry in keks.items() if entry.get("label") == str(world.practice.id))

    before = keks_of_practice()
    # The test pause (dev mode only) holds the rotation after it has made its new KEK and
    # before it has re-wrapped anything: the kill lands exactly there.
    with subprocess.Popen(
        [sys.executable, "-m", "confide.cli", "keys", "rotate-kek", "--practice", slug],
        env=os.environ | {rotation.PAUSE_ENV: "60"}, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:
        try:
            deadline = time.monotonic() + 120
            while len(keks_of_practice()) < 2:
                if process.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            made_while_running = keks_of_practice()
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
    killed = process.returncode == -signal.SIGKILL

    def confide(*args: str) -> dict:
        run = subprocess.run([sys.executable, "-m", "confide.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=180)
        return {"exit": run.returncode, "stdout": run.stdout, "stderr": run.stderr}

    status = confide("keys", "status")
    after_kill = keks_of_practice()
    data_after_kill = _read_back(world, expected)
    rerun = confide("keys", "rotate-kek", "--practice", slug)
    return {
        "killed": killed,
        "before": before,
        "made_while_running": made_while_running,
        "after_kill": after_kill,
        "status": status,
        "rerun": rerun,
        "keyring": _keyring_state([world]),
        "expected": expected,
        "data_after_kill": data_after_kill,
        "read_back": _read_back(world, expected),
        "slug": slug,
    }


def test_a_kek_rotation_killed_half_way_leaves_no_orphaned_kek_after_the_next_one(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_killed_kek_rotation)
    assert result["killed"] and len(result["before"]) == 1
    orphan = sorted(set(result["made_while_running"]) - set(result["before"]))
    assert len(orphan) == 1, result  # the killed process had made its new KEK
    assert result["after_kill"] == result["before"] + orphan or result["after_kill"] == sorted(result["before"] + orphan)
    assert result["data_after_kill"] == result["expected"]  # nothing it did was committed
    # `keys status` finds the KEK nothing uses and says what will happen to it
    status = result["status"]
    assert status["exit"] == 0, status
    section = status["stdout"].split(f"practice {result['slug']} (")[1].split("\npractice ")[0]
    assert f"unused KEKs: 1 ({orphan[0]})" in section, section
    assert "the next rotate-kek removes" in section
    # the next rotation removes it, says so, and rotates
    rerun = result["rerun"]
    assert rerun["exit"] == 0, rerun
    assert f"removed unused KEK {orphan[0]}" in rerun["stdout"] and "KEK rotated" in rerun["stdout"], rerun
    state = result["keyring"]["practices"][result["slug"]]
    assert state["in_keyring"] == [state["current"]] and state["current"] not in result["before"] + orphan
    assert result["read_back"] == result["expected"]
