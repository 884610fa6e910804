"""`confide demo --code EMAIL`: a clear one-line message and a failing status, never a traceback,
when the data directory is missing or the account has no authenticator (issue 12, item 10)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from confide.site.management.commands.demo import DEMO_DOMAIN

REPO = Path(__file__).resolve().parents[2]


def _confide(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIDE_", "DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "confide.cli", *args], cwd=cwd, env=clean | {"PYTHONPATH": str(REPO)} | env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_code_without_a_data_directory_says_where_to_point_it_in_one_line(tmp_path):
    result = _confide(["demo", "--code", f"owner@{DEMO_DOMAIN}"], cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("confide: CONFIDE_SECRET_KEY") and "CONFIDE_DATA_DIR" in line and str(tmp_path / "var") in line
    assert result.stdout == ""


def test_code_against_a_database_make_run_never_set_up_says_so_in_one_line(tmp_path):
    result = _confide(["demo", "--code", f"owner@{DEMO_DOMAIN}"], cwd=tmp_path, CONFIDE_DEV_MODE="1", CONFIDE_DATA_DIR=str(tmp_path / "fresh"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "has no demo" in line and "CONFIDE_DATA_DIR" in line


def test_code_for_the_account_that_enrols_at_first_sign_in_says_so(db):
    call_command("demo", "--quiet", stdout=io.StringIO())
    with pytest.raises(CommandError) as refused:
        call_command("demo", "--code", f"newhire@{DEMO_DOMAIN}", stdout=io.StringIO())
    assert "sets one up at its first sign-in" in str(refused.value)
    assert "run `confide demo` first" not in str(refused.value)


def test_code_for_an_account_that_does_not_exist_says_run_the_demo(db):
    with pytest.raises(CommandError, match=r"no demo account owner@demo\.confide\.test .*run `confide demo` first"):
        call_command("demo", "--code", f"owner@{DEMO_DOMAIN}", stdout=io.StringIO())


def test_code_prints_the_current_code_of_an_enrolled_demo_account(db):
    call_command("demo", "--quiet", stdout=io.StringIO())
    out = io.StringIO()
    call_command("demo", "--code", f"Owner@{DEMO_DOMAIN}", stdout=out)
    assert out.getvalue().strip().isdigit() and len(out.getvalue().strip()) == 6
