"""Links in e-mails point where the site is served: `make run` sets CONFIDE_BASE_URL from PORT,
a local demo on plain HTTP falls back to the loopback address on PORT, and a deployment gets no
invented address: `confide check --deploy` says it is missing (issue 12, item 8)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


REPO = Path(__file__).resolve().parents[2]


def _settings_value(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIDE_", "DJANGO_", "DATABASE_")) and k != "PORT"}
    clean |= {"PYTHONPATH": str(REPO), "CONFIDE_DATA_DIR": str(tmp_path), "CONFIDE_SECRET_KEY": secrets.token_urlsafe(48)}
    return subprocess.run(
        [sys.executable, "-c", "import confide.settings as s; print(repr(s.CONFIDE_BASE_URL))"],
        env=clean | env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_make_run_points_links_in_e_mails_at_the_port_it_serves(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"CONFIDE_BASE_URL", "PORT", "MAKEFLAGS", "MFLAGS"}}
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=8123", f"CONFIDE_DATA_DIR={tmp_path}"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "Links in e-mails point to http://127.0.0.1:8123 " in dry.stdout
    chosen = subprocess.run(
        ["make", "-n", "run", "PORT=8123", f"CONFIDE_DATA_DIR={tmp_path}"], cwd=REPO,
        env=env | {"CONFIDE_BASE_URL": "https://confide.example.org"}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "Links in e-mails point to https://confide.example.org " in chosen.stdout


def test_a_local_demo_on_plain_http_links_to_the_loopback_address_on_port(tmp_path):
    result = _settings_value(tmp_path, CONFIDE_HTTPS="0", PORT="8123")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "'http://127.0.0.1:8123'"


def test_a_deployment_without_the_variable_gets_no_invented_address(tmp_path):
    result = _settings_value(tmp_path)  # HTTPS on: the production default
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "''"


def test_the_variable_is_used_as_given_without_a_trailing_slash(tmp_path):
    result = _settings_value(tmp_path, CONFIDE_BASE_URL="https://confide.example.org/")
    assert result.stdout.strip() == "'https://confide.example.org'"


def test_a_malformed_base_url_stops_the_settings_with_its_name(tmp_path):
    result = _settings_value(tmp_path, CONFIDE_BASE_URL="confide.example.org")
    assert result.returncode != 0
    assert "CONFIDE_BASE_URL must be an http(s) address" in result.stderr


def test_check_deploy_reports_a_missing_base_url(settings, db):
    from confide.core.checks import check_base_url

    settings.CONFIDE_BASE_URL = ""
    [error] = check_base_url()
    assert error.id == "confide.E002" and "CONFIDE_BASE_URL is not set" in error.msg
    found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    assert "confide.E002" in {message.id for message in found}
    # Not a start-up check: only `check --deploy` asks.
    assert "confide.E002" not in {message.id for message in checks.run_checks(tags=[checks.Tags.security])}


def test_check_deploy_warns_of_a_plain_http_base_url_on_an_https_site(settings):
    from confide.core.checks import check_base_url

    settings.CONFIDE_BASE_URL, settings.HTTPS = "http://confide.example.org", True
    assert [m.id for m in check_base_url()] == ["confide.W002"]
    settings.CONFIDE_BASE_URL = "https://confide.example.org"
    assert check_base_url() == []


def test_absolute_url_refuses_to_make_a_link_without_the_base(settings):
    from confide.core.http import absolute_url

    settings.CONFIDE_BASE_URL = "http://127.0.0.1:8123"
    assert absolute_url("/signin/") == "http://127.0.0.1:8123/signin/"
    settings.CONFIDE_BASE_URL = ""
    with pytest.raises(ImproperlyConfigured):
        absolute_url("/signin/")


def test_confide_check_deploy_fails_without_the_base_url_and_says_which_variable(tmp_path):
    """The production settings of test_headers.py's passing deploy check, minus CONFIDE_BASE_URL."""
    script = Path(sys.executable).parent / "confide"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIDE_", "DJANGO_", "DATABASE_"))}
    env = clean | {"CONFIDE_DATA_DIR": str(tmp_path), "CONFIDE_SECRET_KEY": secrets.token_urlsafe(48), "CONFIDE_HTTPS": "1",
                   "CONFIDE_ALLOWED_HOSTS": "confide.example.org", "PYTHONPATH": str(REPO)}  # fmt: skip
    result = subprocess.run([str(script), "check", "--deploy", "--fail-level", "WARNING"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert "(confide.E002) CONFIDE_BASE_URL is not set" in result.stderr
    with_base = subprocess.run(
        [str(script), "check", "--deploy", "--fail-level", "WARNING"], env=env | {"CONFIDE_BASE_URL": "https://confide.example.org"},
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert with_base.returncode == 0, with_base.stdout + with_base.stderr
