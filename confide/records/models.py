from __future__ import annotations

from django.db import models

from confide.core.models import TenantModel
from confide.vault.fields import EncryptedDateField, EncryptedJSONField, EncryptedTextField


class Patient(TenantModel):
    """A data subject. Every identifying or health field is encrypted under the patient's key."""

    given_name = EncryptedTextField(category="identifiers.name")
    family_name = EncryptedTextField(category="identifiers.name")
    preferred_name = EncryptedTextField(category="identifiers.name")
    date_of_birth = EncryptedDateField(category="identifiers.dob")
    email = EncryptedTextField(category="contact.email")
    phone = EncryptedTextField(category="contact.phone")
    health_background = EncryptedTextField(category="health.background")
    medications = EncryptedJSONField(category="health.medications")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"patient:{self.pk}"  # never a name: str() ends up in logs and reprs
