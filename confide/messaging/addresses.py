"""Phone numbers and e-mail addresses as the messaging tables keep them: blind indexes (keyed
HMAC of the normalised value, per practice), never the value (TRK1, rule 9)."""

from __future__ import annotations

import uuid

from confide.vault import blind_index
from confide.vault.blind_index import NotSearchable, normalise_email, normalise_phone

__all__ = ["NotSearchable", "e164", "email_blind", "phone_blind"]


def e164(phone: str) -> str:
    """The number in E.164 (+14155550100); NotSearchable when it is not a phone number."""
    return normalise_phone(phone)


def phone_blind(practice_id: uuid.UUID, phone: str) -> str:
    return blind_index.digest(practice_id, "phone", normalise_phone(phone))


def email_blind(practice_id: uuid.UUID, email: str) -> str:
    return blind_index.digest(practice_id, "email", normalise_email(email))
