"""Directory services: the only code that changes profiles, the website or referrals.

    own_profile(actor)                         the practitioner's profile (made empty on first use)
    do_update_profile(actor=…, data, photo)    their own profile only (PROFILE_EDIT)
    do_set_sensitive / do_remove_sensitive     a sensitive attribute's row made / deleted at once (DIR2)
    do_publish(actor=…) / do_unpublish(…)      the practitioner's consent in the ledger (DIR1); the
                                               owner (WEBSITE_EDIT) may take a profile off, never publish
    do_update_website(actor=…, data, logo)     the owner's theme; a colour failing WCAG AA is refused
    do_refer(actor=…, name, email)             one sealed row, one e-mail after commit (DIR3)
    do_decline_referral(token)                 deletes the row, keeps a blind "do not contact" marker
    purge_referrals(now=None)                  deletes referrals older than 30 days
"""

from __future__ import annotations

import datetime
import logging
import re

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from confide.access import policy
from confide.accounts.models import Membership
from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.consent import services as consent
from confide.consent.topics import Channel, Method, Topic
from confide.core.actors import StaffActor
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.models import Practice
from confide.core.permissions import Perm, Role
from confide.core.tenancy import tenant_context
from confide.directory.models import Profile, Referral, ReferralDecline, SensitiveAttribute, SensitiveKind, Website
from confide.messaging.addresses import email_blind
from confide.vault import files
from confide.vault.allowance import allow

logger = logging.getLogger(__name__)

PROFILE_ROLES = frozenset({Role.CLINICIAN, Role.OWNER})
PROFILE_FIELDS = ("display_name", "credentials", "biography", "specialties", "languages", "education", "certifications", "insurance", "fees")
WEBSITE_FIELDS = ("tagline", "about", "primary_colour")
IMAGE_MAX_BYTES = 5 * 1024 * 1024
IMAGE_MAX_PIXELS = 25_000_000
REFERRAL_DAYS = 30
DECLINE_SALT = "confide.directory.referral-decline"
PUBLISH_TEXT = (
    "Publish my profile on the practice's website: my name, credentials, biography, specialties, languages, "
    "education, certifications, accepted insurance, fees, photo, and any sensitive attribute I entered. "
    "I can take it off at any time."
)
UNPUBLISH_TEXT = "Take my profile off the practice's website now."


def _require(actor, perm: Perm) -> None:
    if not isinstance(actor, StaffActor):
        raise Forbidden("staff only")
    if not actor.has(perm):
        raise Forbidden(perm)


# --- profiles ------------------------------------------------------------------------------------
def own_profile(actor) -> Profile:
    """The actor's own profile; only clinicians and owners have one (a profile is a practitioner's)."""
    _require(actor, Perm.PROFILE_EDIT)
    if actor.role not in PROFILE_ROLES:
        raise Forbidden("only practitioners have a profile")
    with tenant_context(practice_id=actor.practice_id):
        profile = Profile.objects.filter(membership_id=actor.membership_id).first()
        if profile is None:
            try:
                with transaction.atomic():
                    profile = Profile.objects.create(practice_id=actor.practice_id, membership_id=actor.membership_id)
            except IntegrityError:  # made by a parallel first visit
                profile = Profile.objects.get(membership_id=actor.membership_id)
        return profile


def _clean_text(data, name: str) -> str:
    value = data.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _image(upload, what: str) -> tuple[bytes, str]:
    """Size cap first, then the header (type by magic bytes, pixel cap), then re-encoded without EXIF."""
    try:
        clean = files.validate_upload(upload, declared_content_type=getattr(upload, "content_type", "") or "",
                                      max_bytes=IMAGE_MAX_BYTES, max_pixels=IMAGE_MAX_PIXELS, accepted=(files.JPEG, files.PNG))  # fmt: skip
    except files.FileRejected as exc:
        raise InvalidInput(f"The {what} was not accepted: {exc}") from None
    try:
        clean.file.seek(0)
        data = clean.file.read()
    finally:
        clean.file.close()
    return data, clean.content_type


