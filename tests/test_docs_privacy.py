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
