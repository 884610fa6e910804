"""MIN3 / issue 14 item 3: the document that shows a parent's or guardian's authority (a
guardianship order, a birth certificate) is kept with their portal link, encrypted under the
CHILD's key with the chart's upload checks, added by staff with registration rights, listed on
the child's documents; another practice's or patient's link is not found."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from confide.access.errors import AccessRefused
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records import chart, files
from confide.records.models import RepresentativeDocument
from confide.records.representatives import do_attach_representative_document, list_representative_documents
from confide.vault.files import EncryptedStorage, read_header
from tests.portal_world import portal_world
from tests.records.test_service_files import stored_files
from tests.records.uploads import pdf_upload


@pytest.fixture
def pw(world):
    return portal_world(world.a)


def _staff(world, role=Role.FRONT_DESK, where="a"):
    return StaffActor.from_membership(getattr(world, where).memberships[role])


def _attach(actor, patient_id, link_id, upload=None, title="Guardianship order"):
    with tenant_context(practice_id=actor.practice_id):
        return do_attach_representative_document(actor=actor, patient_id=patient_id, link_id=link_id, upload=upload or pdf_upload(), title=title)


def test_min3_the_front_desk_keeps_a_guardianship_order_with_the_link_under_the_childs_key(world, pw):
    before = stored_files()
    row = _attach(_staff(world), pw.child.pk, pw.child_link.pk)
    [added] = stored_files() - before
    assert added == row.stored_name and added.startswith(f"{world.a.practice.id}/{pw.child.pk}/authorization/")
    assert "Guardianship" not in added
    with tenant_context(practice_id=world.a.practice.id):
        fresh = RepresentativeDocument.objects.get(pk=row.pk)
    assert fresh.portal_link_id == pw.child_link.pk and fresh.patient_id == pw.child.pk
    assert read_header(EncryptedStorage().storage, row.stored_name).category == "contact.guardian"
    entry = AuditEntry.objects.filter(event=AuditEvent.FILE_ADDED).latest("id")
    assert entry.subject_id == pw.child.pk and entry.categories == ["contact.guardian"]
    assert entry.detail == {"kind": "authorization", "size": row.size, "content_type": "application/pdf", "portal_link_id": str(pw.child_link.pk)}


def test_min3_it_round_trips_and_is_listed_with_the_link_and_on_the_childs_documents(world, pw):
    row = _attach(_staff(world), pw.child.pk, pw.child_link.pk)
    clinician = _staff(world, Role.CLINICIAN)
    with tenant_context(practice_id=world.a.practice.id):
        [listed] = list_representative_documents(clinician, pw.child.pk, pw.child_link.pk)
        assert (listed["id"], listed["title"]) == (row.pk, "Guardianship order")
        documents = chart.get_documents(clinician, pw.child.pk)
        assert [f.id for f in documents.authorizations] == [row.pk] and documents.authorizations[0].kind == "authorization"
        download = files.open_file_for_download(clinician, patient_id=pw.child.pk, kind="authorization", file_id=row.pk)
        try:
            assert download.stream.read() == pdf_upload().read()
        finally:
            download.stream.close()


def test_min3_the_same_caps_apply_a_bad_file_is_refused_and_nothing_is_kept(world, pw):
    before = stored_files()
    fake = SimpleUploadedFile("order.pdf", b"<html>not a pdf</html>", content_type="application/pdf")
    with pytest.raises(InvalidInput):
        _attach(_staff(world), pw.child.pk, pw.child_link.pk, upload=fake)
    with pytest.raises(InvalidInput, match="title"):
        _attach(_staff(world), pw.child.pk, pw.child_link.pk, title="")
    assert stored_files() == before
    with tenant_context(practice_id=world.a.practice.id):
        assert not RepresentativeDocument.objects.exists()


@pytest.mark.parametrize("role", [Role.BILLING, Role.PRIVACY_OFFICER])
def test_min3_only_registration_staff_attach(world, pw, role):
    with pytest.raises(Forbidden):
        _attach(_staff(world, role), pw.child.pk, pw.child_link.pk)


def test_min3_another_practices_link_or_another_patients_or_an_own_record_link_is_not_found(world, pw):
    pb = portal_world(world.b)
    with pytest.raises(NotFound):
        _attach(_staff(world), pb.child.pk, pb.child_link.pk)  # practice B's, from practice A
    with pytest.raises(NotFound):
        _attach(_staff(world), pw.adult.patient.pk, pw.child_link.pk)  # the link is to another patient
    with pytest.raises(NotFound):
        _attach(_staff(world), pw.adult.patient.pk, pw.adult.link.pk)  # the patient's own link
    with pytest.raises(NotFound):
        _attach(_staff(world), pw.child.pk, "not-a-uuid")


def test_min3_an_ended_link_takes_no_new_document(world, pw):
    from confide.accounts.models import PortalLink

    with tenant_context(practice_id=world.a.practice.id):
        PortalLink.objects.filter(pk=pw.child_link.pk).update(is_active=False, ended_reason="age_of_majority")
    with pytest.raises(InvalidInput, match="ended"):
        _attach(_staff(world), pw.child.pk, pw.child_link.pk)


def test_min3_the_chart_upload_cannot_make_an_authorization_without_its_link(world, pw):
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(InvalidInput):
        files.do_add_file(actor=_staff(world, Role.CLINICIAN), patient_id=pw.child.pk, kind="authorization", upload=pdf_upload(), title="x")


def test_min3_billing_cannot_open_the_authorization(world, pw):
    row = _attach(_staff(world), pw.child.pk, pw.child_link.pk)
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(AccessRefused):
        files.open_file_for_download(_staff(world, Role.BILLING), patient_id=pw.child.pk, kind="authorization", file_id=row.pk)
