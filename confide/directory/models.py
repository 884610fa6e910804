"""Practitioner profiles, the practice's website, referrals (issue 16 items 6, 7, 9).

* `Profile`: one per clinician/owner membership, edited only by its practitioner; `published`
  follows the practitioner's own consent in the ledger (topic `profile_publication`, DIR1).
* `SensitiveAttribute`: race, ethnicity, sexual orientation, religion; a row exists only while
  the practitioner has entered it for the website, and is deleted when removed (DIR2).
* `Website`: the practice's public pages' settings (published, tagline, about, colour, logo).
* `BookingRequest`: a visitor's request for a slot from the website, sealed under its own key
  until staff accept it into a chart or decline it (issue 16 item 8).
* `Referral`: a colleague's name and e-mail, sealed under the practice key, used only for the
  one e-mail and deleted on decline or after 30 days (DIR3). `ReferralDecline` keeps only the
  blind index of an address that asked not to be contacted again.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q

from confide.core.models import TenantModel
from confide.core.text import multi_line, single_line
from confide.vault.fields import EncryptedDateField, EncryptedJSONField, EncryptedTextField


class Profile(TenantModel):
    membership = models.OneToOneField("accounts.Membership", on_delete=models.CASCADE, related_name="+")
    display_name = models.CharField(max_length=120, blank=True, validators=[single_line])
    credentials = models.CharField(max_length=120, blank=True, validators=[single_line])  # "PhD, LMFT"
    biography = models.TextField(max_length=4000, blank=True, validators=[multi_line])
    specialties = models.TextField(max_length=1000, blank=True, validators=[multi_line])  # one a line
    languages = models.CharField(max_length=300, blank=True, validators=[single_line])
    education = models.TextField(max_length=1000, blank=True, validators=[multi_line])
    certifications = models.TextField(max_length=1000, blank=True, validators=[multi_line])
    insurance = models.TextField(max_length=1000, blank=True, validators=[multi_line])
    fees = models.TextField(max_length=1000, blank=True, validators=[multi_line])
    # Re-encoded bytes (no EXIF); public once published, so not sealed.
    photo = models.BinaryField(null=True, blank=True, editable=False)
    photo_type = models.CharField(max_length=16, blank=True, validators=[single_line])
    published = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return f"profile:{self.pk}"

    @staticmethod
    def lines(text: str) -> list[str]:
        return [line.strip() for line in (text or "").splitlines() if line.strip()]


class SensitiveKind(models.TextChoices):
    RACE = "race", "Race"
    ETHNICITY = "ethnicity", "Ethnicity"
    ORIENTATION = "sexual_orientation", "Sexual orientation"
    RELIGION = "religion", "Religion"


class SensitiveAttribute(TenantModel):
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="sensitive")
    kind = models.CharField(max_length=24, choices=SensitiveKind.choices)
    value = models.CharField(max_length=120, validators=[single_line])

    class Meta:
        ordering = ["kind"]
        constraints = [models.UniqueConstraint(fields=["profile", "kind"], name="directory_sensitive_one_per_kind")]

    def __str__(self) -> str:
        return f"sensitive:{self.kind}"


class Website(TenantModel):
    published = models.BooleanField(default=False)
    tagline = models.CharField(max_length=160, blank=True, validators=[single_line])
    about = models.TextField(max_length=4000, blank=True, validators=[multi_line])
    primary_colour = models.CharField(max_length=7, default="#1f5f8b", validators=[single_line])
    logo = models.BinaryField(null=True, blank=True, editable=False)
    logo_type = models.CharField(max_length=16, blank=True, validators=[single_line])
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["practice"], name="directory_website_one_per_practice")]

    def __str__(self) -> str:
        return f"website:{self.pk}"


class Referral(TenantModel):
    referred_by = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="+")
    email_blind = models.CharField(max_length=32)
    name = EncryptedTextField(category="identifiers.name", scope="p", validators=[single_line])
    email = EncryptedTextField(category="contact.email", scope="p", validators=[single_line])
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        # One live referral per address: two submissions racing insert one row, one e-mail.
        constraints = [models.UniqueConstraint(fields=["practice", "email_blind"], name="directory_referral_one_per_address")]

    def __str__(self) -> str:
        return f"referral:{self.pk}"


class ReferralDecline(TenantModel):
    """"Do not contact me again": the address's blind index only."""

    email_blind = models.CharField(max_length=32)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["practice", "email_blind"], name="directory_decline_one_per_address")]

    def __str__(self) -> str:
        return f"referral-decline:{self.pk}"
# --- booking (issue 16 item 8) ------------------------------------------------------------------
REASON_MAX = 1000


def _line(limit: int) -> list:
    return [single_line, MaxLengthValidator(limit)]


class BookingRequest(TenantModel):
    """A visitor's request for a slot, from the practice's website (directory/booking.py).

    Until staff accept it the visitor is not a patient, so the request is a data subject of its
    own, like an online consultation: what they typed is sealed under the request's own key
    (`subject_field` defaults to the row's id). Accepting copies it into a chart and books the
    appointment, then shreds the request's key; declining deletes the row and shreds the key.
    A pending request holds its slot against other website requests: the partial unique
    constraint below lets one of two visitors racing for one start commit."""

    DATA_SUBJECT_ROOT = True  # confide/policy/reachability.py: a subject of its own, not yet a patient

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        ACCEPTED = "accepted", "Accepted"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    clinician = models.ForeignKey("accounts.Membership", on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey("scheduling.AppointmentType", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    authorization_hash = models.CharField(max_length=64)  # SHA-256 of the exact authorization text shown
    submitted_by_guardian = models.BooleanField(default=False)
    # MIN1: the minimum to book: who, born when, how to answer them, and (optional) why.
    given_name = EncryptedTextField(category="identifiers.name", validators=_line(300))
    family_name = EncryptedTextField(category="identifiers.name", validators=_line(300))
    date_of_birth = EncryptedDateField(category="identifiers.dob")
    email = EncryptedTextField(category="contact.email", validators=_line(254))
    phone = EncryptedTextField(category="contact.phone", validators=_line(40))
    guardian = EncryptedJSONField(category="contact.guardian")  # name, relationship, phone, email
    reason = EncryptedTextField(category="health.intake", validators=[multi_line, MaxLengthValidator(REASON_MAX)])
    patient = models.ForeignKey("records.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    appointment = models.ForeignKey("scheduling.Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinician", "starts_at"], condition=Q(status="pending"), name="booking_request_holds_slot"
            ),
        ]

    def __str__(self) -> str:
        return f"booking-request:{self.pk}"
