"""The patient portal's routes tried by everyone who must not reach them (issue 14, ACC4, ACC5):
anonymous visitors and staff sessions are sent to the portal's sign-in; a portal session on any
staff page gets a 404; a route that names an object in its URL answers 404 to another patient of
the same practice, a patient of another practice and a guardian of someone else's child, with
nothing in the response that tells the object exists. Driven by ROUTE_POLICY and the URLconf,
so a new portal route is tried here automatically (and fails until its kwargs are known below)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from confide.core.routes import PORTAL_AUDIENCES, ROUTE_POLICY, Audience
from tests.conftest import CANARIES, sign_in
from tests.portal_world import portal_sign_in, portal_world
from tests.security.routes_helpers import (
    NON_PUBLIC,
    assert_no_writes,
    kwarg_converters,
    kwargs_for,
    route_methods,
    route_names,
)

PORTAL_ROUTES = sorted(name for name, policy in ROUTE_POLICY.items() if policy.audience in PORTAL_AUDIENCES)
PORTAL_METHODS = route_methods(PORTAL_ROUTES)
STAFF_METHODS = route_methods(route_names(audiences=NON_PUBLIC))

# URL kwargs of portal routes, pointing at an object that belongs to the adult patient of
# `owner` (a PortalWorld): kwarg name → function(owner) → value. A new portal route with a kwarg
# not listed here fails test_every_portal_kwarg_is_known.
def _document_of(owner):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.files import do_add_file
    from tests.records.uploads import pdf_upload

    if not hasattr(owner, "_document"):
        patient = owner.adult.patient
        with tenant_context(practice_id=patient.practice_id):
            clinician = StaffActor.from_membership(owner.practice_world.memberships[Role.CLINICIAN])
            owner._document = do_add_file(actor=clinician, patient_id=patient.pk, kind="document", upload=pdf_upload(), title="Matrix letter")
    return owner._document.pk


def _export_of(owner):
    from confide.core.tenancy import tenant_context
    from confide.portal.exports import do_request_export

    if not hasattr(owner, "_export"):
        with tenant_context(practice_id=owner.adult.patient.practice_id):
            owner._export = do_request_export(actor=owner.adult.actor, fmt="pdf")
    return owner._export.pk


def _attachment_of(owner):
    """A file the adult patient sent with a portal message (issue 15)."""
    from confide.core.tenancy import tenant_context
    from confide.messaging.models import Attachment
    from confide.messaging.portal_thread import do_write
    from tests.records.uploads import pdf_upload

    if not hasattr(owner, "_attachment"):
        with tenant_context(practice_id=owner.adult.patient.practice_id):
            message = do_write(owner.adult.actor, body="Matrix file", upload=pdf_upload())
            owner._attachment = Attachment.objects.get(message=message)
    return owner._attachment.pk


# --- queue part (issue 17): a decided rights request of the adult patient, and its letter
def _decided_request_of(owner):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.rights import decisions, services

    if not hasattr(owner, "_decided"):
        made = services.check_open_request(actor=owner.adult.actor, kind="see")
        officer = StaffActor.from_membership(owner.practice_world.memberships[Role.PRIVACY_OFFICER])
        owner._decided = decisions.do_close(actor=officer, request_id=made.pk, expected_version=made.version, outcome="done")
    return owner._decided.pk


def _letter_of(owner):
    from confide.core.tenancy import tenant_context
    from confide.rights.models import Letter

    request_id = _decided_request_of(owner)
    with tenant_context(practice_id=owner.adult.patient.practice_id):
        return Letter.objects.filter(request_id=request_id).values_list("pk", flat=True).first()


def _amendment_of(owner):
    """amend part: a denied amendment of the adult patient (a statement of disagreement may follow)."""
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.rights import amendments
    from confide.rights.services import check_open_request
    from tests.rights.amend_helpers import officer_with_phone

    if not hasattr(owner, "_amendment"):
        officer_with_phone(owner.practice_world)
        clinician = StaffActor.from_membership(owner.practice_world.memberships[Role.CLINICIAN])
        req = check_open_request(actor=owner.adult.actor, kind="correct", detail="Please fix it.")
        with tenant_context(practice_id=req.practice_id):
            made = amendments.start_amendment(actor=clinician, request_id=req.pk, target="field:health_background", expected_version=1)
            amendments.deny_amendment(actor=clinician, request_id=req.pk, expected_version=2, basis="accurate_complete")
        owner._amendment = made
    return owner._amendment.pk


PORTAL_KWARG_SOURCES: dict = {
    "request_id": _decided_request_of,  # queue part
    "letter_id": _letter_of,  # queue part
    "amendment_id": _amendment_of,  # amend part
    "attachment_id": _attachment_of,
    "document_id": _document_of,
    "export_id": _export_of,
}


def portal_kwargs(name: str, owner) -> dict:
    return {kwarg: PORTAL_KWARG_SOURCES[kwarg](owner) for kwarg in kwarg_converters(name)}


def portal_url(name: str, owner) -> str:
    return reverse(name, kwargs=portal_kwargs(name, owner))


def _no_canary(response) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode(errors="replace")
    assert not [k for k, v in CANARIES.items() if v in text]


@pytest.fixture
def owners(world):
    a, b = portal_world(world.a), portal_world(world.b)
    a.practice_world, b.practice_world = world.a, world.b
    return a, b


def test_every_portal_route_is_in_a_portal_audience_or_public():
    for name in (n for n in ROUTE_POLICY if n.startswith("portal:")):
        assert ROUTE_POLICY[name].audience in PORTAL_AUDIENCES | {Audience.PUBLIC}, name


@pytest.mark.parametrize("name", PORTAL_ROUTES)
def test_every_portal_kwarg_is_known(name):
    missing = set(kwarg_converters(name)) - set(PORTAL_KWARG_SOURCES)
    assert not missing, f"{name}: add {sorted(missing)} to PORTAL_KWARG_SOURCES in tests/security/test_portal_matrix.py"


@pytest.mark.parametrize(("name", "method"), PORTAL_METHODS)
def test_anonymous_is_sent_to_the_portal_sign_in_and_nothing_changes(owners, name, method):
    url = portal_url(name, owners[0])
    with assert_no_writes():
        response = Client().generic(method, url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('portal:signin')}?next=")
    _no_canary(response)


@pytest.mark.parametrize(("name", "method"), PORTAL_METHODS)
def test_a_staff_session_is_sent_to_the_portal_sign_in_and_nothing_changes(world, owners, name, method):
    client = sign_in(Client(), world.a.owner, world.a.practice)
    url = portal_url(name, owners[0])
    with assert_no_writes():
        response = client.generic(method, url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('portal:signin')}?next=")


@pytest.mark.parametrize(("name", "method"), STAFF_METHODS)
def test_a_portal_session_gets_404_on_every_staff_route_and_nothing_changes(world, owners, name, method):
    client = portal_sign_in(Client(), owners[0].adult.user)
    url = reverse(name, kwargs=kwargs_for(name, world.a))
    with assert_no_writes():
        response = client.generic(method, url)
    assert response.status_code == 404, f"{name} {method}: {response.status_code}"
    _no_canary(response)


OBJECT_ROUTES = [(name, method) for name, method in PORTAL_METHODS if kwarg_converters(name)]


def test_the_object_routes_are_tried():
    """The case below runs on real routes (a document, a record export): never an empty list."""
    assert {name for name, _ in OBJECT_ROUTES} >= {"portal:record-document", "portal:record-export-status", "portal:record-export-file",
                                                   "portal:message-attachment"}


@pytest.mark.parametrize("who", ["same-practice patient", "other-practice patient", "guardian of another child"])
@pytest.mark.parametrize(("name", "method"), OBJECT_ROUTES)
def test_someone_elses_object_answers_404(owners, who, name, method):
    owner, other_practice = owners
    intruder = {
        "same-practice patient": owner.parent.user,  # a patient of the same practice (and a parent)
        "other-practice patient": other_practice.adult.user,
        "guardian of another child": other_practice.parent.user,
    }[who]
    if who == "same-practice patient":
        # The parent acts on their child's record: a guardian's view is tried too.
        pass
    client = portal_sign_in(Client(), intruder)
    url = portal_url(name, owner)
    with assert_no_writes():
        response = client.generic(method, url)
    assert response.status_code == 404, f"{name} {method} as {who}: {response.status_code}"
    _no_canary(response)
