"""A photo's bytes: streamed inline (a re-encoded image), a generated name, no caching."""

from __future__ import annotations

from confide.core.permissions import Role
from tests.records.conftest import url

IMAGE = "records:photo-image"


def test_the_image_streams_inline_with_a_generated_name_and_no_store(signed_in, chart, patient):
    photo = chart.file("photo")
    response = signed_in(Role.CLINICIAN).get(url(IMAGE, patient, photo_id=photo.pk))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x89PNG\r\n\x1a\n")
    assert response["Content-Type"] == "image/png" and response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == f'inline; filename="photo-{photo.pk.hex[:12]}.png"'


def test_a_photo_of_another_practice_is_a_404(world, chart, patient):
    from django.test import Client

    from tests.conftest import sign_in

    photo = chart.file("photo")
    assert sign_in(Client(), world.b.owner, world.b.practice).get(url(IMAGE, patient, photo_id=photo.pk)).status_code == 404
