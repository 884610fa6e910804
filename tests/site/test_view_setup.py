"""ACC1: the first-run page creates the first practice on an empty server — only with the setup
code read on the server, never once a practice exists (404), all errors at once, nothing written
on a refusal."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from confide.core.models import Practice
from confide.site.practices import ensure_setup_code
from tests.factories import PracticeFactory
from tests.security.routes_helpers import snapshot

URL = "/setup/"


@pytest.fixture
def empty_server(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    assert not Practice.objects.exists()
    return tmp_path


def _form(code, **overrides):
    return {"setup_code": code, "name": "Harbour Physio", "slug": "harbour", "owner_email": "owner@harbour.example.test"} | overrides


def test_acc1_the_sign_in_page_links_to_set_up_on_an_empty_server_only(empty_server):
    assert reverse("site:setup") == URL
    assert f'href="{URL}"' in Client().get(reverse("accounts:login")).content.decode()
    PracticeFactory(slug="exists")
    assert f'href="{URL}"' not in Client().get(reverse("accounts:login")).content.decode()


def test_the_page_makes_a_setup_code_file_on_the_server_and_never_shows_it(empty_server):
    response = Client().get(URL)
    assert response.status_code == 200
    path = empty_server / "setup_code"
    code = path.read_text().strip()
    assert path.stat().st_mode & 0o777 == 0o600
    assert code not in response.content.decode()
    assert 'required' in response.content.decode()


def test_a_wrong_code_and_bad_fields_are_all_reported_and_nothing_written(empty_server):
    ensure_setup_code()
    before = snapshot()
    response = Client().post(URL, _form("000000-000000", slug="Not A Slug", owner_email="nope"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "That is not the setup code" in body and "lower-case letters" in body and "valid" in body
    assert snapshot() == before and mail.outbox == []


def test_acc1_the_right_code_creates_the_practice_and_invites_the_owner_then_the_page_is_gone(empty_server, django_capture_on_commit_callbacks):
    code = ensure_setup_code()
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(URL, _form(f"  {code.upper()} "))
    assert response.status_code == 200
    assert "Harbour Physio is set up" in response.content.decode()
    assert Practice.objects.get().slug == "harbour"
    assert mail.outbox[0].to == ["owner@harbour.example.test"]
    assert not (empty_server / "setup_code").exists()
    assert Client().get(URL).status_code == 404
    assert Client().post(URL, _form(code, slug="another")).status_code == 404
    assert Practice.objects.count() == 1


def test_the_page_is_404_once_any_practice_exists(world):
    assert Client().get(URL).status_code == 404
    assert Client().post(URL, _form("anything", slug="x")).status_code == 404
