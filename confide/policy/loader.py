"""Loading declarations and overrides from TOML, with errors that name the line.

`load_default()` reads confide/policy/default.toml once per process. `parse_override(text)` checks
a practice's override (TOML text, as typed by its privacy officer) and `apply(default, override)`
merges it: processors and retention rules by id, the rest field by field. Any problem raises
`PolicyError` with the source, the line and a plain message: a TOML syntax error (tomllib gives
the line), a value the schema refuses (we find the line the offending key is on), or a merged
result that breaks a rule (a retention period below its floor, a processor naming an unknown
category).
"""

from __future__ import annotations

import functools
import re
import tomllib
from pathlib import Path

from pydantic import ValidationError

from confide.core import nesting
from confide.policy.schema import Declaration, Override, ReferenceProblem

DEFAULT_PATH = Path(__file__).with_name("default.toml")
MAX_OVERRIDE_BYTES = 64 * 1024


class PolicyError(ValueError):
    """A declaration or override that cannot be used. `line` is 1-based, or None."""

    def __init__(self, message: str, *, source: str = "override", line: int | None = None):
        self.message = message
        self.source = source
        self.line = line
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {message}")


# --- where a key is ------------------------------------------------------------------------------
_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")


def _split_key(dotted: str) -> tuple[str, ...]:
    parts, current, quote = [], "", None
    for ch in dotted:
        if quote:
            if ch == quote:
                quote = None
            else:
                current += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return tuple(parts)


def key_lines(text: str) -> dict[tuple, int]:
    """(path...) → line for every table header and key in `text`. Arrays of tables count their
    members: the second `[[processors]]` is ("processors", 1). Good enough for our files; a
    path it cannot place falls back to its nearest placed parent."""
    lines: dict[tuple, int] = {}
    table: tuple = ()
    counts: dict[tuple, int] = {}
    in_multiline = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.count('"""') % 2 == 1 or raw.count("'''") % 2 == 1:
            in_multiline = not in_multiline
            if not in_multiline:
                continue
        if in_multiline:
            continue
        header = _HEADER.match(raw)
        if header and not _KEY.match(raw):
            path = _split_key(header.group(2))
            if header.group(1) == "[[":
                index = counts.get(path, -1) + 1
                counts[path] = index
                table = (*path, index)
            else:
                table = path
            lines.setdefault(table, number)
            continue
        key = _KEY.match(raw)
        if key:
            lines.setdefault((*table, *_split_key(key.group(1))), number)
    return lines


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


_PATTERN_MESSAGES = {"email": "not an email address", "phone": "a phone number has digits, spaces and + ( ) - . only"}


def explain(exc: ValidationError) -> tuple[tuple, str]:
    """The first problem as (where, plain message)."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith(("function-", "literal["))))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ReferenceProblem):
        loc = loc + cause.loc
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "this key is not part of the declaration (a typo?)"
    elif error["type"] == "missing":
        message = "this key is required"
    elif error["type"] == "string_pattern_mismatch":
        message = _PATTERN_MESSAGES.get(str(loc[-1]) if loc else "", "this value is not in the expected form")
    return loc, message


def _first_error(exc: ValidationError, text: str, source: str) -> PolicyError:
    loc, message = explain(exc)
    where = ".".join(str(p) for p in loc) or "(top level)"
    return PolicyError(f"{where}: {message}", source=source, line=_line_for(loc, key_lines(text)))


def _line_under(path: tuple, lines: dict[tuple, int]) -> int | None:
    """The first line of a key at or under `path` (a too-deep value's path stops partway down
    the key that made it), else the line of its nearest placed parent."""
    below = [line for key, line in lines.items() if key[: len(path)] == path]
    return min(below) if below else _line_for(path, lines)


def parse_toml(text: str, source: str) -> dict:
    """TOML text → a dict, or PolicyError naming the line: a syntax error, or nesting past
    `TOML_MAX_DEPTH` (checked before tomllib, which recurses per level, and again on the result,
    which catches dotted keys). Also used for the consultation form's definition."""
    try:
        nesting.check_toml_text(text)
    except nesting.TooDeeplyNested as exc:
        raise PolicyError(f"not valid here: {exc}", source=source, line=exc.line) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else (len(text.splitlines()) or 1) if "end of document" in str(exc) else None
        message = re.sub(r"\s*\(at (?:line \d+, column \d+|end of document)\)", "", str(exc)) or "not valid TOML"
        raise PolicyError(f"not valid TOML: {message}", source=source, line=line) from None
    try:
        nesting.check_value(data, limit=nesting.TOML_MAX_DEPTH, fmt="TOML")
    except nesting.TooDeeplyNested as exc:
        raise PolicyError(f"not valid here: {exc}", source=source, line=_line_under(exc.path, key_lines(text))) from None
    return data



