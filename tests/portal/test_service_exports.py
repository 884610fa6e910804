"""RTS2: "Download my record" — a FHIR bundle and a readable PDF made by a background task as the
patient, sealed, offered to the account that asked for a while, streamed, then deleted."""

from __future__ import annotations

import base64
import datetime
import json
from unittest import mock

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from confide.accounts.portal import SESSION_PORTAL_LINK
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.portal import exports
from confide.portal.models import RecordExport
from confide.vault.files import DecryptedFile, EncryptedStorage
from tests.portal.record_world import PSYCHOTHERAPY_NOTE, STAFF_NOTE, fill_record
from tests.portal_world import portal_sign_in


@pytest.fixture
def filled(world, portal):
    return fill_record(world.a, portal.adult.patient)


def _reload(export_id, practice_id) -> RecordExport:
    """The row as stored (in its practice's context: row security on PostgreSQL)."""
    with tenant_context(practice_id=practice_id):
        return RecordExport.objects.get(pk=export_id)


def _request(client, user, fmt: str, capture) -> RecordExport:
    from confide.accounts.portal import list_active_links

    portal_sign_in(client, user)
    practice_id = list_active_links(user)[0].practice_id
    with capture(execute=True):
        response = client.post(reverse("portal:record-export"), {"format": fmt})
    assert response.status_code == 302
    export_id = response["Location"].rstrip("/").split("/")[-1]
    assert response["Location"] == reverse("portal:record-export-status", kwargs={"export_id": export_id})
    return _reload(export_id, practice_id)


def _made(client, user, fmt, capture, run_tasks) -> RecordExport:
    export = _request(client, user, fmt, capture)
    assert (export.status, export.progress) == ("queued", 0)
    run_tasks()
    return _reload(export.pk, export.practice_id)


def _download(client, export) -> StreamingHttpResponse:
    return client.get(reverse("portal:record-export-file", kwargs={"export_id": export.pk}))


def _text_of(document) -> str:
    """The text WeasyPrint laid out, page by page (no pdftotext on this machine)."""
    parts = []

    def walk(box):
        if getattr(box, "text", None):
            parts.append(box.text)
        for child in getattr(box, "children", []) or []:
            walk(child)

    for page in document.pages:
        walk(page._page_box)
    return " ".join(parts)


def test_rts2_the_pdf_is_made_in_the_background_and_its_progress_reaches_100(client, portal, filled, run_tasks, django_capture_on_commit_callbacks):
    documents = []
    real = exports.render_document

    def spy(*args, **kwargs):
        documents.append(real(*args, **kwargs))
        return documents[-1]

    with mock.patch.object(exports, "render_document", spy):
        export = _made(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks, run_tasks)
    assert (export.status, export.progress) == ("done", 100)
    assert export.expires_at == export.updated_at + datetime.timedelta(minutes=15) or export.expires_at > timezone.now()
    response = _download(client, export)
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="my-record-{timezone.localdate().isoformat()}.pdf"'
    text = _text_of(documents[0])
    assert "Ada Portal" in text and "salbutamol" in text and "Acme Health" in text
    assert PSYCHOTHERAPY_NOTE not in text and STAFF_NOTE not in text


def test_the_file_is_stored_encrypted(client, portal, filled, run_tasks, django_capture_on_commit_callbacks):
    export = _made(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks, run_tasks)
    with EncryptedStorage().storage.open(export.stored_name) as stored:
        raw = stored.read()
    assert raw.startswith(b"CFV1") and b"%PDF" not in raw[:64]
    assert str(export.patient_id) in export.stored_name  # under the patient's key and path


