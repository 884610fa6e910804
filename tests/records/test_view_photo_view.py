"""A photo's page: the picture (through the image route) with its title; roles not granted
photos (billing, front desk) are refused by the door."""

from __future__ import annotations

from confide.core.permissions import Role
from tests.records.conftest import denied, url

VIEW = "records:photo-view"


def test_the_photo_page_shows_the_picture_through_the_image_route(signed_in, chart, patient):
    photo = chart.file("photo")
    body = signed_in(Role.CLINICIAN).get(url(VIEW, patient, photo_id=photo.pk)).content.decode()
    assert f'src="{url("records:photo-image", patient, photo_id=photo.pk)}"' in body and 'alt="A photo"' in body


def test_billing_cannot_open_a_photo(signed_in, chart, patient):
    photo = chart.file("photo")
    client = signed_in(Role.BILLING)
    before = len(denied())
    page = client.get(url(VIEW, patient, photo_id=photo.pk))
    image = client.get(url("records:photo-image", patient, photo_id=photo.pk))
    assert page.status_code == image.status_code == 403 and not image.streaming
    refusals = denied()[before:]
    assert [(e.actor_role, e.categories) for e in refusals] == [
        ("billing", ["health.photos", "identifiers.dob", "identifiers.name"]), ("billing", ["health.photos"])]


def test_front_desk_cannot_open_a_photo(signed_in, chart, patient):
    photo = chart.file("photo")
    assert signed_in(Role.FRONT_DESK).get(url(VIEW, patient, photo_id=photo.pk)).status_code == 403
