"""POL2 in the platform: the banner every signed-in member of the practice sees while a material
change is coming (and for 30 days after), and "I have read it" (POST, CSRF) that ends it for them."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.test import Client
from django.urls import reverse

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy.models import NoticeAcknowledgement
from tests.conftest import sign_in

MATERIAL = '[age]\nminimum = 13\n'
SUMMARY = "From 13, teenagers may start care with a guardian's authorization."
DASHBOARD = reverse("core:dashboard")


def _banner(html: str) -> str | None:
    match = re.search(r'<div class="alert[^"]*" data-testid="notice-banner">(.*?)</div>', html, re.S)
    return match.group(1) if match else None


def _accept_url(version) -> str:
    return reverse("policy:acknowledge", kwargs={"version_id": version.pk})


def test_pol2_every_member_sees_the_banner_for_an_upcoming_material_change(world, publish):
    version = publish(MATERIAL, days=31, material=True, summary=SUMMARY)
    for role in Role:
        html = sign_in(Client(), world.a.user(role), world.a.practice).get(DASHBOARD).content.decode()
        banner = _banner(html)
        assert banner is not None, role
        assert f"Practice A's privacy notice changes on {version.effective_at:%B} {version.effective_at.day}, {version.effective_at.year}" in banner
        assert "From 13, teenagers may start care with a guardian&#x27;s authorization." in banner
        assert f'href="/p/a/privacy/versions/{version.number}/">Read the changes</a>' in banner
        assert f'action="{_accept_url(version)}"' in banner and ">I have read it</button>" in banner


def test_no_banner_without_a_material_change_or_for_another_practice(world, publish):
    publish('[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n')
    publish(MATERIAL, days=31, material=True, actor=StaffActor.from_membership(world.b.memberships[Role.PRIVACY_OFFICER]))
    html = sign_in(Client(), world.a.user(Role.FRONT_DESK), world.a.practice).get(DASHBOARD).content.decode()
    assert _banner(html) is None


def test_no_banner_before_the_second_factor(world, publish):
    publish(MATERIAL, days=31, material=True, summary=SUMMARY)
    client = Client()
    client.force_login(world.a.user(Role.FRONT_DESK), backend="django.contrib.auth.backends.ModelBackend")
    html = client.get(reverse("accounts:mfa-verify")).content.decode()
    assert "Enter your code" in html and _banner(html) is None


def test_pol2_i_have_read_it_records_acceptance_and_the_banner_is_gone_for_that_person_only(world, publish):
    version = publish(MATERIAL, days=31, material=True, summary=SUMMARY)
    client = sign_in(Client(), world.a.user(Role.FRONT_DESK), world.a.practice)
    response = client.post(_accept_url(version), {"next": reverse("records:patient-list")})
    assert response.status_code == 302 and response["Location"] == reverse("records:patient-list")
    with tenant_context(practice_id=world.a.practice.id):
        rows = list(NoticeAcknowledgement.objects.values_list("version_id", "subject_kind", "subject_id", "kind"))
    assert rows == [(version.pk, "staff", str(world.a.user(Role.FRONT_DESK).pk), "accepted")]
    html = client.get(DASHBOARD).content.decode()
    assert _banner(html) is None and "it is recorded that you have read version 2" in html
    other = sign_in(Client(), world.a.user(Role.BILLING), world.a.practice).get(DASHBOARD).content.decode()
    assert _banner(other) is not None


def test_an_outside_next_goes_to_the_dashboard(world, publish):
    version = publish(MATERIAL, days=31, material=True)
    client = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice)
    response = client.post(_accept_url(version), {"next": "https://evil.example/"})
    assert response["Location"] == DASHBOARD


def test_i_have_read_it_needs_the_csrf_token(world, publish):
    version = publish(MATERIAL, days=31, material=True)
    client = sign_in(Client(enforce_csrf_checks=True), world.a.user(Role.CLINICIAN), world.a.practice)
    client.get(DASHBOARD)
    assert client.post(_accept_url(version)).status_code == 403
    with tenant_context(practice_id=world.a.practice.id):
        assert not NoticeAcknowledgement.objects.exists()
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert client.post(_accept_url(version), {"csrfmiddlewaretoken": token}).status_code == 302


def test_another_practices_version_answers_like_a_missing_one(world, publish):
    theirs = publish(MATERIAL, days=31, material=True, actor=StaffActor.from_membership(world.b.memberships[Role.PRIVACY_OFFICER]))
    client = sign_in(Client(), world.a.owner, world.a.practice)
    assert client.post(_accept_url(theirs)).status_code == 404
    assert client.post(reverse("policy:acknowledge", kwargs={"version_id": uuid.uuid4()})).status_code == 404
    with tenant_context(practice_id=world.b.practice.id):
        assert not NoticeAcknowledgement.objects.exists()


def test_anonymous_cannot_acknowledge(world, publish):
    version = publish(MATERIAL, days=31, material=True)
    response = Client().post(_accept_url(version))
    assert response.status_code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL))


def test_pol2_the_banner_reads_as_a_sentence_without_a_stray_dash(world, publish):
    publish(MATERIAL, days=31, material=True, summary=SUMMARY)
    html = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice).get(DASHBOARD).content.decode()
    text = re.search(r'<p class="mb-0 me-auto">(.*?)</p>', _banner(html), re.S).group(1)
    assert text.endswith("guardian&#x27;s authorization.")
    assert "—" not in _banner(html)
