"""The copy's pages (part "export"): the portal's progress part and download (404 for another
record's export, 410 past the link's time), and the staff panel's actions."""

from __future__ import annotations

import datetime
import io
import zipfile

import pytest

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.rights import export as rexport
from confide.rights.models import Export, ExportStatus, RightsRequest
from tests.conftest import sign_in
from tests.portal_world import portal_sign_in
from tests.rights.export_helpers import export_of, portal_copy_request


def _ready(patient):
    made, actor = portal_copy_request(patient)
    export = export_of(made)
    assert rexport.run_export(export.pk, made.practice_id) == "ready"
    with tenant_context(practice_id=made.practice_id):
        return made, Export.objects.get(pk=export.pk)


def _portal_client(client, made):
    from confide.accounts.models import User

    portal_sign_in(client, User.objects.get(pk=made.requested_by_id))
    return client


def test_rts2_the_portal_download_streams_the_zip(world, make_patient, client):
    made, export = _ready(make_patient())
    c = _portal_client(client, made)
    page = c.get("/portal/privacy/")
    assert page.status_code == 200
    assert f"/portal/privacy/copy/{export.pk}/file/".encode() in page.content
    assert b"getting a copy are free" in page.content
    response = c.get(f"/portal/privacy/copy/{export.pk}/file/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="my-information-')
    body = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    status = c.get(f"/portal/privacy/copy/{export.pk}/", HTTP_HX_REQUEST="true")
    assert status.status_code == 200 and b'data-status="ready"' in status.content


def test_rts2_an_expired_link_is_410_with_a_clear_message(world, make_patient, client):
    made, export = _ready(make_patient())
    c = _portal_client(client, made)
    with tenant_context(practice_id=made.practice_id):  # seven days later (the session would have ended by then)
        Export.objects.filter(pk=export.pk).update(expires_at=export.finished_at - datetime.timedelta(seconds=1))
    response = c.get(f"/portal/privacy/copy/{export.pk}/file/")
    assert response.status_code == 410
    assert b"This link has expired" in response.content


def test_rts2_another_patients_copy_is_404(world, make_patient, client):
    _, export = _ready(make_patient())
    other, _ = portal_copy_request(make_patient(given_name="Other"), email="other@export.test", kind="correct")
    c = _portal_client(client, other)
    assert c.get(f"/portal/privacy/copy/{export.pk}/file/").status_code == 404
    assert c.get(f"/portal/privacy/copy/{export.pk}/").status_code == 404


def test_rts10_the_fee_is_shown_before_filing(world, make_patient, client, staff):
    rexport.set_copy_fee(actor=staff(Role.OWNER), cents=650)
    made, _ = portal_copy_request(make_patient(), kind="correct")
    page = _portal_client(client, made).get("/portal/privacy/")
    assert b"A copy of your information costs $6.50" in page.content


def test_rts1_staff_record_the_authorization_and_start_the_copy_from_the_panel(world, make_patient, client, staff):
    patient = make_patient()
    made, _ = portal_copy_request(patient)
    with tenant_context(practice_id=made.practice_id):
        Export.objects.filter(request_id=made.pk).delete()  # as if the request came by letter: nothing queued yet
    officer = sign_in(client, world.a.users[Role.PRIVACY_OFFICER])
    stale = officer.post(f"/rights/requests/{made.pk}/copy/authorization/", {"version": made.version + 5, "authorized": "1"})
    assert stale.status_code == 409
    ok = officer.post(f"/rights/requests/{made.pk}/copy/authorization/", {"version": made.version, "authorized": "1"})
    assert ok.status_code == 200 and b"<strong>included</strong>" in ok.content
    with tenant_context(practice_id=made.practice_id):
        assert RightsRequest.objects.get(pk=made.pk).psychotherapy_authorized is True
    started = officer.post(f"/rights/requests/{made.pk}/copy/")
    assert started.status_code == 200 and b"<progress" in started.content and b"hx-get" in started.content
    export = export_of(made)
    assert export.status == ExportStatus.QUEUED
    assert officer.get(f"/rights/copies/{export.pk}/").status_code == 200
    # Front desk has no access to the queue's actions.
    desk = sign_in(client.__class__(), world.a.users[Role.FRONT_DESK])
    assert desk.post(f"/rights/requests/{made.pk}/copy/").status_code == 403


def test_rts1_a_request_of_another_practice_is_404_for_staff(world, make_patient, client):
    made, _ = portal_copy_request(make_patient())
    other = sign_in(client, world.b.users[Role.PRIVACY_OFFICER])
    assert other.post(f"/rights/requests/{made.pk}/copy/").status_code == 404
    assert other.get(f"/rights/copies/{export_of(made).pk}/").status_code == 404
