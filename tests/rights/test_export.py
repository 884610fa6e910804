"""The access / portable copy (RTS1, RTS2, RTS10): what the ZIP holds, psychotherapy notes, flat
memory, a killed run, the download's link (expiry, another patient's), the fee."""

from __future__ import annotations

import datetime
import io
import json
import os
import tracemalloc

import pytest
import time_machine
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from confide.audit.models import AuditEntry
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.rights import export as rexport
from confide.rights.models import Export, ExportStatus, Letter, LetterKind, RequestStatus, RightsRequest
from confide.vault.fields import encrypted_fields
from confide.vault.files import EncryptedStorage
from tests.rights.export_helpers import data_of, export_of, portal_copy_request, zip_of

pytestmark = pytest.mark.django_db(transaction=False)


def _run(request_row, **kwargs) -> Export:
    export = export_of(request_row)
    assert rexport.run_export(export.pk, request_row.practice_id, **kwargs) in ("ready", "failed")
    with tenant_context(practice_id=request_row.practice_id):
        return Export.objects.get(pk=export.pk)


def _zip_bytes(export: Export) -> bytes:
    from confide.access.door import RIGHTS_EXPORT_JOB, open_chart
    from confide.core.purposes import Purpose

    with open_chart(RIGHTS_EXPORT_JOB.for_practice(export.practice_id), export.patient_id, Purpose.PATIENT_REQUEST,
                    categories={rexport.STORED_CATEGORY}):  # fmt: skip
        with EncryptedStorage().open_decrypted(export.stored_name, practice_id=export.practice_id, subject_id=export.patient_id,
                                               category=rexport.STORED_CATEGORY) as f:  # fmt: skip
            return f.read()


# --- completeness ------------------------------------------------------------------------------------
def _everything_for_one_patient(world, staff):
    """One of every model the reachability map finds, for a single patient, made through the same
    makers the every-encrypted-field test uses (a new model without a maker fails there)."""
    import time_machine as tm

    from confide.messaging.models import OutboxEntry  # noqa: F401
    from tests.access import test_every_encrypted_field as every
    from tests.messaging.conftest import deliver_now, local_time, messaging_world, send

    mw = messaging_world(world.a)
    with tm.travel(local_time(11), tick=False):
        deliver_now(send(mw, body="See you at 3."))
    patient = mw.patient
    same = lambda where=None, **kw: patient  # noqa: E731
    skip = {apps.get_model("messaging", "OutboxEntry"), apps.get_model("rights", "RightsRequest")}  # made above / by the letter's maker
    for model in rexport.patient_models():
        if model in skip or rexport._is_own_subject(model):
            continue
        every.MAKERS[model](world, staff, same)
    return patient


def test_rts1_the_export_holds_every_category_held_for_the_patient(world, staff):
    from fhir.resources.R4B.bundle import Bundle

    patient = _everything_for_one_patient(world, staff)
    out = io.BytesIO()
    counts = rexport.write_export_zip(out, practice_id=world.a.practice.id, patient_id=patient.id)
    zf = zip_of(out.getvalue())
    names = set(zf.namelist())
    assert {"data.json", "fhir/bundle.json", "summary.pdf", "consents.json", "disclosures.json"} <= names
    data = data_of(zf)
    sections = data["sections"]
    # Driven by the reachability map: every model holding the patient's sealed data has its section,
    # with a row carrying every one of the model's categories (psychotherapy notes: excluded, said so).
    for model in rexport.patient_models():
        label = model._meta.label
        if rexport._is_psychotherapy(model):
            assert label in data["excluded"] and label not in sections
            continue
        assert label in sections, f"{label}: no section in data.json"
        if rexport._is_own_subject(model):
            continue  # sealed under its own key: listed only (see export.py)
        assert sections[label], f"{label}: the patient's row is missing from the export"
        held = {cat for row in sections[label] for cat, values in row["data"].items() if any(v not in (None, "", [], {}) for v in values.values())}
        assert held == {f.category for f in encrypted_fields(model)}, label
    # Files: one per file row, decrypted (a PNG / PDF signature), under files/.
    files = [n for n in names if n.startswith("files/")]
    assert len(files) == counts.files == sum(len(sections[label]) for label in rexport.FILE_MODELS if label in sections)
    for name in files:
        head = zf.read(name)[:8]
        assert head.startswith(b"\x89PNG") or head.startswith(b"%PDF"), name
    Bundle.model_validate(json.loads(zf.read("fhir/bundle.json")))
    consents = json.loads(zf.read("consents.json"))
    assert any(e["topic"] == "marketing_email" for e in consents)
    disclosures = json.loads(zf.read("disclosures.json"))
    assert disclosures and disclosures[0]["recipient"] == "Springfield Physical Therapy"
    assert zf.read("summary.pdf").startswith(b"%PDF")
    assert "health.psychotherapy_notes" not in counts.categories


