"""The words shown when a visitor makes a choice: the templates render them from here and the
ledger stores the SHA-256 of exactly what was shown with the button pressed (CON1 evidence).

`shown(prompt_key, action)` is the text of one choice: the prompt, then the button's label. A
form posts the digest of the text it displayed; the view refuses a digest that no longer
matches (the page changed since it was loaded), so the evidence is always of the words the
person saw.
"""

from __future__ import annotations

from confide.consent.evidence import text_sha256
from confide.consent.topics import Action, Topic
from confide.policy.notice import SIGNALS_TEXT

NEVER_SOLD = "We never sell your information, never share it for advertising, and never build a profile of you from it."

PROMPTS: dict[str, str] = {
    "analytics": (
        "May we count visits to these pages? Usage statistics tell the practice which pages are read. They are "
        "counted on this server, by page and day, with nothing that identifies you, and never shared. Nothing is "
        "counted unless you allow it, and you can change your mind at any time on the privacy choices page."
    ),
    "analytics-gpc": (
        "Your browser asks us not to track your visits (Global Privacy Control), so usage statistics are off. "
        "You earlier allowed usage statistics on these pages. Which do you want?"
    ),
    "analytics-dnt": (
        "Your browser asks us not to track your visits (Do Not Track), so usage statistics are off. "
        "You earlier allowed usage statistics on these pages. Which do you want?"
    ),
    "sale-share": (
        "Do Not Sell or Share My Personal Information. " + NEVER_SOLD + " If you opt out anyway, we record your "
        "request, and it binds us if anything ever changes."
    ),
    "sale-share-gpc": (
        "Your browser asks us not to sell or share your information (Global Privacy Control), so you are opted out. "
        "You had earlier withdrawn that request. Which do you want?"
    ),
    "limit-sensitive": (
        "Limit the Use of My Sensitive Personal Information. We use sensitive information (such as your health "
        "information) only to care for you, to bill for that care, and to run the practice, as the law allows. If "
        "you ask us to limit it, we record your request, and it binds us if anything ever changes."
    ),
    "profiling": (
        "Opt out of profiling. We make no automated decisions about you and build no profile of you. If you opt "
        "out anyway, we record your request, and it binds us if anything ever changes."
    ),
}

BUTTONS: dict[tuple[str, Action], str] = {
    ("analytics", Action.GRANT): "Allow usage statistics",
    ("analytics", Action.DECLINE): "No thanks",
    ("analytics", Action.WITHDRAW): "Turn usage statistics off",
    ("analytics-gpc", Action.DECLINE): "Keep it off",
    ("analytics-gpc", Action.GRANT): "Allow anyway",
    ("analytics-dnt", Action.DECLINE): "Keep it off",
    ("analytics-dnt", Action.GRANT): "Allow anyway",
    ("sale-share", Action.GRANT): "Do not sell or share my information",
    ("sale-share", Action.WITHDRAW): "Withdraw my opt-out",
    ("sale-share-gpc", Action.GRANT): "Keep me opted out",
    ("sale-share-gpc", Action.WITHDRAW): "Withdraw it anyway",
    ("limit-sensitive", Action.GRANT): "Limit the use of my sensitive information",
    ("limit-sensitive", Action.WITHDRAW): "Withdraw my request to limit",
    ("profiling", Action.GRANT): "Opt me out of profiling",
    ("profiling", Action.WITHDRAW): "Withdraw my opt-out of profiling",
}

# Which prompt asks about which topic.
PROMPT_TOPICS: dict[str, Topic] = {
    "analytics": Topic.ANALYTICS_COOKIES,
    "analytics-gpc": Topic.ANALYTICS_COOKIES,
    "analytics-dnt": Topic.ANALYTICS_COOKIES,
    "sale-share": Topic.SALE_SHARE_OPT_OUT,
    "sale-share-gpc": Topic.SALE_SHARE_OPT_OUT,
    "limit-sensitive": Topic.LIMIT_SENSITIVE,
    "profiling": Topic.PROFILING_OPT_OUT,
}
# The conflict question for a topic, by the signal that overrode the choice.
CONFLICT_PROMPTS: dict[tuple[Topic, str], str] = {
    (Topic.ANALYTICS_COOKIES, "gpc_header"): "analytics-gpc",
    (Topic.ANALYTICS_COOKIES, "dnt_header"): "analytics-dnt",
    (Topic.SALE_SHARE_OPT_OUT, "gpc_header"): "sale-share-gpc",
}


def shown(prompt_key: str, action: Action) -> str:
    """The exact text of one choice (KeyError for a button that does not exist)."""
    return f"{PROMPTS[prompt_key]}\n[{BUTTONS[(prompt_key, Action(action))]}]"


def digest(prompt_key: str, action: Action) -> str:
    return text_sha256(shown(prompt_key, action))


def signal_text(method: str) -> str:
    """What a signal event is evidence of: the notice's promise about signals, and the header."""
    header = "Sec-GPC: 1" if method == "gpc_header" else "DNT: 1"
    return f"{header}\n{SIGNALS_TEXT}"


assert all(key in PROMPTS and key in PROMPT_TOPICS for key, _ in BUTTONS), "every button belongs to a prompt"
