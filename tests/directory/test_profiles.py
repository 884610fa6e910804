"""DIR1/DIR2: a practitioner's own profile, published only by their own choice (a consent event
in the ledger), sensitive attributes that exist only when entered, photos that must be images."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.consent.models import ConsentEvent
from confide.consent.topics import SubjectKind, Topic
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.directory.models import Profile, SensitiveAttribute, Website
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

DETAILS = {"display_name": "Dr. Rowan Ashby", "credentials": "PhD, LMFT", "biography": "Works with couples.\nAnd families.",
           "specialties": "Couples\nAnxiety", "languages": "English, Spanish", "education": "PhD, Example University",
           "certifications": "Gottman Level 2", "insurance": "Aetna", "fees": "$150 per session"}  # fmt: skip


def _publish_site(practice):
    with tenant_context(practice_id=practice.id):
        Website.objects.update_or_create(practice_id=practice.id, defaults={"published": True})


def _profile(world, role=Role.CLINICIAN):
    with tenant_context(practice_id=world.a.practice.id):
        return Profile.objects.get(membership=world.a.memberships[role])


def _jpeg_with_exif() -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "CanaryCam"  # Make
    Image.new("RGB", (40, 30), "#336699").save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_dir1_clinician_edits_publishes_and_unpublishes_own_profile_through_the_views(world):
    _publish_site(world.a.practice)
    client = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice)
    assert client.get(reverse("directory:profile")).status_code == 200
    photo = SimpleUploadedFile("me.jpg", _jpeg_with_exif(), content_type="image/jpeg")
    assert client.post(reverse("directory:profile"), {**DETAILS, "photo": photo}).status_code == 302
    profile = _profile(world)
    assert (profile.display_name, profile.languages, profile.published) == ("Dr. Rowan Ashby", "English, Spanish", False)
    assert bytes(profile.photo).startswith(b"\xff\xd8") and b"CanaryCam" not in bytes(profile.photo)  # re-encoded, EXIF gone
    team_url = reverse("directory:team", kwargs={"practice_slug": world.a.practice.slug})
    assert "Rowan Ashby" not in Client().get(team_url).content.decode()  # not before the practitioner publishes

    assert client.post(reverse("directory:profile-publish")).status_code == 302
    assert _profile(world).published
    with tenant_context(practice_id=world.a.practice.id):
        event = ConsentEvent.objects.get(topic=Topic.PROFILE_PUBLICATION.value)
    assert (event.subject_kind, event.subject_id, event.action) == (SubjectKind.STAFF.value, str(world.a.user(Role.CLINICIAN).id), "grant")
    page = Client().get(team_url)
    assert "Rowan Ashby" in page.content.decode()
    person = Client().get(reverse("directory:practitioner", kwargs={"practice_slug": world.a.practice.slug, "profile_id": profile.id}))
    assert "Gottman Level 2" in person.content.decode()

    assert client.post(reverse("directory:profile-unpublish")).status_code == 302
    assert "Rowan Ashby" not in Client().get(team_url).content.decode()
    assert Client().get(reverse("directory:practitioner", kwargs={"practice_slug": world.a.practice.slug, "profile_id": profile.id})).status_code == 404
    with tenant_context(practice_id=world.a.practice.id):
        assert list(ConsentEvent.objects.filter(topic=Topic.PROFILE_PUBLICATION.value).values_list("action", flat=True)) == ["grant", "withdraw"]
        assert set(AuditEntry.objects.filter(event__startswith="directory:").values_list("event", flat=True)) == {
            AuditEvent.PROFILE_UPDATED, AuditEvent.PROFILE_PUBLISHED, AuditEvent.PROFILE_UNPUBLISHED}


def test_dir2_sensitive_attributes_absent_unless_entered_removed_at_once_and_gone_from_the_public_page(world):
    _publish_site(world.a.practice)
    client = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice)
    client.post(reverse("directory:profile"), DETAILS)
    client.post(reverse("directory:profile-publish"))
    profile = _profile(world)
    with tenant_context(practice_id=world.a.practice.id):
        assert not SensitiveAttribute.objects.exists()  # nothing stored until entered
    form = client.get(reverse("directory:profile")).content.decode()
    assert "only shown on your public profile" in form and "Sensitive" in form
    url = reverse("directory:practitioner", kwargs={"practice_slug": world.a.practice.slug, "profile_id": profile.id})
    assert 'data-testid="sensitive-religion"' not in Client().get(url).content.decode()

    assert client.post(reverse("directory:profile-sensitive"), {"kind": "religion", "value": "Quaker", "action": "set"}).status_code == 302
    assert "Quaker" in Client().get(url).content.decode()
    assert client.post(reverse("directory:profile-sensitive"), {"kind": "religion", "action": "remove"}).status_code == 302
    with tenant_context(practice_id=world.a.practice.id):
        assert not SensitiveAttribute.objects.exists()  # the row is deleted, not blanked
    assert "Quaker" not in Client().get(url).content.decode()
    bad = client.post(reverse("directory:profile-sensitive"), {"kind": "blood_type", "value": "O", "action": "set"})
    assert bad.status_code == 400 and "Choose one of" in bad.content.decode()


def test_a_profile_photo_that_is_not_an_image_is_refused_and_nothing_is_stored(world):
    client = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice)
    client.get(reverse("directory:profile"))
    fake = SimpleUploadedFile("me.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
    response = client.post(reverse("directory:profile"), {**DETAILS, "photo": fake})
    assert response.status_code == 400
    assert "photo was not accepted" in response.content.decode()
    profile = _profile(world)
    assert profile.photo is None and profile.display_name == ""  # nothing half-written


def test_another_clinician_or_the_owner_cannot_edit_or_publish_your_profile(world):
    from confide.core.actors import StaffActor
    from confide.core.errors import Forbidden
    from confide.directory import services

    _publish_site(world.a.practice)
    mine = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice)
    mine.post(reverse("directory:profile"), DETAILS)
    profile = _profile(world)
    # The owner's "My profile" is the owner's own: posting there never touches the clinician's.
    owner = sign_in(Client(), world.a.user(Role.OWNER), world.a.practice)
    owner.post(reverse("directory:profile"), {**DETAILS, "display_name": "Owner Edit"})
    owner.post(reverse("directory:profile-publish"))
    assert _profile(world).display_name == "Dr. Rowan Ashby" and not _profile(world).published
    # The front desk has no profile at all; another practice's owner cannot reach the profile.
    desk = sign_in(Client(), world.a.user(Role.FRONT_DESK), world.a.practice)
    assert desk.post(reverse("directory:profile-publish")).status_code == 403
    other = sign_in(Client(), world.b.user(Role.OWNER), world.b.practice)
    assert other.post(reverse("directory:website-unpublish-profile", kwargs={"profile_id": profile.id})).status_code == 404
    # The owner may take a published profile off the website, never publish one.
    mine.post(reverse("directory:profile-publish"))
    assert owner.post(reverse("directory:website-unpublish-profile", kwargs={"profile_id": profile.id})).status_code == 302
    assert not _profile(world).published
    with pytest.raises(Forbidden):
        services.do_update_profile(actor=StaffActor.from_membership(world.a.memberships[Role.FRONT_DESK]), data=DETAILS)
