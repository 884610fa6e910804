"""The public consultation form as a visitor meets it: every problem at once, the required
fields marked (visibly, with `required` and for assistive technology), a photo refused with the
formats it may be, and the hourly limit (429) keeping what was typed."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from confide.core.tenancy import tenant_context
from confide.records.models import IntakeSubmission
from tests.records.consultations import form_data
from tests.records.uploads import png_upload


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _url(world):
    return reverse("intake:consult", kwargs={"practice_slug": world.a.practice.slug})


def _count(world) -> int:
    with tenant_context(practice_id=world.a.practice.id):
        return IntakeSubmission.objects.count()


def _tag(html: str, element_id: str) -> str:
    """The opening tag of the element with this id."""
    match = re.search(rf'<(?:input|select|textarea)\b[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    assert match, element_id
    return match.group(0)


def test_every_problem_is_reported_at_once_each_at_its_field(world):
    data = form_data(world.a.practice, given_name="", email="nope", q_reason="", q_since="Forever", authorize=None,
                     **{"q_medications-0-dose": "200 mg"})  # fmt: skip
    response = Client().post(_url(world), data)
    html = response.content.decode()
    assert response.status_code == 400 and _count(world) == 0
    expected = {
        "given_name": "First name: please fill this in.",
        "email": "Email: that is not an email address.",
        "q_reason": "What would you like help with?: please answer this.",
        "q_since": "How long has this been going on?: choose one of the options.",
        "q_medications-0-name": "Medicines you take now (medicine 1): give the medicine&#x27;s name as well as its dose.",
        "authorize": "Please read the authorization and tick the box to agree",
    }
    assert "Please correct these 6 problems" in html
    for field, message in expected.items():
        assert f'<a href="#{field}">{message}' in html, field  # the summary links each problem to its field
        tag = _tag(html, field)
        assert 'aria-invalid="true"' in tag and f"{field}-error" in tag, field
        assert f'id="{field}-error">{message}' in html, field
    # what was typed stays
    assert 'value="nope"' in _tag(html, "email") and 'value="200 mg"' in _tag(html, "q_medications-0-dose")


def test_required_fields_are_marked_visibly_with_the_required_attribute_and_for_screen_readers(world):
    html = Client().get(_url(world)).content.decode()
    for field in ("given_name", "family_name", "date_of_birth", "q_reason", "q_since", "authorize"):
        tag = _tag(html, field)
        assert " required" in tag and 'aria-required="true"' in tag, field
        label = re.search(rf'<label[^>]*for="{field}"[^>]*>(.*?)</label>', html, flags=re.S).group(1)
        assert '<span class="text-danger" aria-hidden="true">*</span><span class="visually-hidden">(required)</span>' in label, field
    for field in ("email", "phone", "q_allergies", "q_contact_time", "q_photo", "guardian_name"):
        assert " required" not in _tag(html, field), field
    assert "Fields marked" in html and "are required." in html


@pytest.mark.parametrize(("name", "content_type", "body"), [("arm.gif", "image/gif", b"GIF89a" + b"\0" * 40),
                                                            ("arm.heic", "image/heic", b"\0\0\0\x18ftypheic" + b"\0" * 40),
                                                            ("arm.png", "image/png", b"%PDF-1.4 not a photo")])  # fmt: skip
def test_a_photo_in_another_format_is_refused_naming_jpeg_and_png_only(world, name, content_type, body):
    upload = SimpleUploadedFile(name, body, content_type=content_type)
    response = Client().post(_url(world), {**form_data(world.a.practice), "q_photo": upload})
    html = response.content.decode()
    assert response.status_code == 400 and _count(world) == 0
    assert re.search(r"A photo, if it helps \(JPEG or PNG\): (a photo is a JPEG or PNG image|The file is not a JPEG or PNG file)", html)
    assert "PDF" not in html.split('id="q_photo-error"')[1].split("</div>")[0]
    assert "JPEG or PNG (.jpg, .jpeg or .png)" in html  # the formats, next to the input
    assert 'accept="image/jpeg,image/png,.jpg,.jpeg,.png"' in _tag(html, "q_photo")


def test_the_hourly_limit_keeps_what_was_typed_except_the_photo_and_says_so(world, settings):
    settings.CONFIDE_CONSULT_PER_HOUR = 1
    client = Client()
    assert client.post(_url(world), form_data(world.a.practice)).status_code == 200
    typed = form_data(world.a.practice, given_name="Samir", q_reason="A second rash\non the neck", q_allergies="Latex",
                      **{"q_medications-0-name": "Loratadine", "q_medications-0-kind": "otc"})  # fmt: skip
    response = client.post(_url(world), {**typed, "q_photo": png_upload()})
    html = response.content.decode()
    assert response.status_code == 429 and _count(world) == 1
    assert "Too many consultations were sent from this connection" in html
    assert 'value="Samir"' in _tag(html, "given_name") and "A second rash\non the neck</textarea>" in html
    assert 'value="Latex"' in _tag(html, "q_allergies") and 'value="Loratadine"' in _tag(html, "q_medications-0-name")
    assert '<option value="otc" selected>' in html and 'checked' in _tag(html, "authorize")
    assert "a photo is never kept when the form is sent back to you: please add it again." in html
    assert 'name="token" value="' in html and typed["token"] not in html  # a fresh token, not the used one


def test_a_mistake_with_a_photo_says_the_photo_must_be_added_again(world):
    response = Client().post(_url(world), {**form_data(world.a.practice, email="nope"), "q_photo": png_upload()})
    assert response.status_code == 400 and "please add it again" in response.content.decode()
