"""The rules for single values of a chart — a phone number, an e-mail address, administrative
sex — shared by the patient model's fields (`records/models.py`), the structured values and
clinical items (`records/clinical.py`), the forms and every importer, so that a value the web
form refuses is refused by the services and by a FHIR import too (issue 11, item 15).

What any text may contain (control characters, bidi overrides, invisible-only values) is
`confide.core.text`'s rule; lengths are declared where the field is.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, RegexValidator

SEXES = ("female", "male", "other", "unknown")  # administrative sex; FHIR's Patient.gender codes
PHONE_MESSAGE = "Enter a phone number: digits, spaces, + ( ) - . only."
EMAIL_MESSAGE = "Enter an email address such as name@example.org."

phone_number = RegexValidator(r"^[+0-9 ().\-]{5,40}\Z", PHONE_MESSAGE, code="invalid")
email_address = EmailValidator(EMAIL_MESSAGE)
# Not code="invalid_choice": a model field replaces that message with its own, which quotes the value.
administrative_sex = RegexValidator(rf"^(?:{'|'.join(SEXES)})\Z", "Choose female, male, other or unknown.", code="sex")


def as_value_error(validator):
    """The Django validator as a pydantic after-validator: an empty value passes (the field's
    own default), anything else must pass the validator or is a ValueError with its message."""

    def check(value: str) -> str:
        if value:
            try:
                validator(value)
            except ValidationError as exc:
                raise ValueError(exc.messages[0]) from None
        return value

    return check
