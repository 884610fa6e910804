"""The route that keeps a guardian's authorization document with their portal link
(records:portal-link-document) and its download (records:authorization-download)."""

from __future__ import annotations

import pytest

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import RepresentativeDocument
from tests.portal_world import portal_world
from tests.records.test_service_files import stored_files
from tests.records.uploads import pdf_upload

ATTACH = "records:portal-link-document"


@pytest.fixture
def pw(world):
    return portal_world(world.a)


def _url(patient_id, link_id):
    from django.urls import reverse

    return reverse(ATTACH, kwargs={"patient_id": patient_id, "link_id": link_id})


def _rows(world):
    with tenant_context(practice_id=world.a.practice.id):
        return list(RepresentativeDocument.objects.all())


def test_min3_front_desk_attaches_and_the_clinician_sees_and_downloads_it(signed_in, world, pw):
    response = signed_in(Role.FRONT_DESK).post(_url(pw.child.pk, pw.child_link.pk), {"title": "Birth certificate", "file": pdf_upload("Kit-birth.pdf")})
    assert response.status_code == 302 and response["Location"] == f"/patients/{pw.child.pk}/portal/"
    [row] = _rows(world)
    client = signed_in(Role.CLINICIAN)
    page = client.get(f"/patients/{pw.child.pk}/documents/").content.decode()
    assert "Birth certificate" in page and "Parent or guardian authorization" in page
    download = client.get(f"/patients/{pw.child.pk}/authorizations/{row.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == pdf_upload().read()
    assert f"authorization-{row.pk.hex[:12]}.pdf" in download["Content-Disposition"]


def test_min3_a_bad_upload_answers_400_with_a_message_and_keeps_nothing(signed_in, world, pw):
    before = stored_files()
    response = signed_in(Role.FRONT_DESK).post(_url(pw.child.pk, pw.child_link.pk), {"title": "", "file": pdf_upload()})
    assert response.status_code == 400 and "Give the file a title." in response.content.decode()
    assert _rows(world) == [] and stored_files() == before


def test_min3_another_practices_link_answers_404(signed_in, world, pw):
    pb = portal_world(world.b)
    response = signed_in(Role.FRONT_DESK).post(_url(pb.child.pk, pb.child_link.pk), {"title": "Order", "file": pdf_upload()})
    assert response.status_code == 404
    response = signed_in(Role.FRONT_DESK).post(_url(pw.child.pk, pb.child_link.pk), {"title": "Order", "file": pdf_upload()})
    assert response.status_code == 404
    assert _rows(world) == []


def test_min3_billing_may_not_attach(signed_in, world, pw):
    response = signed_in(Role.BILLING).post(_url(pw.child.pk, pw.child_link.pk), {"title": "Order", "file": pdf_upload()})
    assert response.status_code == 403 and _rows(world) == []


def test_min3_the_include_renders_the_list_and_the_form(rf, world, pw):
    from django.template.loader import render_to_string

    html = render_to_string("records/_portal_link_document.html", {
        "patient_id": pw.child.pk, "link": pw.child_link,
        "documents": [{"id": pw.child.pk, "title": "Order", "content_type": "application/pdf", "size": 10, "created_at": None}],
    })  # fmt: skip
    assert "Order" in html and f"/patients/{pw.child.pk}/portal-links/{pw.child_link.pk}/document/" in html
    assert 'for="auth-file-' in html and 'for="auth-title-' in html
