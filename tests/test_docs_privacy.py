"""docs/privacy.md names the tests that prove each promise; every one of them must exist."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_named_in_the_privacy_map_exists():
    text = (ROOT / "docs" / "privacy.md").read_text()
    references = REFERENCE.findall(text)
    assert len(references) >= 10
    missing = [f"{file}::{name}" for file, name in references if not (ROOT / file).exists() or name not in _test_names(ROOT / file)]
    assert not missing, f"docs/privacy.md names tests that do not exist: {missing}"


def test_the_privacy_map_covers_this_issues_promises():
    text = (ROOT / "docs" / "privacy.md").read_text()
    for promise in ("ACC1", "ACC2", "ACC3", "ACC4", "ACC6", "SEC1", "SEC2", "SEC3", "RTS2", "RTS4", "REC4", "AUD1", "AUD2", "AUD3",
                    "POL1", "POL2", "POL3", "CON1", "CON2", "CON3", "TRK1", "TRK2", "TRK3", "RTS5"):
        assert f"**{promise}" in text, promise


# --- the notice's sentences (confide/policy/protections.py) -------------------------------------------
SENTENCES_HEADING = "## The notice's sentences: promise → notice sentence"
KEPT_ROW = re.compile(r"^\| \*\*([A-Z0-9 /]+)\*\*", re.M)


def kept_promises() -> set[str]:
    """The single source of truth for "kept": the promise IDs that open a row of the privacy map's table."""
    text = (ROOT / "docs" / "privacy.md").read_text().split(SENTENCES_HEADING, 1)[0]
    return {promise.strip() for match in KEPT_ROW.finditer(text) for promise in match.group(1).split("/")}


def sentence_row(p) -> str:
    from confide.policy.protections import CAPABILITIES, CONDITIONS

    capability = CAPABILITIES[p.capability] if p.capability else None
    if capability is None or capability.automated:
        by, says = "the software", p.text
    else:
        by, says = f"staff, until `{p.capability}` is automated", f"{p.meanwhile} *Then:* {p.text}"
    code = ", ".join(f"`{m}`" for m in p.mechanism)
    return f"| {', '.join(p.promises)} | `{p.id}` | {CONDITIONS[p.when][0]} | {by} | {code} | {says} |"


def test_pol3_every_kept_promise_has_a_sentence_in_the_notice_and_every_sentence_cites_only_kept_promises():
    from confide.policy.protections import coverage_problems

    kept = kept_promises()
    assert {"AUD1", "REC3", "ACC2", "SEC1", "ACC3", "SEC3"} <= kept
    assert coverage_problems(kept) == []


def test_the_coverage_check_catches_a_kept_promise_without_a_sentence_and_a_sentence_citing_one_not_kept():
    from confide.policy.protections import coverage_problems

    assert "kept promise BIL1 has no sentence in the notice" in coverage_problems(kept_promises() | {"BIL1"})
    assert "signed-notes cites REC3, which the privacy map does not list as kept" in coverage_problems(kept_promises() - {"REC3"})


def test_the_privacy_map_lists_every_notice_sentence_as_declared():
    from confide.policy.protections import PROTECTIONS

    text = (ROOT / "docs" / "privacy.md").read_text()
    assert SENTENCES_HEADING in text
    section = text.split(SENTENCES_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| promise") and not line.startswith("| ---")]
    expected = [sentence_row(p) for p in PROTECTIONS]
    assert rows == expected, "docs/privacy.md's sentence table should read:\n" + "\n".join(expected)
