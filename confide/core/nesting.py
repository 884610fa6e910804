"""How deeply a document nests, measured before a parser sees it.

`tomllib` and `json` descend one Python call per level of arrays and tables, and so do pydantic
and our own merges after them: a few kilobytes of `[[[[…` exceed Python's recursion limit, and
the RecursionError comes out of wherever the stack happened to run out (a 500 from the policy
preview, "internal error" from `confide fhir import`). Catching RecursionError afterwards would
leave whatever was half-done when it struck; counting brackets first is cheap (one regular
expression pass in C) and refuses the text before anything has started.

The limit for each format is defined here, once:

* TOML (`TOML_MAX_DEPTH`): the policy override and the consultation form nest 4 levels deep
  (the document, `[[processors]]`, a processor, its `categories`); 16 leaves room and no more.
* JSON (`JSON_MAX_DEPTH`): a FHIR bundle nests about 10 levels (bundle, entries, a resource,
  its extensions, codings …), a Questionnaire's items a few more each; 64 is far from both.

`check_toml_text` / `check_json_text` look at the text (brackets outside strings and comments);
`check_value` walks a parsed value without recursing, which is what catches TOML nesting that
has no brackets at all (`a.b.c.… = 1`, or a `[a.b.c.…]` header)."""

from __future__ import annotations

import re

TOML_MAX_DEPTH = 16
JSON_MAX_DEPTH = 64


class TooDeeplyNested(ValueError):
    """A document nested past its format's limit. `line` (1-based) is where the limit was
    passed in the text, when known; `path` the keys and indices down to it, when the parsed
    value was checked."""

    def __init__(self, fmt: str, limit: int, *, line: int | None = None, path: tuple = ()):
        self.limit = limit
        self.line = line
        self.path = path
        super().__init__(f"{fmt} nested deeper than the limit of {limit} levels")


# Tokens that matter for nesting; everything else (keys, numbers, whitespace) is skipped by the
# regular expression engine. Strings and comments are matched whole so their brackets never count.
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)
_TOML_TOKENS = re.compile(
    r'"""(?:[^\\]|\\.)*?(?:"""|\Z)'  # multi-line basic string
    r"|'''.*?(?:'''|\Z)"  # multi-line literal string
    r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"?'  # basic string
    r"|'[^'\n]*'?"  # literal string
    r"|#[^\n]*"  # comment
    r"|[\[\]{}]",
    re.S,
)
_OPEN_BYTES = frozenset(b"[{")
_CLOSE_BYTES = frozenset(b"]}")


def _line_of(text, position: int) -> int:
    return text.count(b"\n" if isinstance(text, bytes) else "\n", 0, position) + 1


def check_json_text(text: bytes | str, *, limit: int = JSON_MAX_DEPTH) -> None:
    """Raise TooDeeplyNested if JSON `text` opens more than `limit` arrays and objects inside
    one another. Malformed JSON is left for the parser to describe."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = 0
    for match in _JSON_TOKENS.finditer(data):
        first = data[match.start()]
        if first in _OPEN_BYTES:
            depth += 1
            if depth > limit:
                raise TooDeeplyNested("JSON", limit, line=_line_of(data, match.start()))
        elif first in _CLOSE_BYTES:
            depth = max(depth - 1, 0)


def check_toml_text(text: str, *, limit: int = TOML_MAX_DEPTH) -> None:
    """Raise TooDeeplyNested if TOML `text` has arrays and inline tables (or header brackets)
    more than `limit` deep. Dotted keys are caught by `check_value` on the parsed document."""
    depth = 0
    for match in _TOML_TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                raise TooDeeplyNested("TOML", limit, line=_line_of(text, match.start()))
        elif token in ("]", "}"):
            depth = max(depth - 1, 0)


def check_value(value, *, limit: int, fmt: str) -> None:
    """Raise TooDeeplyNested if a parsed value (dicts and lists) is more than `limit` levels
    deep, the outermost container being level 1. Iterative: it cannot recurse itself."""
    stack: list[tuple[object, int, tuple]] = [(value, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict):
            children = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        if depth > limit:
            raise TooDeeplyNested(fmt, limit, path=path)
        stack.extend((child, depth + 1, (*path, key)) for key, child in children)
