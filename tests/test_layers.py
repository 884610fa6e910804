"""Dependencies point one way (shared ARCHITECTURE rule 11): the import-linter contracts in
pyproject.toml hold for the code as it is, and a wrong-way import breaks them.

`make test` runs `lint-imports` itself before the suite; these tests make the same check part of
the suite and prove it can fail: a copy of the package with one import added the wrong way
(policy importing the chart door; core importing records) must be refused, naming the import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    # The package is found through PYTHONPATH first (the copy, when given one); no cache, so a
    # copy is read afresh.
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(REPO / "confide", root / "confide", ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_layer_contracts_hold():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "expected"),
    [
        ("confide/policy/guide.py", "from confide.access import door", "confide.policy is not allowed to import confide.access"),
        ("confide/core/tenancy.py", "from confide.records import models", "confide.core is not allowed to import confide.records"),
        ("confide/vault/tombstones.py", "from confide.audit import chain", "confide.vault is not allowed to import confide.audit"),
    ],
)
def test_a_wrong_way_import_breaks_the_build(tmp_path, module, wrong_import, expected):
    root = _copy(tmp_path)
    with (root / module).open("a") as source:
        source.write(f"\n{wrong_import}  # the wrong way\n")
    result = _lint(root)
    assert result.returncode != 0
    assert expected in result.stdout, result.stdout
