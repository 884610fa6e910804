"""`confide fhir import|export` (records/management/commands/fhir.py), through call_command: one
line per file, the other files still imported after a bad one, exit status non-zero, counts by
type at the end, and never a name or any other value from a record."""

from __future__ import annotations

import io
import json
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from confide.core.tenancy import tenant_context
from confide.records.models import Patient
from tests.records.fhir_bundles import as_bytes, need_synthea, small_bundle

# Values from inside the small bundle that must not be printed.
PHI = ("Temitope", "Oyelaran", "Temi", "1988-04-17", "+1 415 555 0177", "temi.o@example.test", "MRN-7781", "DL-FAKE-4411", "Larch")


def fhir_cli(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("fhir", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_prints_a_line_per_file_and_counts_and_a_bad_file_fails_the_run_but_not_the_others(world, tmp_path):
    (tmp_path / "a-good.json").write_bytes(as_bytes(small_bundle()))
    (tmp_path / "b-broken.json").write_bytes(b"{not json")
    (tmp_path / "c-notes.txt").write_text("not a bundle, and not .json: not read")
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("fhir", "import", str(tmp_path), "--practice", "a", stdout=out, stderr=io.StringIO())
    assert str(failed.value) == "1 of 2 files were not imported (see the ERROR lines)"
    with tenant_context(practice_id=world.a.practice.id):
        [patient] = Patient.objects.all()
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{tmp_path / 'a-good.json'} -> patient {patient.id} (new)"
    assert lines[1] == f"{tmp_path / 'b-broken.json'}: ERROR not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"
    assert lines[2] == "bundles: 1 imported (1 new patients, 0 updated, 0 unchanged), 1 refused"
    rows = {line.split()[0]: line.split()[1:] for line in lines[4:-1]}
    assert rows["Observation"] == ["3"] and rows["Claim"] == ["1"] and rows["total"] == ["11", "1"]
    assert "Patient.identifier[DL] 1" in lines[-1]
    assert not [value for value in PHI if value in out.getvalue()]


def test_a_second_run_reports_every_patient_unchanged(world, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_bytes(as_bytes(small_bundle()))
    fhir_cli("import", str(path), "--practice", "a")
    out, _ = fhir_cli("import", str(path), "--practice", "a", "--no-progress")
    assert out.splitlines()[0].endswith("(unchanged)")
    assert "bundles: 1 imported (0 new patients, 0 updated, 1 unchanged), 0 refused" in out


def test_a_source_change_to_an_item_changed_here_is_reported_as_kept(world, tmp_path):
    from tests.records.fhir_bundles import resource_of, variant
    from tests.records.test_fhir_import import _mark, chart

    path = tmp_path / "bundle.json"
    path.write_bytes(as_bytes(small_bundle()))
    fhir_cli("import", str(path), "--practice", "a")
    with tenant_context(practice_id=world.a.practice.id):
        patient_id = Patient.objects.get().id
    [condition] = chart(world, patient_id, "conditions")["conditions"]
    _mark(world, patient_id, "conditions", condition["id"], "entered-in-error")

    def resolve(bundle):
        resource_of(bundle, "cond-1")["clinicalStatus"]["coding"][0]["code"] = "resolved"

    path.write_bytes(as_bytes(variant(resolve)))
    out, _ = fhir_cli("import", str(path), "--practice", "a", "--no-progress")
    assert out.splitlines()[0].endswith("(unchanged)")
    assert "items kept as changed in Confide (the source sent a different version; not applied): 1" in out


def test_an_unknown_practice_is_an_error(world, tmp_path):
    with pytest.raises(CommandError, match="no practice with slug 'nope'"):
        fhir_cli("import", str(tmp_path), "--practice", "nope")


def test_export_writes_the_file_and_refuses_psychotherapy_notes(world, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_bytes(as_bytes(small_bundle()))
    fhir_cli("import", str(path), "--practice", "a")
    with tenant_context(practice_id=world.a.practice.id):
        patient_id = Patient.objects.get().id
    out_file = tmp_path / "out.json"
    out, _ = fhir_cli("export", "--patient", str(patient_id), "--out", str(out_file))
    assert out.startswith(f"patient {patient_id} -> {out_file} (11 resources: AllergyIntolerance 1, Condition 1, Encounter 1")
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert json.loads(out_file.read_text())["type"] == "collection"
    assert not [value for value in PHI if value in out]

    refused = tmp_path / "refused.json"
    with pytest.raises(CommandError) as error:
        fhir_cli("export", "--patient", str(patient_id), "--out", str(refused), "--include-psychotherapy-notes")
    assert str(error.value) == (
        "refused: psychotherapy notes are not exported without the patient's specific authorization, recorded in the "
        "consent ledger (confide consent record --topic psychotherapy_notes_disclosure)"
    )
    assert not refused.exists()


def test_export_of_an_unknown_patient_is_an_error(world, tmp_path):
    with pytest.raises(CommandError, match="no patient with id 00000000-0000-4000-8000-000000000000"):
        fhir_cli("export", "--patient", "00000000-0000-4000-8000-000000000000", "--out", str(tmp_path / "x.json"))
    with pytest.raises(CommandError, match="must be a patient id"):
        fhir_cli("export", "--patient", "Temitope", "--out", str(tmp_path / "x.json"))


@pytest.mark.synthea
def test_the_synthea_folder_imports_with_no_name_from_inside_a_bundle_printed(world, tmp_path):
    files = need_synthea()
    # Neutral copies: Synthea's file names are the patients' names, and the path is echoed.
    names = set()
    for n, path in enumerate(files[:5]):
        bundle = json.loads(path.read_bytes())
        person = bundle["entry"][0]["resource"]
        names |= {person["name"][0]["family"], *person["name"][0]["given"]}
        (tmp_path / f"bundle-{n}.json").write_bytes(path.read_bytes())
    out, _ = fhir_cli("import", str(tmp_path), "--practice", "a", "--no-progress")
    assert "bundles: 5 imported (5 new patients, 0 updated, 0 unchanged), 0 refused" in out
    assert not [name for name in names if name in out]


def test_sec3_deeply_nested_json_is_an_error_line_naming_the_limit_not_an_internal_error(world, tmp_path):
    (tmp_path / "deep.json").write_bytes(b'{"resourceType": "Bundle", "type": "collection", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("fhir", "import", str(tmp_path), "--practice", "a", stdout=out, stderr=io.StringIO())
    assert out.getvalue().splitlines()[0] == f"{tmp_path / 'deep.json'}: ERROR not valid here: JSON nested deeper than the limit of 64 levels (line 1)"
