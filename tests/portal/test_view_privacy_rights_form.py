"""RTS1 / MIN3: the rights-request form of the privacy page: one step into the privacy officer's
queue; bad input is a message with status 400 and nothing is written."""

from __future__ import annotations

from django.urls import reverse

from confide.core.tenancy import tenant_context
from confide.rights.models import RightsRequest
from tests.portal_world import portal_sign_in


def _requests(practice_id):
    with tenant_context(practice_id=practice_id):
        return list(RightsRequest.objects.all())


def test_rts1_a_patient_asks_for_a_copy_and_sees_the_request_with_its_due_date(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = client.post(reverse("portal:rights-request"), {"record": str(portal.adult.link.id), "kind": "copy", "detail": ""})
    assert response.status_code == 302 and response["Location"].endswith("#requests")
    [made] = _requests(portal.adult.patient.practice_id)
    page = client.get(reverse("portal:privacy")).content.decode()
    assert "We got your request. We will answer by" in page
    mine = page.split('data-testid="my-requests"', 1)[1].split("</ul>", 1)[0]
    assert "Get a copy of my information: received" in mine and f"{made.due_on:%-d %B %Y}" in mine
    home = client.get(reverse("portal:home")).content.decode()
    card = home.split('data-testid="card-requests"', 1)[1].split("</section>", 1)[0]
    assert "Get a copy of my information: received" in card


def test_min3_a_parent_asks_to_stop_a_use_of_the_childs_information(client, portal):
    portal_sign_in(client, portal.parent.user)
    client.post(reverse("portal:switch"), {"link_id": str(portal.child_link.id)})
    page = client.get(reverse("portal:privacy")).content.decode()
    assert "As a parent or guardian, you can ask this for your child." in page
    response = client.post(reverse("portal:rights-request"), {"record": str(portal.child_link.id), "kind": "restrict", "detail": "No more texts"})
    assert response.status_code == 302
    [made] = _requests(portal.child.practice_id)
    assert made.patient_id == portal.child.pk and made.by_representative


def test_no_kind_is_a_message_and_nothing_is_written(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = client.post(reverse("portal:rights-request"), {"record": str(portal.adult.link.id), "detail": "hello"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose what you would like us to do." in html and ">hello</textarea>" in html  # what was typed is kept
    assert _requests(portal.adult.patient.practice_id) == []


def test_a_forged_record_is_refused_and_nothing_is_written(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = client.post(reverse("portal:rights-request"), {"record": str(portal.child_link.id), "kind": "delete"})
    assert response.status_code == 400 and "This page was for another record" in response.content.decode()
    assert _requests(portal.adult.patient.practice_id) == []


def test_text_that_is_too_long_is_refused(client, portal):
    portal_sign_in(client, portal.adult.user)
    response = client.post(reverse("portal:rights-request"), {"record": str(portal.adult.link.id), "kind": "other", "detail": "x" * 2001})
    assert response.status_code == 400 and "2000 characters or fewer" in response.content.decode()
    assert _requests(portal.adult.patient.practice_id) == []
