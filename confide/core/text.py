"""What a text value may contain: one rule for one line of text, one for several, used by every
model field, form, service and importer that accepts text (issue 11, items 14 and 15).

A single line (a name, an address line, an e-mail address, a label) refuses:

* control characters, C0 (U+0000–U+001F, which includes tab, line feed and carriage return), DEL
  and C1 (U+007F–U+009F, which includes NEL), and the Unicode line and paragraph separators
  U+2028/U+2029. A line break in a practice's name ended up in an e-mail Subject header, where
  it is a header injection (Django refuses to send it: every notice failed); NUL is refused by
  PostgreSQL and truncates strings in C libraries; the others are invisible where shown.
* bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they reorder
  the characters that follow them, so what a screen, a list or a mail client shows is not what is
  stored ("Trojan Source"). The marks that do no reordering of their own (U+200E, U+200F,
  U+061C) are allowed: right-to-left text needs them.
* a value made only of invisible characters (zero-width spaces and joiners, BOM, soft hyphen,
  Hangul fillers …): a name that looks empty but is not.
* lone surrogates: not text at all (JSON can carry them; UTF-8 cannot encode them).

Several lines (a note, a long answer, a TOML override) keep tab, line feed and carriage return
and refuse every other control character, lone surrogates and an only-invisible value; bidi
controls are allowed there (a pasted paragraph of Arabic or Hebrew carries them).

`single_line` and `multi_line` are Django validators (they raise `ValidationError`), given to
model fields (`validators=[single_line]`) and form fields alike; `line_problem` returns the
message instead, for pydantic models and services that raise errors of their own.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# C0 (with tab, LF, CR), DEL, C1 (with NEL), line and paragraph separators.
_SINGLE_LINE_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same without tab, LF and CR; U+2028/U+2029 are line breaks too, so they may stay.
_MULTI_LINE_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")
# Letters that render as nothing (category Lo, so not caught by the Cf test below).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

MESSAGES = {
    "line_break": "It must be one line: remove the line break.",
    "control_character": "Remove the invisible control character it contains.",
    "bidi_control": "Remove the invisible character that reverses the direction of the text.",
    "invisible_only": "It holds only invisible characters.",
    "not_text": "It contains something that is not text.",
}


def _invisible_only(value: str) -> bool:
    return bool(value) and all(
        ch.isspace() or unicodedata.category(ch) in ("Cf", "Mn", "Me") or ch in _BLANK_LETTERS for ch in value
    )


def line_problem(value: str, *, multiline: bool = False) -> tuple[str, str] | None:
    """(code, message) of the first thing wrong with `value` as one line (or as several), or
    None. Codes: line_break, control_character, bidi_control, invisible_only, not_text."""
    if not isinstance(value, str):
        return "not_text", MESSAGES["not_text"]
    if _SURROGATES.search(value):
        return "not_text", MESSAGES["not_text"]
    if multiline:
        if _MULTI_LINE_CONTROLS.search(value):
            return "control_character", MESSAGES["control_character"]
    else:
        found = _SINGLE_LINE_CONTROLS.search(value)
        if found:
            code = "line_break" if _LINE_BREAKS.match(found.group()) else "control_character"
            return code, MESSAGES[code]
        if _BIDI_CONTROLS.search(value):
            return "bidi_control", MESSAGES["bidi_control"]
    if _invisible_only(value.strip()):
        return "invisible_only", MESSAGES["invisible_only"]
    return None


@deconstructible(path="confide.core.text.LineValidator")
class LineValidator:
    """A Django validator: `single_line` or `multi_line` below (compared equal by kind, so a
    migration sees one validator, not a new object each time)."""

    def __init__(self, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value) -> None:
        if value is None or value == "":
            return
        problem = line_problem(value, multiline=self.multiline)
        if problem:
            code, message = problem
            raise ValidationError(message, code=code)

    def __eq__(self, other) -> bool:
        return isinstance(other, LineValidator) and other.multiline == self.multiline

    def __hash__(self) -> int:
        return hash(("LineValidator", self.multiline))

    def __repr__(self) -> str:
        return "multi_line" if self.multiline else "single_line"


single_line = LineValidator()
multi_line = LineValidator(multiline=True)


def check_line(value: str, *, multiline: bool = False) -> str:
    """`value` unchanged if it passes, else ValueError with the message (for pydantic's
    AfterValidator, which reports a ValueError as the field's error)."""
    problem = line_problem(value, multiline=multiline)
    if problem:
        raise ValueError(problem[1])
    return value


def lower_first(message: str) -> str:
    """'Remove the …' → 'remove the …', to follow a label: 'Given name: remove the …'."""
    return message[:1].lower() + message[1:] if message[1:2].islower() or len(message) == 1 else message


def validation_message(exc: ValidationError) -> str:
    """The first message of a Django ValidationError as a sentence that never holds the value:
    a length limit reads 'at most N characters.' (Django's own message adds the length given)."""
    error = exc.error_list[0]
    if error.code == "max_length" and error.params:
        return f"At most {error.params['limit_value']} characters."
    message = str(error.message % error.params) if error.params else str(error.message)
    return message if message.endswith(".") else f"{message}."
