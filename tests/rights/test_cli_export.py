"""`confide rights export` (rights/management/commands/rights.py): the ZIP written with mode 0600;
bad input is one line, exit status 2, and nothing written."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context

PHI = ("Canary", "canary")


def rights_cli(*args) -> str:
    out = io.StringIO()
    call_command("rights", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_rts2_cli_export_writes_the_zip(world, make_patient, tmp_path):
    patient = make_patient()
    out_file = tmp_path / "copy.zip"
    out = rights_cli("export", "--patient", str(patient.id), "--out", str(out_file), "--practice", world.a.practice.slug)
    assert out.startswith(f"patient {patient.id} -> {out_file} (")
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    with zipfile.ZipFile(out_file) as zf:
        assert {"data.json", "fhir/bundle.json", "summary.pdf", "consents.json", "disclosures.json"} <= set(zf.namelist())
        assert json.loads(zf.read("data.json"))["sections"]["records.Patient"][0]["id"] == str(patient.id)
    assert not [value for value in (patient.id.hex,) if value in out]
    with tenant_context(practice_id=world.a.practice.id):
        entry = AuditEntry.objects.get(event="rights:export:made", subject_id=patient.id)
    assert entry.detail["output"] == "file"
    assert not list(tmp_path.glob(".confide-rights-export-*"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--patient", "Temitope"], "--patient must be a patient id"),
        (["--patient", "00000000-0000-4000-8000-000000000000"], "no patient with id 00000000-0000-4000-8000-000000000000"),
        (["--practice", "nope"], "no practice with slug 'nope'"),
        (["--practice", "b"], "no patient with id"),
    ],
)
def test_rts2_cli_export_bad_input_exits_2_and_writes_nothing(world, make_patient, tmp_path, args, message):
    patient = make_patient()
    out_file = tmp_path / "copy.zip"
    full = ["export", "--out", str(out_file), *(args if "--patient" in args else ["--patient", str(patient.id), *args])]
    with pytest.raises(CommandError, match=message) as error:
        rights_cli(*full)
    assert error.value.returncode == 2
    assert not out_file.exists() and not list(tmp_path.iterdir())


def test_rts2_cli_export_to_an_unwritable_path_exits_2(world, make_patient, tmp_path):
    patient = make_patient()
    for target in (tmp_path / "missing-dir" / "copy.zip", tmp_path):
        with pytest.raises(CommandError, match="cannot write") as error:
            rights_cli("export", "--patient", str(patient.id), "--out", str(target))
        assert error.value.returncode == 2
    assert not list(tmp_path.iterdir())


def test_rts2_the_confide_command_exits_2_on_bad_input(tmp_path):
    """The real entry point: the status an operator's script sees."""
    done = subprocess.run([sys.executable, "-m", "django", "rights", "export", "--patient", "nope", "--out", str(tmp_path / "x.zip")],
                          capture_output=True, text=True, env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "tests.settings"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "must be a patient id" in done.stderr
    assert not (tmp_path / "x.zip").exists()