def test_rts2_the_fhir_bundle_validates_and_holds_no_psychotherapy_or_staff_note(client, portal, filled, run_tasks, django_capture_on_commit_callbacks):
    from fhir.resources.R4B.bundle import Bundle

    export = _made(client, portal.adult.user, "fhir", django_capture_on_commit_callbacks, run_tasks)
    response = _download(client, export)
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    raw = b"".join(response.streaming_content)
    bundle = json.loads(raw)
    Bundle.model_validate(bundle)
    types = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert {"Patient", "MedicationRequest", "AllergyIntolerance", "Condition", "Observation", "Immunization", "Encounter", "Procedure"} <= types
    text = raw.decode()
    attachments = " ".join(
        base64.b64decode(c["attachment"]["data"]).decode()
        for e in bundle["entry"] if e["resource"]["resourceType"] == "DocumentReference" for c in e["resource"]["content"]
    )  # fmt: skip
    for secret in (PSYCHOTHERAPY_NOTE, STAFF_NOTE):
        assert secret not in text and secret not in attachments
    assert str(filled.psychotherapy_note.pk) not in text and str(filled.note.pk) not in text
    assert "Ada" in text


def test_the_export_is_audited_with_ids_and_categories_only(client, portal, filled, run_tasks, django_capture_on_commit_callbacks):
    export = _made(client, portal.adult.user, "fhir", django_capture_on_commit_callbacks, run_tasks)
    b"".join(_download(client, export).streaming_content)
    rows = [e for e in AuditEntry.objects.filter(subject_id=portal.adult.patient.pk).order_by("id") if str(export.pk) in map(str, e.resource_ids)]
    assert [e.event for e in rows] == [AuditEvent.RECORD_EXPORT_REQUESTED, AuditEvent.CHART_EXPORTED, AuditEvent.RECORD_EXPORT_DOWNLOADED]
    for row in rows:
        assert (row.actor_kind, row.actor_id) == ("patient", str(portal.adult.user.pk))
        assert "Ada" not in json.dumps(row.detail)
    exported = rows[1]
    assert "health.psychotherapy_notes" not in exported.categories and "health.notes" not in exported.categories
    assert exported.detail["format"] == "fhir"


def test_another_account_gets_404_for_the_download_and_the_status(client, portal, filled, run_tasks, django_capture_on_commit_callbacks):
    export = _made(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks, run_tasks)
    client.logout()
    portal_sign_in(client, portal.parent.user)
    assert _download(client, export).status_code == 404
    assert client.get(reverse("portal:record-export-status", kwargs={"export_id": export.pk})).status_code == 404


def test_a_patient_of_another_practice_gets_404(client, portal, portal_b, filled, run_tasks, django_capture_on_commit_callbacks):
    export = _made(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks, run_tasks)
    client.logout()
    portal_sign_in(client, portal_b.adult.user)
    assert _download(client, export).status_code == 404


def test_an_anonymous_visitor_gets_no_file(client, portal, filled, run_tasks, django_capture_on_commit_callbacks):
    export = _made(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks, run_tasks)
    client.logout()
    response = _download(client, export)
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:signin"))
    assert not getattr(response, "streaming", False)


def test_after_expiry_the_link_says_make_a_new_one(client, portal, filled, run_tasks, django_capture_on_commit_callbacks):
    export = _made(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks, run_tasks)
    with tenant_context(practice_id=export.practice_id):  # its time is over
        RecordExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    before = AuditEntry.objects.filter(event=AuditEvent.RECORD_EXPORT_DOWNLOADED.value).count()
    response = _download(client, export)
    status = client.get(reverse("portal:record-export-status", kwargs={"export_id": export.pk}))
    assert AuditEntry.objects.filter(event=AuditEvent.RECORD_EXPORT_DOWNLOADED.value).count() == before
    assert response.status_code == 410
    page = response.content.decode()
    assert "This link has expired" in page and "Make a new one" in page
    assert "This link has expired" in status.content.decode()


def test_the_clean_up_deletes_expired_files(client, portal, filled, run_tasks, django_capture_on_commit_callbacks):
    export = _made(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks, run_tasks)
    storage = EncryptedStorage()
    assert storage.exists(export.stored_name)
    assert exports.delete_expired_exports(now=export.expires_at - datetime.timedelta(seconds=1)) == 0
    assert exports.delete_expired_exports(now=export.expires_at + datetime.timedelta(seconds=1)) == 1
    assert not storage.exists(export.stored_name)
    with tenant_context(practice_id=export.practice_id):
        assert RecordExport.objects.get(pk=export.pk).stored_name == ""
    assert AuditEntry.objects.filter(event=AuditEvent.RECORD_EXPORT_DELETED.value, subject_id=export.patient_id).count() == 1