def test_rts1_every_file_holding_model_is_exported_or_named_as_not_the_patients():
    with_files = {m._meta.label for m in apps.get_models() if any(f.name == "stored_name" for f in m._meta.concrete_fields)}
    assert with_files == set(rexport.FILE_MODELS) | set(rexport.NOT_PATIENT_FILES)


def test_rts1_own_subject_models_are_exactly_the_declared_data_subject_roots():
    roots = {m for m in apps.get_models() if getattr(m, "DATA_SUBJECT_ROOT", False) and encrypted_fields(m)}
    assert roots == {m for m in rexport.patient_models() if rexport._is_own_subject(m)}


# --- psychotherapy notes -------------------------------------------------------------------------------
def _signed_psychotherapy_note(world, staff, patient):
    from confide.records import notes

    clinician = staff(Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        note = notes.do_create_psychotherapy_note(actor=clinician, patient_id=patient.id, text="Session 3: CANARY-PSY")
        notes.do_sign_psychotherapy_note(actor=clinician, patient_id=patient.id, note_id=note.pk)
    return note


def test_rts1_psychotherapy_notes_are_left_out_without_authorization(world, staff, make_patient):
    patient = make_patient()
    _signed_psychotherapy_note(world, staff, patient)
    made, _ = portal_copy_request(patient)
    export = _run(made)
    assert export.status == ExportStatus.READY
    body = _zip_bytes(export)
    data = data_of(zip_of(body))
    assert "records.PsychotherapyNote" in data["excluded"]
    assert "records.PsychotherapyNote" not in data["sections"]
    assert b"CANARY-PSY" not in body and "CANARY-PSY" not in json.dumps(data)
    assert export.counts["psychotherapy_notes"] is False


def test_rts1_psychotherapy_notes_are_included_when_staff_recorded_the_authorization(world, staff, make_patient):
    patient = make_patient()
    note = _signed_psychotherapy_note(world, staff, patient)
    made, _ = portal_copy_request(patient)
    with tenant_context(practice_id=made.practice_id):
        RightsRequest.objects.filter(pk=made.pk).update(psychotherapy_authorized=True)
    export = _run(made)
    data = data_of(zip_of(_zip_bytes(export)))
    rows = data["sections"]["records.PsychotherapyNote"]
    assert [r["id"] for r in rows] == [str(note.pk)]
    assert rows[0]["data"]["health.psychotherapy_notes"]["content"] == "Session 3: CANARY-PSY"
    with tenant_context(practice_id=made.practice_id):
        entry = AuditEntry.objects.filter(event="rights:export:made", subject_id=patient.id).get()
    assert "health.psychotherapy_notes" in entry.categories and entry.detail["psychotherapy_notes"] is True


def test_rts1_the_release_door_refuses_the_export_job_for_another_request(world, staff, make_patient):
    from confide.access.door import RIGHTS_EXPORT_JOB, open_psychotherapy_notes_for_release
    from confide.access.errors import AccessRefused

    patient, other = make_patient(), make_patient(given_name="Other")
    _signed_psychotherapy_note(world, staff, patient)
    made, _ = portal_copy_request(other)
    with tenant_context(practice_id=made.practice_id):
        RightsRequest.objects.filter(pk=made.pk).update(psychotherapy_authorized=True)  # authorized for ANOTHER patient
    with pytest.raises(AccessRefused):
        with open_psychotherapy_notes_for_release(RIGHTS_EXPORT_JOB.for_practice(world.a.practice.id), patient.id, rights_request_id=made.pk):
            pass


# --- the run: ready, closed, letter; killed mid-way; flat memory ------------------------------------------
def test_rts2_a_portal_copy_request_queues_the_export_and_the_run_closes_the_request(world, staff, make_patient):
    patient = make_patient()
    made, _ = portal_copy_request(patient)
    export = export_of(made)
    assert export is not None and export.status == ExportStatus.QUEUED
    export = _run(made)
    assert export.status == ExportStatus.READY and export.stored_name and export.size > 0 and export.done == export.total > 0
    assert export.expires_at - export.finished_at == datetime.timedelta(days=rexport.DOWNLOAD_DAYS)
    with tenant_context(practice_id=made.practice_id):
        row = RightsRequest.objects.get(pk=made.pk)
        letter = Letter.objects.get(request_id=made.pk, kind=LetterKind.FULFILMENT)
        made_entries = AuditEntry.objects.filter(event="rights:export:made", subject_id=patient.id)
        assert made_entries.count() == 1
        entry = made_entries.get()
    assert row.status == RequestStatus.DONE and row.decided_at is not None
    assert letter.template == rexport.FULFILMENT_TEMPLATE and "expires_on" in letter.context
    assert str(export.pk) in [str(r) for r in entry.resource_ids] and entry.detail["sections"]["records.Patient"] == 1
    # A second run of the same export is skipped (claimed by a conditional update).
    assert rexport.run_export(export.pk, made.practice_id) == "skipped"


def test_rts2_a_see_request_queues_too_but_another_kind_does_not(world, staff, make_patient):
    made, _ = portal_copy_request(make_patient(), kind="see")
    assert export_of(made) is not None
    other, _ = portal_copy_request(make_patient(), email="other@export.test", kind="correct")
    assert export_of(other) is None
    with pytest.raises(InvalidInput):
        rexport.queue_export(request_row=other)


def test_rts2_an_export_killed_mid_way_leaves_nothing_downloadable_and_a_rerun_succeeds(world, staff, make_patient, monkeypatch):
    patient = make_patient()
    made, actor = portal_copy_request(patient)
    real = rexport._write_section
    calls = {"n": 0}

    def dies_on_the_third_section(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(rexport, "_write_section", dies_on_the_third_section)
    saved = []
    real_save = EncryptedStorage.save_encrypted
    monkeypatch.setattr(EncryptedStorage, "save_encrypted", lambda self, *a, **k: saved.append(real_save(self, *a, **k)) or saved[-1])
    export = _run(made)
    assert export.status == ExportStatus.FAILED and export.stored_name == "" and saved == []
    with pytest.raises(NotFound):
        rexport.open_download(actor=actor, export_id=export.pk)
    with tenant_context(practice_id=made.practice_id):
        assert RightsRequest.objects.get(pk=made.pk).status == RequestStatus.RECEIVED
        assert AuditEntry.objects.filter(event="rights:export:failed", subject_id=patient.id).count() == 1
    # A worker killed outright leaves it "running": a re-run claims it only once it is stale.
    with tenant_context(practice_id=made.practice_id):
        Export.objects.filter(pk=export.pk).update(status=ExportStatus.RUNNING, started_at=timezone.now())
    monkeypatch.setattr(rexport, "_write_section", real)
    assert rexport.run_export(export.pk, made.practice_id) == "skipped"
    with tenant_context(practice_id=made.practice_id):
        Export.objects.filter(pk=export.pk).update(started_at=timezone.now() - rexport.STALE_AFTER - datetime.timedelta(minutes=1))
    assert rexport.run_export(export.pk, made.practice_id) == "ready"
    download = rexport.open_download(actor=actor, export_id=export.pk)
    with download.stream:
        assert zip_of(download.stream.read()).testzip() is None


def test_rts2_memory_stays_flat_with_a_big_file(world, staff, make_patient, settings):
    from confide.records.files import do_add_file

    patient = make_patient()
    size = 40 * 1024 * 1024
    settings.CONFIDE_UPLOAD_MAX_BYTES = size + 1024
    body = b"%PDF-1.4\n" + os.urandom(size) + b"\n%%EOF\n"
    with tenant_context(practice_id=world.a.practice.id):
        do_add_file(actor=staff(Role.CLINICIAN), patient_id=patient.id, kind="document",
                    upload=SimpleUploadedFile("big.pdf", body, content_type="application/pdf"), title="Scan")  # fmt: skip
    del body
    import tempfile

    with tempfile.TemporaryFile() as tmp:
        tracemalloc.start()
        try:
            counts = rexport.write_export_zip(tmp, practice_id=world.a.practice.id, patient_id=patient.id)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert tmp.tell() > size
    assert counts.files == 1 and counts.file_bytes > size
    # The writer's working memory (a summary PDF's layout, chunks of 1 MiB), not the file's size.
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte file"


# --- the download -------------------------------------------------------------------------------------------
def test_rts2_the_download_is_audited_and_expires_after_seven_days(world, staff, make_patient):
    patient = make_patient()
    made, actor = portal_copy_request(patient)
    export = _run(made)
    download = rexport.open_download(actor=actor, export_id=export.pk)
    with download.stream:
        assert download.stream.read(4) == b"PK\x03\x04"
    assert download.filename.startswith("my-information-") and download.filename.endswith(".zip")
    with tenant_context(practice_id=made.practice_id):
        assert AuditEntry.objects.filter(event="rights:export:downloaded", subject_id=patient.id).count() == 1
        assert Export.objects.get(pk=export.pk).downloaded_at is not None
    with time_machine.travel(export.expires_at + datetime.timedelta(seconds=1), tick=False):
        with pytest.raises(rexport.ExportExpired):
            rexport.open_download(actor=actor, export_id=export.pk)


def test_rts2_another_patients_export_is_not_found(world, staff, make_patient):
    made, _ = portal_copy_request(make_patient())
    export = _run(made)
    _, other_actor = portal_copy_request(make_patient(given_name="Other"), email="other@export.test", kind="correct")
    with pytest.raises(NotFound):
        rexport.open_download(actor=other_actor, export_id=export.pk)
    with pytest.raises(NotFound):
        rexport.open_download(actor=other_actor, export_id="not-a-uuid")


# --- the fee (RTS10) ---------------------------------------------------------------------------------------------
def test_rts10_the_copy_fee_is_capped_and_stored_on_the_request(world, staff, make_patient):
    assert rexport.copy_fee_cents(world.a.practice.id) == 0
    with pytest.raises(InvalidInput):
        rexport.set_copy_fee(actor=staff(Role.PRIVACY_OFFICER), cents=651)
    with pytest.raises(Forbidden):
        rexport.set_copy_fee(actor=staff(Role.FRONT_DESK), cents=100)
    assert rexport.set_copy_fee(actor=staff(Role.PRIVACY_OFFICER), cents=650) == 650
    assert rexport.copy_fee_cents(world.a.practice.id) == 650
    assert rexport.copy_fee_cents(world.b.practice.id) == 0
    made, _ = portal_copy_request(make_patient())
    assert made.fee_cents == 650
    see, _ = portal_copy_request(make_patient(given_name="Sam"), email="see@export.test", kind="see")
    assert see.fee_cents == 0  # seeing the record is free
    assert rexport.parse_fee("6.50") == 650 and rexport.parse_fee("0") == 0
    for bad in ("6.51", "-1", "abc", "1.234", ""):
        with pytest.raises(InvalidInput):
            rexport.parse_fee(bad)


def test_rts2_the_clean_up_deletes_expired_copies_and_keeps_the_row(world, staff, make_patient):
    made, actor = portal_copy_request(make_patient())
    export = _run(made)
    name = export.stored_name
    assert rexport.delete_expired_exports() == 0  # not yet
    assert rexport.delete_expired_exports(now=export.expires_at + datetime.timedelta(seconds=1)) == 1
    assert not EncryptedStorage().exists(name)
    with tenant_context(practice_id=made.practice_id):
        row = Export.objects.get(pk=export.pk)
        assert AuditEntry.objects.filter(event="rights:export:deleted", subject_id=made.patient_id).count() == 1
    assert row.status == ExportStatus.EXPIRED and row.stored_name == "" and row.link_expired
    with pytest.raises(rexport.ExportExpired):
        rexport.open_download(actor=actor, export_id=export.pk)


def test_min3_a_parents_copy_leaves_out_what_the_minor_controls(world, staff, make_patient):
    from tests.access import test_every_encrypted_field as every

    patient = make_patient()
    every._file("document")(world, staff, lambda **kw: patient)
    withheld = frozenset({"health.documents", "health.encounters"})
    out = io.BytesIO()
    counts = rexport.write_export_zip(out, practice_id=world.a.practice.id, patient_id=patient.id, withheld=withheld)
    zf = zip_of(out.getvalue())
    data = data_of(zf)
    assert "records.Document" in data["excluded"] and "records.Document" not in data["sections"]
    assert not [n for n in zf.namelist() if n.startswith("files/document/")] and counts.files == 0
    assert "health.encounters" not in data["sections"]["records.Patient"][0]["data"]
    assert "identifiers.name" in data["sections"]["records.Patient"][0]["data"]
    assert not withheld & counts.categories
    # …and the run takes them from the declaration for a request made by a representative only.
    made, _ = portal_copy_request(patient)
    assert rexport._withheld(made) == frozenset()