def do_update_profile(*, actor, data, photo=None, request=None) -> Profile:
    profile = own_profile(actor)
    values = {name: _clean_text(data, name) for name in PROFILE_FIELDS}
    candidate = Profile(practice_id=profile.practice_id, membership_id=profile.membership_id, **values)
    try:
        candidate.full_clean(exclude=["membership", "practice"])
    except ValidationError as exc:
        errors = exc.message_dict
        first = next(iter(errors))
        raise InvalidInput(f"{first.replace('_', ' ').capitalize()}: {errors[first][0]}") from None
    if photo is not None:
        values["photo"], values["photo_type"] = _image(photo, "photo")
    if data.get("remove_photo") == "1" and photo is None:
        values["photo"], values["photo_type"] = None, ""
    changed = [name for name in values if getattr(profile, name) != values[name]]
    if not changed:
        return profile  # nothing to write, nothing to audit
    with transaction.atomic(), tenant_context(practice_id=actor.practice_id):
        updated = Profile.objects.filter(pk=profile.pk, version=profile.version).update(**values, version=profile.version + 1,
                                                                                        updated_at=timezone.now())  # fmt: skip
        if not updated:
            raise InvalidInput("The profile was changed in another window; reload the page and make the change again.")
        record(AuditEvent.PROFILE_UPDATED, practice_id=actor.practice_id, actor=actor, resource_ids=[profile.pk],
               fields_changed=changed, request=request)  # fmt: skip
    profile.refresh_from_db()
    return profile


def _parse_kind(kind) -> SensitiveKind:
    try:
        return SensitiveKind(kind)
    except ValueError:
        raise InvalidInput(f"Choose one of: {', '.join(SensitiveKind.labels)}.") from None


