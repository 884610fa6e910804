"""The public consultation page and the staff review pages, as a browser would use them."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.models import IntakeSubmission, Patient
from tests.conftest import CANARIES
from tests.records.consultations import form_data, submit
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


def test_the_form_shows_the_practices_questions_authorization_and_age_rule(world):
    html = Client().get(_url(world)).content.decode()
    assert "What would you like help with?" in html and "I authorize this practice" in html
    assert 'name="website"' in html and 'class="hp"' in html  # the honeypot
    assert "a parent or guardian fills this in" in html  # the default age rule: 18, guardian may start care


def test_a_visitor_sends_a_consultation_with_a_photo(world):
    response = Client().post(_url(world), {**form_data(world.a.practice), "q_photo": png_upload()})
    assert response.status_code == 200 and 'data-testid="received"' in response.content.decode()
    assert _count(world) == 1


def test_a_mistake_is_a_400_that_keeps_the_typed_answers_and_stores_nothing(world):
    data = form_data(world.a.practice, email="nope", q_reason="Rash <script>alert(1)</script>")
    response = Client().post(_url(world), data)
    html = response.content.decode()
    assert response.status_code == 400 and "Email: that is not an email address." in html
    assert "Rash &lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert _count(world) == 0


@pytest.mark.parametrize(("field", "label"), [("given_name", "First name"), ("q_reason", "What would you like help with?")])
@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f"], ids=["nul", "escape", "delete"])
def test_control_characters_are_refused_by_name_and_nothing_is_kept(world, field, label, character):
    response = Client().post(_url(world), form_data(world.a.practice, **{field: f"Noor{character}Haddad"}))
    assert response.status_code == 400
    assert f"{label}: remove the invisible control character it contains." in response.content.decode()
    assert _count(world) == 0


def test_line_breaks_and_tabs_in_an_answer_are_kept(world):
    response = Client().post(_url(world), form_data(world.a.practice, q_reason="Itchy rash\r\n\tboth forearms"))
    assert response.status_code == 200 and _count(world) == 1


def test_a_minor_without_a_guardian_is_refused_and_nothing_is_kept(world):
    data = form_data(world.a.practice, date_of_birth="2012-05-01")
    response = Client().post(_url(world), data)
    assert response.status_code == 400 and "a parent or guardian must give their name" in response.content.decode()
    assert _count(world) == 0


def test_too_many_consultations_from_one_client_are_a_429(world, settings):
    settings.CONFIDE_CONSULT_PER_HOUR = 1
    client = Client()
    assert client.post(_url(world), form_data(world.a.practice)).status_code == 200
    assert client.post(_url(world), form_data(world.a.practice)).status_code == 429
    assert _count(world) == 1


def test_the_honeypot_is_thanked_and_forgotten(world):
    response = Client().post(_url(world), form_data(world.a.practice, website="spam"))
    assert response.status_code == 200 and _count(world) == 0


def test_staff_review_accept_and_reject(world, signed_in):
    first, second = submit(world.a.practice, photo=True), submit(world.a.practice, client_ip="198.51.100.7")
    client = signed_in(Role.CLINICIAN)
    queue = client.get(reverse("intake:queue")).content.decode()
    assert queue.count('data-testid="intake-row"') == 2 and queue.count("<td>Noor Haddad</td>") == 2 and "An itchy rash on both forearms" in queue
    assert form_data(world.a.practice)["date_of_birth"] not in queue  # an age band, never the date of birth
    detail = client.get(reverse("intake:detail", kwargs={"submission_id": first.pk})).content.decode()
    assert "Noor Haddad" in detail and "An itchy rash on both forearms" in detail
    assert client.get(reverse("intake:photo", kwargs={"submission_id": first.pk, "photo_id": _photo_id(first)}))["Content-Type"] == "image/png"
    response = client.post(reverse("intake:accept", kwargs={"submission_id": first.pk}))
    assert response.status_code == 302
    assert client.post(reverse("intake:reject", kwargs={"submission_id": second.pk})).status_code == 302
    with tenant_context(practice_id=world.a.practice.id):
        assert Patient.objects.count() == 1
        assert list(IntakeSubmission.objects.values_list("status", flat=True)) == ["accepted"]
    assert client.get(reverse("intake:detail", kwargs={"submission_id": second.pk})).status_code == 404


@pytest.mark.parametrize("merge_into", ["not-a-uuid", "a\x00b", "x" * 5000])
def test_accepting_into_a_malformed_chart_id_is_refused_with_a_message_and_changes_nothing(world, signed_in, merge_into):
    submission = submit(world.a.practice)
    client = signed_in(Role.CLINICIAN)
    response = client.post(reverse("intake:accept", kwargs={"submission_id": submission.pk}), {"merge_into": merge_into}, follow=True)
    assert response.status_code == 200
    assert "The chart to add it to is not a patient of this practice" in response.content.decode()
    with tenant_context(practice_id=world.a.practice.id):
        assert Patient.objects.count() == 0
        assert IntakeSubmission.objects.get().status == "received"


def _photo_id(submission):
    with tenant_context(practice_id=submission.practice_id):
        return submission.photos.get().pk


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.BILLING, Role.PRIVACY_OFFICER])
def test_roles_that_do_not_review_consultations_get_403(world, signed_in, role):
    submission = submit(world.a.practice)
    client = signed_in(role)
    assert client.get(reverse("intake:queue")).status_code == 403
    assert client.get(reverse("intake:detail", kwargs={"submission_id": submission.pk})).status_code == 403


def test_the_owner_edits_the_form_and_errors_name_the_line(world, signed_in):
    client = signed_in(Role.OWNER)
    page = client.get(reverse("intake:form")).content.decode()
    assert "[[questions]]" in page
    response = client.post(reverse("intake:form"), {"definition": 'authorization_text = "too short"\n[[questions]]\nid = "x"\n'})
    assert response.status_code == 400 and "form, line 2: questions.0.label: this key is required" in response.content.decode()
    assert CANARIES["name"] not in response.content.decode()


@pytest.mark.parametrize("depth", [40, 5000])
def test_sec3_a_form_definition_nested_deeper_than_the_limit_is_a_400_naming_it(world, signed_in, depth):
    definition = 'authorization_text = "' + "I agree. " * 6 + '"\n[[questions]]\nid = "x"\nlabel = "X"\ntype = "text"\nhelp = ' + "[" * depth + "]" * depth + "\n"
    response = signed_in(Role.OWNER).post(reverse("intake:form"), {"definition": definition})
    assert response.status_code == 400
    assert "form, line 6: not valid here: TOML nested deeper than the limit of 16 levels" in response.content.decode()
    with tenant_context(practice_id=world.a.practice.id):
        from confide.records.models import IntakeForm

        assert IntakeForm.objects.count() == 1
