"""What an inbound text says, before anything else is done with it (../shared/reference/
rules-and-deadlines.md §3.1, §3.3; MSG3, MSG5):

    keyword(body)            -> "opt-out" | "opt-in" | "help" | None   the whole text is a keyword
    asks_to_stop(body)       -> bool    free text that revokes consent ("please stop texting me")
    emergency(body, phrases) -> "crisis" | "emergency" | None

Keywords match the whole message, case-insensitively, with surrounding whitespace and trailing
punctuation ignored ("stop." and " Stop! " are STOP); inner spaces and hyphens are folded, so
"opt out", "OPT-OUT" and "stop all" are the extra opt-out keywords of §3.1. Emergency phrases
match whole words ("overdose" in "overdosed" does not count unless listed; "emergency" never
matches inside "nonemergency"); the crisis phrases add the crisis line to the reply.
"""

from __future__ import annotations

import re
import unicodedata

OPT_OUT = "opt-out"
OPT_IN = "opt-in"
HELP = "help"

OPT_OUT_WORDS = frozenset({
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",  # Twilio's defaults
    "OPT OUT", "OPT-OUT", "REMOVE", "ARRET", "TD", "STOP ALL",  # the extra ones (AWS, Telnyx; FCC "opt out")
})  # fmt: skip
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

_TRAILING = re.compile(r"[\s.!?,;:…'\"()]+$")
_LEADING = re.compile(r"^[\s'\"(]+")


def _normal(body: str) -> str:
    text = unicodedata.normalize("NFKC", body or "")
    text = _LEADING.sub("", _TRAILING.sub("", text.strip()))
    # "ARRÊT" is ARRET; inner runs of spaces are one space.
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text).upper()


def keyword(body: str) -> str | None:
    word = _normal(body)
    if word in OPT_OUT_WORDS:
        return OPT_OUT
    if word in OPT_IN_WORDS:
        return OPT_IN
    if word in HELP_WORDS:
        return HELP
    return None


# FCC 24-24: other words asking to stop are a revocation unless the request is unclear. These
# are the clear ones; what they catch is honoured at once and flagged for staff to confirm.
_STOP_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bunsubscribe\b",
        r"\bopt(?:[\s-]*me)?[\s-]*out\b",
        r"\b(?:stop|quit|cease|end)\b[^.?!\n]{0,30}\b(?:text\w*|messag\w*|sms|contact\w*)\b",
        r"\b(?:do\s*n[o']?t|dont|never)\b[^.?!\n]{0,20}\b(?:text|message|contact)\b",
        r"\bno\s+more\s+(?:texts|text messages|messages)\b",
        r"\bremove\s+(?:me|my number)\b",
        r"\btake\s+me\s+off\b",
    )
]


def asks_to_stop(body: str) -> bool:
    text = body or ""
    return any(pattern.search(text) for pattern in _STOP_PATTERNS)


def _phrase_pattern(phrase: str) -> re.Pattern:
    words = [re.escape(w) for w in phrase.replace("’", "'").split()]
    return re.compile(r"(?<![\w'])" + r"\s+".join(words) + r"(?![\w'])", re.IGNORECASE)


def parse_phrases(text: str) -> list[str]:
    """A practice's own phrases: one a line, blank lines and surrounding spaces ignored."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()][:200]


def emergency(body: str, phrases, crisis_phrases) -> str | None:
    """'crisis' when a crisis phrase is in the text, else 'emergency' when any phrase is."""
    text = (body or "").replace("’", "'")
    if any(_phrase_pattern(p).search(text) for p in crisis_phrases):
        return "crisis"
    if any(_phrase_pattern(p).search(text) for p in phrases):
        return "emergency"
    return None
