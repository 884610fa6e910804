"""The patient's copy (issue 17, part "export"; confide/rights/export.py) for a heavy patient, on SQLite:

    .venv/bin/python bench/export.py            # 10,000 messages, 1,000 signed notes, 200 documents of 256 KiB (~2 min)
    .venv/bin/python bench/export.py --quick    # 1,000 / 100 / 20

Seeding takes the fastest honest path: the first message, note and every document through their
services (so the thread, the chart's tabs and the encrypted files are real), the other messages and
notes inserted in bulk inside one writing opening of the chart door each (the same sealing under
the patient's key, the same tables; no per-row audit entry, which is not what is measured here).

Then `write_export_zip` into a temporary file, as the task does, and prints:

* wall time; throughput in MB/s of decrypted content (the ZIP's members uncompressed: JSON,
  FHIR, PDF and the files' plaintext) and of the files' plaintext alone;
* peak memory: tracemalloc's peak during the export (Python allocations) and the process's
  ru_maxrss before and after (the C libraries' too: SQLite, Tink, WeasyPrint).

No figure is asserted: these go in notes, not tests (tests/rights/test_export.py asserts flat memory).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chart import setup_django  # noqa: E402

# bench/fhir.py would shadow the fhir.resources package the export validates with.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.modules.pop("fhir", None)

DOC_BYTES = 256 * 1024


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def seed(messages: int, notes: int, documents: int):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from confide.access.door import MESSAGING_INBOUND_JOB, open_chart
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.purposes import Purpose
    from confide.core.tenancy import tenant_context
    from confide.messaging.models import Message
    from confide.messaging.services import send_message
    from confide.records import notes as notes_service
    from confide.records.files import do_add_file
    from confide.records.models import NoteStatus, ProgressNote
    from tests.conftest import _build_practice
    from tests.portal_world import create_patient

    pw = _build_practice(f"bench-export-{uuid.uuid4().hex[:6]}", False)
    patient = create_patient(pw, given_name="Heavy", family_name="Patient", email="heavy@bench.test")
    desk = StaffActor.from_membership(pw.memberships[Role.FRONT_DESK])
    clinician = StaffActor.from_membership(pw.memberships[Role.CLINICIAN])
    practice_id = pw.practice.id
    with tenant_context(practice_id=practice_id):
        first = send_message(desk, patient_id=patient.id, channel="portal", topic="staff_reply", body="Your forms are ready.")
        first = Message.objects.get(pk=first.pk)
        note = notes_service.do_create_note(actor=clinician, patient_id=patient.id, content={"subjective": "First visit."})
        notes_service.do_sign_note(actor=clinician, note_id=note.pk)
    job = MESSAGING_INBOUND_JOB.for_practice(practice_id)
    text = "Thank you, I will bring the signed forms on Tuesday. " * 4
    with tenant_context(practice_id=practice_id):
        with open_chart(job, patient.id, Purpose.TREATMENT, categories=job.categories, for_update=True):
            batch = []
            for i in range(messages - 1):
                batch.append(Message(practice_id=practice_id, thread_id=first.thread_id, patient_id=patient.id, direction=first.direction,
                                     channel=first.channel, kind=first.kind, topic=first.topic, status=first.status,
                                     body=f"{text}({i})", carried=first.carried))  # fmt: skip
                if len(batch) == 1000:
                    Message.objects.bulk_create(batch)
                    batch = []
            Message.objects.bulk_create(batch)
        now = timezone.now()
        with open_chart(clinician, patient.id, Purpose.TREATMENT, categories={"health.notes"}, for_update=True):
            rows = [
                ProgressNote(practice_id=practice_id, patient_id=patient.id, author_id=clinician.user_id, status=NoteStatus.SIGNED, signed_at=now,
                             content={"subjective": f"Follow-up {i}: sleeping better.", "objective": "Calm, engaged.",
                                      "assessment": "Improving.", "plan": "Continue weekly sessions."})  # fmt: skip
                for i in range(notes - 1)
            ]
            ProgressNote.objects.bulk_create(rows, batch_size=500)
        for i in range(documents):
            body = b"%PDF-1.4\n" + os.urandom(DOC_BYTES - 16) + b"\n%%EOF\n"
            do_add_file(actor=clinician, patient_id=patient.id, kind="document",
                        upload=SimpleUploadedFile(f"d{i}.pdf", body, content_type="application/pdf"), title=f"Letter {i}")  # fmt: skip
    return practice_id, patient.id


def run(messages: int, notes: int, documents: int) -> None:
    data_dir = tempfile.mkdtemp(prefix="confide-bench-export-")
    try:
        setup_django("sqlite", data_dir)
        from confide.rights.export import write_export_zip

        started = time.perf_counter()
        practice_id, patient_id = seed(messages, notes, documents)
        print(f"seeded {messages} messages, {notes} notes, {documents} documents of {DOC_BYTES // 1024} KiB in {time.perf_counter() - started:.1f} s")
        rss_before = _rss_mib()
        with tempfile.TemporaryFile(dir=data_dir) as out:  # timed alone: tracemalloc slows Python several times
            started = time.perf_counter()
            counts = write_export_zip(out, practice_id=practice_id, patient_id=patient_id)
            elapsed = time.perf_counter() - started
            size = out.tell()
            out.seek(0)
            with zipfile.ZipFile(out) as zf:
                content = sum(info.file_size for info in zf.infolist())
        rss_after = _rss_mib()
        with tempfile.TemporaryFile(dir=data_dir) as out:  # then again, for the peak of Python's allocations
            tracemalloc.start()
            write_export_zip(out, practice_id=practice_id, patient_id=patient_id)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        mb = 1_000_000
        print(f"export: {elapsed:.1f} s; ZIP {size / mb:.1f} MB; decrypted content {content / mb:.1f} MB "
              f"({counts.files} files, {counts.file_bytes / mb:.1f} MB of them)")  # fmt: skip
        print(f"throughput: {content / mb / elapsed:.1f} MB/s of decrypted content; files alone {counts.file_bytes / mb / elapsed:.1f} MB/s")
        print(f"peak memory: tracemalloc {peak / 2**20:.1f} MiB (second run); ru_maxrss {rss_before:.0f} MiB before, {rss_after:.0f} MiB after the export")
        print("sections: " + ", ".join(f"{label} {n}" for label, n in sorted(counts.sections.items()) if n))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 messages, 100 notes, 20 documents")
    args = parser.parse_args()
    if args.quick:
        run(1_000, 100, 20)
    else:
        run(10_000, 1_000, 200)


if __name__ == "__main__":
    main()