# --- the default -------------------------------------------------------------------------------
def parse_declaration(text: str, source: str = "declaration") -> Declaration:
    data = parse_toml(text, source)
    try:
        return Declaration.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, text, source) from None


@functools.cache
def load_default() -> Declaration:
    return parse_declaration(DEFAULT_PATH.read_text(encoding="utf-8"), source=str(DEFAULT_PATH.name))


# --- overrides -----------------------------------------------------------------------------------
def parse_override(text: str, source: str = "override") -> Override:
    if len(text.encode("utf-8")) > MAX_OVERRIDE_BYTES:
        raise PolicyError(f"an override is limited to {MAX_OVERRIDE_BYTES // 1024} KiB", source=source)
    data = parse_toml(text, source)
    try:
        return Override.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, text, source) from None


def apply(default: Declaration, override: Override, *, text: str = "", source: str = "override") -> Declaration:
    """The default with the override applied, validated as a whole declaration."""
    data = default.model_dump(by_alias=True)
    lines = key_lines(text)
    positions: dict[tuple, tuple] = {}  # merged path → the override's path (for error lines)

    processors = {p["id"]: p for p in data["processors"]}
    for index, change in enumerate(override.processors):
        fields = change.model_dump(exclude_none=True)
        if change.id in processors:
            processors[change.id].update(fields)
        else:
            required = {"name", "service", "role", "categories", "purposes", "baa_on_file", "location", "in_use"}
            missing = sorted(required - set(fields))
            if missing:
                raise PolicyError(
                    f"processors.{index}: a new processor {change.id!r} needs {', '.join(missing)}",
                    source=source, line=_line_for(("processors", index), lines),
                )  # fmt: skip
            processors[change.id] = fields
        positions[("processors", list(processors).index(change.id))] = ("processors", index)
    data["processors"] = list(processors.values())

    rules = {r["id"]: r for r in data["retention"]}
    for index, change in enumerate(override.retention):
        if change.id not in rules:
            raise PolicyError(
                f"retention.{index}: there is no retention rule {change.id!r} (one of: {', '.join(rules)})",
                source=source, line=_line_for(("retention", index, "id"), lines),
            )  # fmt: skip
        rules[change.id]["period"] = change.period
        positions[("retention", list(rules).index(change.id))] = ("retention", index)
    data["retention"] = list(rules.values())

    if override.age:
        data["age"].update(override.age.model_dump(exclude_none=True))
    if override.regimes:
        for name, change in override.regimes.model_dump(exclude_none=True).items():
            data["regimes"][name].update(change)
    if override.contacts:
        for name, change in override.contacts.model_dump(exclude_none=True).items():
            data["contacts"][name].update(change)
    if override.grants:
        data["grants"].update(override.grants.model_dump(exclude_none=True))

    try:
        return Declaration.model_validate(data)
    except ValidationError as exc:
        loc, message = explain(exc)
        mapped = positions.get(loc[:2], loc[:2]) + loc[2:] if len(loc) >= 2 else loc
        where = ".".join(str(p) for p in mapped) or "(top level)"
        raise PolicyError(f"{where}: {message}", source=source, line=_line_for(mapped, lines) if mapped != loc or loc[:1] not in {("processors",), ("retention",)} else None) from None


def resolve(text: str, source: str = "override") -> Declaration:
    """An override's text → the declaration it makes (PolicyError naming the line if not)."""
    return apply(load_default(), parse_override(text, source), text=text, source=source)