def do_set_sensitive(*, actor, kind, value, request=None) -> SensitiveAttribute:
    """A sensitive attribute exists only because the practitioner typed it, for the website only."""
    profile = own_profile(actor)
    checked = _parse_kind(kind)
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput("Type what you want shown, or leave the attribute out.")
    row = SensitiveAttribute(practice_id=profile.practice_id, profile=profile, kind=checked.value, value=text)
    try:
        row.full_clean(exclude=["profile", "practice"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidInput(f"{checked.label}: {next(iter(exc.message_dict.values()))[0]}") from None
    with transaction.atomic(), tenant_context(practice_id=actor.practice_id):
        SensitiveAttribute.objects.filter(profile=profile, kind=checked.value).delete()
        row.save()
        record(AuditEvent.PROFILE_UPDATED, practice_id=actor.practice_id, actor=actor, resource_ids=[profile.pk],
               fields_changed=[f"sensitive.{checked.value}"], request=request)  # fmt: skip
    return row


def do_remove_sensitive(*, actor, kind, request=None) -> None:
    profile = own_profile(actor)
    checked = _parse_kind(kind)
    with transaction.atomic(), tenant_context(practice_id=actor.practice_id):
        deleted, _ = SensitiveAttribute.objects.filter(profile=profile, kind=checked.value).delete()
        if deleted:
            record(AuditEvent.PROFILE_UPDATED, practice_id=actor.practice_id, actor=actor, resource_ids=[profile.pk],
                   fields_changed=[f"sensitive.{checked.value}"], detail={"removed": True}, request=request)  # fmt: skip


def do_publish(*, actor, request=None) -> Profile:
    """Only the practitioner publishes, and only as their own consent in the ledger."""
    profile = own_profile(actor)
    if not profile.display_name:  # the account's name until the practitioner types another
        with tenant_context(practice_id=actor.practice_id):
            name = Membership.objects.select_related("user").get(pk=actor.membership_id).user.display_name
            Profile.objects.filter(pk=profile.pk).update(display_name=name[:120])
    subject = consent.Subject.staff(actor.practice_id, actor.user_id)
    with transaction.atomic(), tenant_context(practice_id=actor.practice_id):
        event = consent.do_grant(actor=actor, subject=subject, topic=Topic.PROFILE_PUBLICATION, channel=Channel.WEB,
                                 method=Method.FORM_BUTTON, shown_text=PUBLISH_TEXT, request=request)  # fmt: skip
        Profile.objects.filter(pk=profile.pk).update(published=True, published_at=timezone.now(), version=profile.version + 1)
        record(AuditEvent.PROFILE_PUBLISHED, practice_id=actor.practice_id, actor=actor, resource_ids=[profile.pk, event.pk], request=request)
    profile.refresh_from_db()
    return profile


def do_unpublish(*, actor, profile_id=None, request=None) -> Profile:
    """The practitioner withdraws their consent (their own profile), or the owner takes a profile
    off the website (WEBSITE_EDIT); either takes it off at once. Only the first touches the ledger."""
    if profile_id is None:
        profile = own_profile(actor)
        by_self = True
    else:
        _require(actor, Perm.WEBSITE_EDIT)
        with tenant_context(practice_id=actor.practice_id):
            profile = Profile.objects.filter(pk=profile_id).first()
        if profile is None:
            raise NotFound("profile")
        by_self = profile.membership_id == actor.membership_id
    with transaction.atomic(), tenant_context(practice_id=actor.practice_id):
        if by_self:
            subject = consent.Subject.staff(actor.practice_id, actor.user_id)
            if consent.state(subject, Topic.PROFILE_PUBLICATION).granted:
                consent.do_withdraw(actor=actor, subject=subject, topic=Topic.PROFILE_PUBLICATION, channel=Channel.WEB,
                                    method=Method.FORM_BUTTON, shown_text=UNPUBLISH_TEXT, request=request)  # fmt: skip
        Profile.objects.filter(pk=profile.pk).update(published=False, published_at=None, version=profile.version + 1)
        record(AuditEvent.PROFILE_UNPUBLISHED, practice_id=actor.practice_id, actor=actor, resource_ids=[profile.pk],
               detail={"by": "self" if by_self else "owner"}, request=request)  # fmt: skip
    profile.refresh_from_db()
    return profile


def list_profiles(actor) -> list[Profile]:
    """Every practitioner profile of the practice (the owner's website page lists them)."""
    _require(actor, Perm.WEBSITE_EDIT)
    with tenant_context(practice_id=actor.practice_id):
        return list(Profile.objects.select_related("membership__user").order_by("display_name", "pk"))


# --- the website ---------------------------------------------------------------------------------
def website_of(practice_id) -> Website:
    with tenant_context(practice_id=practice_id):
        site = Website.objects.filter().first()
        if site is None:
            try:
                with transaction.atomic():
                    site = Website.objects.create(practice_id=practice_id)
            except IntegrityError:
                site = Website.objects.get()
        return site


_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def contrast_with_white(colour: str) -> float:
    """WCAG 2.x contrast ratio of `colour` (#rrggbb) against white text."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


def check_colour(colour: str) -> str:
    colour = (colour or "").strip()
    if not _HEX.match(colour):
        raise InvalidInput("Give the colour as # and six hexadecimal digits, for example #1f5f8b.")
    ratio = contrast_with_white(colour)
    if ratio < 4.5:
        raise InvalidInput(
            f"White text on {colour} has a contrast of {ratio:.2f}:1; WCAG AA needs at least 4.5:1 for people with low "
            "vision to read buttons and headings. Choose a darker colour.",
        )
    return colour.lower()


def do_update_website(*, actor, data, logo=None, request=None) -> Website:
    _require(actor, Perm.WEBSITE_EDIT)
    site = website_of(actor.practice_id)
    values = {"tagline": _clean_text(data, "tagline"), "about": _clean_text(data, "about"),
              "primary_colour": check_colour(_clean_text(data, "primary_colour")), "published": data.get("published") == "1"}  # fmt: skip
    candidate = Website(practice_id=actor.practice_id, **values)
    try:
        candidate.full_clean(exclude=["practice"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        first = next(iter(exc.message_dict))
        raise InvalidInput(f"{first.replace('_', ' ').capitalize()}: {exc.message_dict[first][0]}") from None
    if logo is not None:
        values["logo"], values["logo_type"] = _image(logo, "logo")
    changed = [name for name in values if getattr(site, name) != values[name]]
    if not changed:
        return site
    with transaction.atomic(), tenant_context(practice_id=actor.practice_id):
        Website.objects.filter(pk=site.pk).update(**values, version=site.version + 1, updated_at=timezone.now())
        record(AuditEvent.WEBSITE_UPDATED, practice_id=actor.practice_id, actor=actor, resource_ids=[site.pk],
               fields_changed=changed, request=request)  # fmt: skip
    site.refresh_from_db()
    return site


# --- referrals (DIR3) ----------------------------------------------------------------------------
def decline_token(referral: Referral) -> str:
    return signing.dumps({"p": str(referral.practice_id), "r": str(referral.pk)}, salt=DECLINE_SALT, compress=True)


def decline_link(practice: Practice, referral: Referral) -> str:
    path = reverse("directory:referral-decline", kwargs={"practice_slug": practice.slug})
    return f"{settings.CONFIDE_BASE_URL.rstrip('/')}{path}?t={decline_token(referral)}"


def _referrer_name(actor) -> str:
    with tenant_context(practice_id=actor.practice_id):
        profile = Profile.objects.filter(membership_id=actor.membership_id).first()
        if profile and profile.display_name:
            return profile.display_name
        return Membership.objects.select_related("user").get(pk=actor.membership_id).user.display_name


class ReferralRefused(InvalidInput):
    pass


def do_refer(*, actor, name, email, request=None) -> Referral:
    """One sealed row and one e-mail after commit. A second referral of the same address while the
    first is held, or of an address that declined, is refused without an e-mail."""
    from confide.accounts.invitations import clean_email

    _require(actor, Perm.COLLEAGUE_REFER)
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 120 or any(c in name for c in "\r\n"):
        raise InvalidInput("Enter your colleague's name (one line, up to 120 characters).")
    address = clean_email(email)
    practice = Practice.objects.get(pk=actor.practice_id)
    with tenant_context(practice_id=actor.practice_id):
        blind = email_blind(actor.practice_id, address)
        if ReferralDecline.objects.filter(email_blind=blind).exists():
            _refused(actor, "declined", request)
            raise ReferralRefused("This person asked not to be contacted by the practice; no e-mail was sent.")
        row = Referral(practice_id=actor.practice_id, referred_by_id=actor.membership_id, email_blind=blind)
        try:
            with transaction.atomic():
                with allow({policy.NAME, policy.EMAIL}, subjects={row.pk}):
                    row.name = name
                    row.email = address
                    row.sent_at = timezone.now()
                    row.save()
                record(AuditEvent.REFERRAL_SENT, practice_id=actor.practice_id, actor=actor, resource_ids=[row.pk], request=request)
                body = (
                    f"{_referrer_name(actor)} at {practice.name} suggested that the practice get in touch with you, "
                    f"{name}, and asked Confide to let you know.\n\n"
                    "This is the only e-mail you will receive about it. Your name and address are used for nothing "
                    f"else and are deleted within {REFERRAL_DAYS} days.\n\n"
                    f"To decline any further contact and delete them now, open:\n{decline_link(practice, row)}\n"
                )
                transaction.on_commit(lambda: send_mail(subject=f"A colleague at {practice.name} referred you",
                                                        message=body, from_email=None, recipient_list=[address]))  # fmt: skip
        except IntegrityError:
            _refused(actor, "already-referred", request)
            raise ReferralRefused("This person was referred recently; they have had their one e-mail.") from None
    return row


def _refused(actor, reason: str, request) -> None:
    record(AuditEvent.REFERRAL_REFUSED, practice_id=actor.practice_id, actor=actor, detail={"reason": reason}, request=request)


def referral_for_token(practice: Practice, token: str) -> Referral | None:
    """The referral a decline link names, or None when the link is bad or the row is gone."""
    try:
        payload = signing.loads(token or "", salt=DECLINE_SALT)
    except signing.BadSignature:
        raise NotFound("referral") from None
    if not isinstance(payload, dict) or payload.get("p") != str(practice.id):
        raise NotFound("referral")
    with tenant_context(practice_id=practice.id):
        return Referral.objects.filter(pk=payload.get("r")).first()


def do_decline_referral(*, practice: Practice, token: str, request=None) -> None:
    """Delete the referral now and remember only the blind index, so no second e-mail goes."""
    referral = referral_for_token(practice, token)
    if referral is None:
        return  # already declined or purged: nothing is held
    with transaction.atomic(), tenant_context(practice_id=practice.id):
        deleted, _ = Referral.objects.filter(pk=referral.pk).delete()
        if not deleted:
            return
        ReferralDecline.objects.get_or_create(practice_id=practice.id, email_blind=referral.email_blind)
        record(AuditEvent.REFERRAL_DECLINED, practice_id=practice.id, resource_ids=[referral.pk])


def purge_referrals(now: datetime.datetime | None = None) -> int:
    """Delete every referral older than 30 days, in every practice (the scheduled job)."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=REFERRAL_DAYS)
    total = 0
    for practice_id in Practice.objects.values_list("id", flat=True):
        with transaction.atomic(), tenant_context(practice_id=practice_id):
            deleted, _ = Referral.objects.filter(created_at__lt=cutoff).delete()
            if deleted:
                record(AuditEvent.REFERRALS_PURGED, practice_id=practice_id, detail={"count": deleted})
                total += deleted
    return total


