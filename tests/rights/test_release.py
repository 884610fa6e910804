"""DSC1 / RTS3 M10: a records release link records its own disclosure (once, in the same
transaction), ends at its expiry or when revoked (410), refuses wrong tokens (404, then 429),
is another practice's 404, is audited when opened, and carries the amendment packet of a
disputed part: the request, the denial, the statement of disagreement and the rebuttal."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.disclosures.models import Disclosure
from confide.rights import amendments, release
from confide.rights.models import ReleaseLink
from tests.conftest import sign_in
from tests.rights.amend_helpers import ASKED, NOTE_TEXT, officer_with_phone, signed_note, staff, started, version_of

LATER = datetime.datetime(2027, 3, 1, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _create(pw, patient, **kw):
    args = dict(actor=staff(pw), patient_id=patient.pk, recipient="Dr Rivera, Bay Cardiology", basis="other_provider",
                categories=["health.notes"])  # fmt: skip
    return release.create_release(**(args | kw))


def _open(token):
    return Client().get(reverse("rights:release-open", args=[token]))


def _disclosures(pw):
    with tenant_context(practice_id=pw.practice.id):
        return list(Disclosure.objects.filter(source="release"))


def test_dsc1_creating_a_link_records_one_disclosure_with_it(world, portal):
    signed_note(world.a, portal.adult.patient)
    link, token = _create(world.a, portal.adult.patient)
    [disclosure] = _disclosures(world.a)
    assert disclosure.source_id == link.pk and disclosure.patient_id == portal.adult.patient.pk
    assert disclosure.categories == ["health.notes"] and disclosure.basis == "other_provider"
    with tenant_context(practice_id=world.a.practice.id):
        row = ReleaseLink.objects.get(pk=link.pk)
        created = AuditEntry.objects.filter(event=AuditEvent.RELEASE_CREATED).get()
    assert token not in row.token_hash and row.token_hash == release.token_hash(token)  # only the hash is kept
    assert str(disclosure.pk) in created.resource_ids and "Rivera" not in str(created.detail)
    assert abs(row.expires_at - row.created_at - datetime.timedelta(days=14)) < datetime.timedelta(minutes=1)


def test_dsc1_no_link_without_its_disclosure(world, portal):
    """The disclosure fails: the link is not left behind (one transaction)."""
    with mock.patch("confide.disclosures.services.record_disclosure", side_effect=InvalidInput("boom")):
        with pytest.raises(InvalidInput):
            _create(world.a, portal.adult.patient)
    with tenant_context(practice_id=world.a.practice.id):
        assert not ReleaseLink.objects.exists()


@pytest.mark.parametrize(
    "change, message",
    [({"categories": []}, "at least one"), ({"categories": ["health.psychotherapy_notes"]}, "from the list"),
     ({"days": 31}, "from 1 to 30"), ({"days": "x"}, "from 1 to 30"), ({"basis": "subpoena"}, "from the list"),
     ({"recipient": ""}, "Recipient")],
)  # fmt: skip
def test_dsc1_bad_input_is_refused_and_nothing_is_written(world, portal, change, message):
    with pytest.raises(InvalidInput, match=message):
        _create(world.a, portal.adult.patient, **change)
    with tenant_context(practice_id=world.a.practice.id):
        assert not ReleaseLink.objects.exists() and not Disclosure.objects.exists()


def test_dsc1_only_clinicians_and_owners_release_and_another_practices_patient_is_not_found(world, portal):
    for role in (Role.PRIVACY_OFFICER, Role.FRONT_DESK, Role.BILLING):
        with pytest.raises(Forbidden):
            _create(world.a, portal.adult.patient, actor=staff(world.a, role))
    with pytest.raises(NotFound):
        _create(world.a, portal.adult.patient, actor=staff(world.b))
    assert _disclosures(world.a) == []


def test_dsc1_the_link_shows_the_released_part_and_is_audited(world, portal):
    signed_note(world.a, portal.adult.patient)
    link, token = _create(world.a, portal.adult.patient)
    response = _open(token)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert NOTE_TEXT in html and "Ada Portal" in html and "Medications" not in html
    with tenant_context(practice_id=world.a.practice.id):
        opened = AuditEntry.objects.filter(event=AuditEvent.RELEASE_OPENED).get()
        assert ReleaseLink.objects.get(pk=link.pk).opened_count == 1
    assert opened.resource_ids == [str(link.pk)] and opened.actor_kind == "system"


def test_dsc1_an_expired_link_is_gone(world, portal):
    _, token = _create(world.a, portal.adult.patient, days=2)
    with time_machine.travel(LATER, tick=False):
        assert _open(token).status_code == 410


def test_dsc1_a_revoked_link_is_gone_at_once(world, portal):
    link, token = _create(world.a, portal.adult.patient)
    release.revoke_release(actor=staff(world.a), link_id=link.pk)
    assert _open(token).status_code == 410
    with pytest.raises(NotFound):
        release.revoke_release(actor=staff(world.b), link_id=link.pk)


def test_dsc1_wrong_tokens_are_not_found_then_rate_limited(world, portal):
    _, token = _create(world.a, portal.adult.patient)
    practice_hex, _, secret = token.partition(".")
    assert _open("nonsense").status_code == 404
    assert _open(f"{practice_hex}.{'A' * 43}").status_code == 404
    for _ in range(release.RATE_LIMIT):
        _open(f"{practice_hex}.{'B' * 43}")
    assert _open(token).status_code == 429  # this address is refused, even with the right token


def test_dsc1_a_token_under_another_practice_is_not_found(world, portal):
    _, token = _create(world.a, portal.adult.patient)
    other = world.b.practice.id.hex + "." + token.partition(".")[2]
    assert _open(other).status_code == 404


def test_rts3_m10_the_release_of_a_disputed_part_carries_the_whole_packet(world, portal):
    officer_with_phone(world.a)
    req, made, _ = started(world.a, portal.adult)
    amendments.deny_amendment(
        actor=staff(world.a), request_id=req.pk, expected_version=version_of(req), basis="accurate_complete",
        explanation="The note records what you said at the visit.",
    )  # fmt: skip
    amendments.file_disagreement(actor=portal.adult.actor, amendment_id=made.pk, text="I have never smoked in my life.")
    amendments.write_rebuttal(actor=staff(world.a), request_id=req.pk, text="The clinician wrote down what was said.")
    _, token = _create(world.a, portal.adult.patient)
    html = _open(token).content.decode()
    assert 'data-testid="release-amendments"' in html
    assert ASKED in html  # the request
    assert "accurate and complete" in html and "The note records what you said at the visit." in html  # the denial
    assert "I have never smoked in my life." in html  # the disagreement
    assert "The clinician wrote down what was said." in html  # the rebuttal
    # A release of another part carries no packet.
    _, other = _create(world.a, portal.adult.patient, categories=["health.medications"])
    assert 'data-testid="release-amendments"' not in _open(other).content.decode()


def test_dsc1_the_staff_page_creates_a_link_shows_it_once_and_revokes_it(world, portal, client):
    sign_in(client, world.a.users[Role.CLINICIAN], world.a.practice)
    page = reverse("rights:release-new", args=[portal.adult.patient.pk])
    assert client.get(page).status_code == 200
    bad = client.post(page, {"recipient": "Dr Rivera", "basis": "other_provider", "days": "14"})
    assert bad.status_code == 400 and "at least one" in bad.content.decode()
    made = client.post(page, {"recipient": "Dr Rivera", "basis": "other_provider", "days": "14", "categories": ["health.notes"]})
    html = made.content.decode()
    assert made.status_code == 200 and 'data-testid="release-url"' in html
    url = html.split(' id="release-url"')[0].rsplit('value="', 1)[1].split('"')[0]
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert _open(token).status_code == 200
    assert token not in client.get(page).content.decode()  # shown once
    [link] = release.list_releases(actor=staff(world.a), patient_id=portal.adult.patient.pk)
    assert client.post(reverse("rights:release-revoke", args=[link.pk])).status_code == 302
    assert _open(token).status_code == 410
    sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
    assert client.get(page).status_code == 403
