"""How hard a patient page is to read: the Flesch-Kincaid grade level of its visible text.

    grade(text) -> float            0.39 * words/sentences + 11.8 * syllables/words - 15.59
    main_text(html) -> str          the visible text of a page's <main>, one sentence per block

Syllables come from pyphen's hyphenation dictionary (en_US, a dependency of WeasyPrint: no
download at run time, unlike textstat's NLTK data). Hyphenation points undercount short words
("open", "record"), so a word never counts fewer syllables than its vowel groups (a final silent
"e" not counted). Sentences end at . ! ? and at the end of a block (a heading, a list item, a
label, a button): a page's headings and buttons are read as units, not run together.

Fragments are left out of the grade: a block of fewer than FRAGMENT_WORDS words that does not
end a sentence (a heading such as "Personal details", a label, a button, a data value such as
"Spirometry"). The formula is made for running prose; on a two-word heading of long words it
gives grade 12 for text nobody finds hard, and on a patient's own data (the names of their
medicines) it measures the data, not the page. Everything that reads as a sentence counts.

tests/portal/test_readability.py renders the main portal pages and holds them at grade 8 or less.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html.parser import HTMLParser

import pyphen

WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
SENTENCE_END = re.compile(r"[.!?]+")
VOWEL_GROUPS = re.compile(r"[aeiouy]+")
BLOCKS = frozenset({
    "p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "button", "label", "legend", "td", "th", "dt", "dd", "option", "div",
    "section", "form", "a", "summary", "caption", "tr", "br",
})  # fmt: skip
HIDDEN = frozenset({"script", "style", "template", "select", "textarea"})
FRAGMENT_WORDS = 6


@lru_cache(maxsize=1)
def _dictionary() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US", left=1, right=1)


def syllables(word: str) -> int:
    lowered = word.lower()
    by_hyphenation = len(_dictionary().positions(lowered)) + 1
    groups = len(VOWEL_GROUPS.findall(lowered))
    if lowered.endswith("e") and not lowered.endswith(("le", "ee")) and groups > 1:
        groups -= 1
    return max(1, by_hyphenation, groups)


def sentences(text: str) -> list[str]:
    """The sentences of `text` (one block per line), fragments left out (see above)."""
    out = []
    for line in text.split("\n"):
        parts = SENTENCE_END.split(line)
        ended = bool(SENTENCE_END.search(line.rstrip()[-1:] or ""))
        for index, part in enumerate(parts):
            part = part.strip()
            if not WORD.search(part):
                continue
            punctuated = index < len(parts) - 1 or ended
            if punctuated or len(WORD.findall(part)) >= FRAGMENT_WORDS:
                out.append(part)
    return out


def grade(text: str) -> float:
    units = sentences(text)
    words = [w for s in units for w in WORD.findall(s)]
    if not words:
        return 0.0
    total = sum(syllables(w) for w in words)
    return 0.39 * (len(words) / len(units)) + 11.8 * (total / len(words)) - 15.59


class _MainText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0  # inside <main>
        self.hidden = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.depth += 1
        elif tag in HIDDEN:
            self.hidden += 1
        if tag in BLOCKS and self.depth:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "main":
            self.depth -= 1
        elif tag in HIDDEN:
            self.hidden -= 1
        if tag in BLOCKS and self.depth:
            self.parts.append("\n")

    def handle_data(self, data):
        if self.depth and not self.hidden:
            self.parts.append(data)


def main_text(html: str) -> str:
    parser = _MainText()
    parser.feed(html)
    text = "".join(parser.parts)
    return "\n".join(" ".join(line.split()) for line in text.split("\n") if line.strip())
