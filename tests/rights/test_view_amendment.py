"""RTS3 through the pages: the panel on a correct request (start, accept, deny, rebuttal), a
stale page answered 409 with nothing changed, bad input 400, the privacy officer's status-only
view, the portal's statement-of-disagreement form (empty and over-long refused)."""

from __future__ import annotations

from django.urls import reverse

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.rights import amendments
from confide.rights.models import Amendment, AmendmentStatus, Disagreement
from tests.conftest import sign_in
from tests.portal_world import portal_sign_in
from tests.rights.amend_helpers import ASKED, correct_request, officer_with_phone, signed_note, staff, started, version_of


def _url(name, req):
    return reverse(f"rights:{name}", args=[req.pk])


def test_rts3_a_clinician_starts_and_denies_on_the_page(client, world, portal):
    officer_with_phone(world.a)
    req = correct_request(world.a, portal.adult)
    note = signed_note(world.a, portal.adult.patient)
    sign_in(client, world.a.users[Role.CLINICIAN], world.a.practice)
    page = client.get(_url("amendment", req)).content.decode()
    assert 'data-testid="amendment-panel"' in page and f"note:{note.pk}" in page
    response = client.post(_url("amendment-start", req), {"target": f"note:{note.pk}", "version": version_of(req)})
    assert response.status_code == 302
    page = client.get(_url("amendment", req)).content.decode()
    assert ASKED in page and 'data-testid="deny-form"' in page
    bad = client.post(_url("amendment-deny", req), {"basis": "", "version": version_of(req)})
    assert bad.status_code == 400 and "Choose the reason" in bad.content.decode()
    stale = client.post(_url("amendment-deny", req), {"basis": "accurate_complete", "version": version_of(req) - 1})
    assert stale.status_code == 409
    with tenant_context(practice_id=req.practice_id):
        assert Amendment.objects.get(request_id=req.pk).status == AmendmentStatus.PENDING
    assert client.post(_url("amendment-deny", req), {"basis": "accurate_complete", "version": version_of(req)}).status_code == 302
    with tenant_context(practice_id=req.practice_id):
        assert Amendment.objects.get(request_id=req.pk).status == AmendmentStatus.DENIED


def test_rts3_the_privacy_officer_sees_the_status_without_the_content(client, world, portal):
    req, _, _ = started(world.a, portal.adult)
    sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
    response = client.get(_url("amendment", req))
    html = response.content.decode()
    assert response.status_code == 200 and "Waiting for a decision" in html and ASKED not in html
    assert 'data-testid="accept-form"' not in html
    assert client.post(_url("amendment-accept", req), {"text": "x", "version": version_of(req)}).status_code == 403


def test_rts3_another_practices_request_is_404(client, world, portal):
    req, _, _ = started(world.a, portal.adult)
    sign_in(client, world.b.users[Role.CLINICIAN], world.b.practice)
    assert client.get(_url("amendment", req)).status_code == 404


def test_rts3_the_patient_files_a_disagreement_in_the_portal(client, world, portal):
    officer_with_phone(world.a)
    req, made, _ = started(world.a, portal.adult)
    amendments.deny_amendment(actor=staff(world.a), request_id=req.pk, expected_version=version_of(req), basis="accurate_complete")
    portal_sign_in(client, portal.adult.user)
    page = client.get(reverse("portal:privacy")).content.decode()
    assert 'data-testid="disagreement-form"' in page
    url = reverse("portal:amendment-disagree", args=[made.pk])
    link = str(portal.adult.link.pk)
    for text in ("", "z" * 2001):
        response = client.post(url, {"record": link, "text": text})
        assert response.status_code == 400 and 'id="disagreement-error"' in response.content.decode()
    assert client.post(url, {"record": link, "text": "I never smoked."}).status_code == 302
    with tenant_context(practice_id=req.practice_id):
        assert Disagreement.objects.filter(amendment_id=made.pk).count() == 1
    page = client.get(reverse("portal:privacy")).content.decode()
    assert "Your statement of disagreement is on file" in page and 'data-testid="disagreement-form"' not in page