def test_the_download_streams_in_small_reads_and_never_reads_the_whole_file(client, portal, filled, run_tasks, django_capture_on_commit_callbacks):
    export = _made(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks, run_tasks)
    sizes = []
    real = DecryptedFile.read

    def read(self, size=-1):
        sizes.append(size)
        return real(self, size)

    with mock.patch.object(DecryptedFile, "read", read):
        response = _download(client, export)
        assert isinstance(response, StreamingHttpResponse)
        assert sizes == []  # nothing read before the response is returned
        b"".join(response.streaming_content)
    assert sizes and all(0 < size <= 64 * 1024 for size in sizes)


def test_a_parent_downloads_the_childs_record(client, portal, run_tasks, django_capture_on_commit_callbacks):
    portal_sign_in(client, portal.parent.user)
    session = client.session
    session[SESSION_PORTAL_LINK] = str(portal.child_link.id)
    session.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:record-export"), {"format": "fhir"})
    run_tasks()
    export = _reload(response["Location"].rstrip("/").split("/")[-1], portal.child_link.practice_id)
    assert export.status == "done" and export.patient_id == portal.child.pk
    bundle = json.loads(b"".join(_download(client, export).streaming_content))
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert patient["name"][0]["given"] == ["Kit"]
    # Back on the parent's own record, the child's export is not there.
    session = client.session
    session[SESSION_PORTAL_LINK] = str(portal.parent.link.id)
    session.save()
    assert _download(client, export).status_code == 404


def test_a_bad_format_is_a_400_with_a_message_and_nothing_is_queued(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = client.post(reverse("portal:record-export"), {"format": "docx"})
    assert response.status_code == 400
    assert "Choose a PDF summary or a FHIR file." in response.content.decode()
    with tenant_context(practice_id=portal.adult.link.practice_id):
        assert not RecordExport.objects.exists()


def test_the_status_page_polls_while_waiting_and_offers_a_refresh_without_javascript(client, portal, django_capture_on_commit_callbacks):
    export = _request(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks)
    url = reverse("portal:record-export-status", kwargs={"export_id": export.pk})
    page = client.get(url).content.decode()
    assert f'hx-get="{url}"' in page and 'hx-trigger="every 1s"' in page
    assert '<progress id="export-bar"' in page and '<label for="export-bar"' in page
    assert f'href="{url}">Refresh</a>' in page
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and 'id="export-progress"' in partial


def test_a_second_worker_does_not_make_the_same_export_twice(client, portal, django_capture_on_commit_callbacks):
    export = _request(client, portal.adult.user, "fhir", django_capture_on_commit_callbacks)
    assert exports.run_export(export.pk, export.practice_id) == "done"
    assert exports.run_export(export.pk, export.practice_id) == "skipped"


def test_an_export_of_a_link_ended_since_fails_and_stores_nothing(client, portal, django_capture_on_commit_callbacks):
    export = _request(client, portal.adult.user, "fhir", django_capture_on_commit_callbacks)
    with tenant_context(practice_id=export.practice_id):
        type(portal.adult.link).objects.filter(pk=portal.adult.link.pk).update(is_active=False, ended_at=timezone.now())
    assert exports.run_export(export.pk, export.practice_id) == "failed"
    export = _reload(export.pk, export.practice_id)
    assert (export.status, export.stored_name) == ("failed", "")


def test_asking_twice_while_one_is_waiting_returns_the_same_export(client, portal, django_capture_on_commit_callbacks):
    first = _request(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks)
    second = _request(client, portal.adult.user, "pdf", django_capture_on_commit_callbacks)
    assert first.pk == second.pk
    assert AuditEntry.objects.filter(event=AuditEvent.RECORD_EXPORT_REQUESTED.value).count() == 1
