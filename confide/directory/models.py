"""Practitioner profiles, the practice's website, booking requests, referrals (issue 16 items 6-9)."""


# --- booking (issue 16 item 8) ------------------------------------------------------------------
from django.conf import settings  # noqa: E402
from django.db import models  # noqa: E402
from django.db.models import Q  # noqa: E402

from confide.core.models import TenantModel  # noqa: E402
from django.core.validators import MaxLengthValidator  # noqa: E402

from confide.core.text import multi_line, single_line  # noqa: E402
from confide.vault.fields import EncryptedDateField, EncryptedJSONField, EncryptedTextField  # noqa: E402

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
