"""The rules for single values of a chart — a phone number, an e-mail address, administrative
sex — shared by the patient model's fields (`records/models.py`), the structured values and
clinical items (`records/clinical.py`), the forms and every importer, so that a value the web
form refuses is refused by the services and by a FHIR import too (issue 11, item 15).

What any text may contain (control characters, bidi overrides, invisible-only values) is
`confide.core.text`'s rule; lengths are declared where the field is.
"""

from __future__ import annotations

import re

import phonenumbers
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


# --- how a person's name and phone number are shown ------------------------------------------------
def display_name(given, family, preferred=None) -> str:
    """The one way a patient's name is written, in the patient list, the chart header and the
    duplicate warning: "Given Family (Preferred)", the preferred name only when it differs."""
    given, family, preferred = (str(v or "").strip() for v in (given, family, preferred))
    name = " ".join(part for part in (given, family) if part) or "[no name]"
    if preferred and preferred.casefold() != given.casefold():
        name = f"{name} ({preferred})"
    return name


def _parsed_phone(value: str):
    from confide.vault.blind_index import phone_region

    try:
        number = phonenumbers.parse(value, phone_region())
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def e164(value):
    """A phone number as stored: E.164 ("+14155550100") when it reads as a possible number of
    the practice's region (or carries its own country code); as typed otherwise (an extension,
    a short internal number), so nothing a person typed is refused or lost."""
    if not value:
        return value
    number = _parsed_phone(str(value))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if number else value


def phone_for_display(value) -> str:
    """A stored phone number as people read it: national format for the practice's region
    ("(415) 555-0100"), international for another country ("+44 20 7946 0958"). Rows saved
    before numbers were normalised read the same way: the value is parsed when shown."""
    if not value:
        return ""
    from confide.vault.blind_index import phone_region

    number = _parsed_phone(str(value))
    if number is None:
        return str(value)
    national = phonenumbers.region_code_for_number(number) == phone_region()
    return phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL if national else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


# --- units as people read them ------------------------------------------------------------------------
# UCUM (the codes FHIR results carry) is written for machines: `mm[Hg]`, `Cel`, `{score}`. The
# chart shows what a clinician writes. Anything not listed keeps its code, minus UCUM's
# annotations in braces ("{beats}/min" → "/min"), which name what is counted, not a unit.
UNIT_LABELS = {
    "mm[Hg]": "mmHg",
    "Cel": "°C",
    "[degF]": "°F",
    "kg/m2": "kg/m²",
    "[in_i]": "in",
    "[ft_i]": "ft",
    "[lb_av]": "lb",
    "[oz_av]": "oz",
    "10*3/uL": "×10³/µL",
    "10*6/uL": "×10⁶/µL",
    "10*9/L": "×10⁹/L",
    "10*12/L": "×10¹²/L",
    "ug": "µg",
    "ug/L": "µg/L",
    "ug/dL": "µg/dL",
    "umol/L": "µmol/L",
    "uL": "µL",
    "fL": "fL",
    "/min": "/min",
    "{beats}/min": "beats/min",
    "{breaths}/min": "breaths/min",
    "1": "",
    "[iU]/L": "IU/L",
    "[IU]/L": "IU/L",
    "m[IU]/L": "mIU/L",
    "u[IU]/mL": "µIU/mL",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
}


def unit_for_display(unit) -> str:
    """A UCUM unit as people read it: "mm[Hg]" → "mmHg", "{score}" → "" (a score has no unit)."""
    if not unit:
        return ""
    unit = str(unit).strip()
    if unit in UNIT_LABELS:
        return UNIT_LABELS[unit]
    shown = re.sub(r"\{[^{}]*\}", "", unit)
    return "" if shown in ("", "1") else shown
