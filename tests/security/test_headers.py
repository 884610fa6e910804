"""Response headers, TLS-only behaviour, and configuration that refuses to start when unsafe."""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from django.urls import reverse

from confide.env import env_bool, env_int, env_secret
from tests.conftest import sign_in

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIDE_SCRIPT = Path(sys.executable).parent / "confide"


def _page(which: str, world, client: Client | None = None):
    client = client or Client()
    if which == "sign-in":
        return client.get(reverse("accounts:login"))
    sign_in(client, world.a.owner, world.a.practice)
    return client.get(reverse("core:dashboard"))


def _csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        if part.strip():
            name, *values = part.split()
            directives[name] = values
    return directives


@pytest.mark.parametrize("which", ["sign-in", "dashboard"])
def test_security_headers(world, which):
    response = _page(which, world)
    assert response.status_code == 200
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    csp = _csp(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert len(response["X-Request-ID"]) >= 8
    assert "Strict-Transport-Security" not in response  # plain HTTP here (tests run with CONFIDE_HTTPS=0)


def test_request_id_is_taken_from_a_proxy_only_if_sane(client, db):  # the sign-in page asks whether any practice exists
    proxy_id = "0f8fad5b-d9cb-469f-a165-70867728950e"  # UUID- or ULID-shaped only: tests/core/test_request_id.py
    assert client.get(reverse("accounts:login"), headers={"X-Request-ID": proxy_id})["X-Request-ID"] == proxy_id
    hostile = client.get(reverse("accounts:login"), headers={"X-Request-ID": "<script>alert(1)</script>"})["X-Request-ID"]
    assert "<" not in hostile and len(hostile) == 32


TLS = {
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}


@pytest.mark.parametrize("which", ["sign-in", "dashboard"])
def test_hsts_and_secure_cookies_under_tls(world, which):
    with override_settings(**TLS):
        client = Client()
        if which == "sign-in":
            response = client.get(reverse("accounts:login"), secure=True)
        else:
            sign_in(client, world.a.owner, world.a.practice)
            response = client.get(reverse("core:dashboard"), secure=True)
        assert response.status_code == 200
        assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        cookie = response.cookies["csrftoken"]
        assert cookie["secure"] and cookie["httponly"]
        # Plain HTTP is redirected to HTTPS rather than served.
        plain = Client().get(reverse("accounts:login"))
        assert plain.status_code == 301 and plain["Location"].startswith("https://")


# --- confide.env refuses bad values, naming the variable -----------------------------------
@pytest.mark.parametrize("raw", ["maybe", "2", "tru"])
def test_env_bool_refuses_anything_but_a_boolean(monkeypatch, raw):
    monkeypatch.setenv("CONFIDE_TEST_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match=r"CONFIDE_TEST_FLAG.*" + raw):
        env_bool("CONFIDE_TEST_FLAG", False)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("YES", True), ("off", False), ("", True)])
def test_env_bool_accepts_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("CONFIDE_TEST_FLAG", raw)
    assert env_bool("CONFIDE_TEST_FLAG", True) is expected


@pytest.mark.parametrize(("raw", "message"), [("ten", "an integer"), ("0", "at least 1"), ("61", "at most 60"), ("1.5", "an integer")])
def test_env_int_refuses_non_integers_and_out_of_range(monkeypatch, raw, message):
    monkeypatch.setenv("CONFIDE_TEST_MINUTES", raw)
    with pytest.raises(ImproperlyConfigured, match=f"CONFIDE_TEST_MINUTES must be {message}"):
        env_int("CONFIDE_TEST_MINUTES", 10, minimum=1, maximum=60)


def test_env_int_accepts_in_range(monkeypatch):
    monkeypatch.setenv("CONFIDE_TEST_MINUTES", "60")
    assert env_int("CONFIDE_TEST_MINUTES", 10, minimum=1, maximum=60) == 60


def test_env_secret_refuses_both_value_and_file(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("s" * 60)
    monkeypatch.setenv("CONFIDE_TEST_SECRET", "x" * 60)
    monkeypatch.setenv("CONFIDE_TEST_SECRET_FILE", str(secret_file))
    with pytest.raises(ImproperlyConfigured, match="CONFIDE_TEST_SECRET or CONFIDE_TEST_SECRET_FILE, not both"):
        env_secret("CONFIDE_TEST_SECRET")


def test_env_secret_refuses_an_empty_or_missing_file(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    monkeypatch.delenv("CONFIDE_TEST_SECRET", raising=False)
    monkeypatch.setenv("CONFIDE_TEST_SECRET_FILE", str(empty))
    with pytest.raises(ImproperlyConfigured, match="CONFIDE_TEST_SECRET_FILE: .* is empty"):
        env_secret("CONFIDE_TEST_SECRET")
    monkeypatch.setenv("CONFIDE_TEST_SECRET_FILE", str(tmp_path / "absent"))
    with pytest.raises(ImproperlyConfigured, match="CONFIDE_TEST_SECRET_FILE: cannot read"):
        env_secret("CONFIDE_TEST_SECRET")


def test_env_secret_reads_the_file_stripped(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("s" * 60 + "\n")
    monkeypatch.delenv("CONFIDE_TEST_SECRET", raising=False)
    monkeypatch.setenv("CONFIDE_TEST_SECRET_FILE", str(secret_file))
    assert env_secret("CONFIDE_TEST_SECRET") == "s" * 60


# --- Settings in a fresh process ---------------------------------------------------------
def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The inherited environment without anything Confide/Django/database-specific."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CONFIDE_", "DATABASE_", "DJANGO_"))
    }
    env["CONFIDE_DATA_DIR"] = str(tmp_path)
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def _random_secret(length: int = 60) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "CONFIDE_SECRET_KEY (or CONFIDE_SECRET_KEY_FILE, or a file CONFIDE_DATA_DIR/secret_key) must be set"),
        ({"CONFIDE_SECRET_KEY": "too-short"}, "CONFIDE_SECRET_KEY must be at least 50 characters"),
        ({"CONFIDE_DEBUG": "1"}, "CONFIDE_DEBUG=1 is only allowed together with CONFIDE_DEV_MODE=1"),
        ({"CONFIDE_SECRET_KEY": "x" * 60, "CONFIDE_HTTPS": "perhaps"}, "CONFIDE_HTTPS must be one of"),
    ],
    ids=["placeholder-secret", "short-secret", "debug-without-dev", "bad-bool"],
)
def test_settings_refuse_to_load_outside_dev_mode_when_unsafe(tmp_path, extra, message):
    result = _run([sys.executable, "-c", "import confide.settings"], _clean_env(tmp_path, **extra))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_settings_load_outside_dev_mode_with_a_real_secret(tmp_path):
    """The control for the refusals above: the same subprocess succeeds with a proper secret."""
    result = _run([sys.executable, "-c", "import confide.settings as s; print(s.DEBUG, s.DEV_MODE)"], _clean_env(tmp_path, CONFIDE_SECRET_KEY=_random_secret()))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False False"


def test_settings_read_the_secret_key_make_run_left_in_the_data_directory(tmp_path):
    """`make run` writes CONFIDE_DATA_DIR/secret_key; a CLI call from another shell (the
    `confide demo --code` the demo prints) finds it there without any variable set."""
    secret = _random_secret()
    (tmp_path / "secret_key").write_text(secret + "\n")
    result = _run([sys.executable, "-c", "import confide.settings as s; print(s.SECRET_KEY)"], _clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == secret

    (tmp_path / "secret_key").write_text("short\n")  # the length rule holds for the file too
    result = _run([sys.executable, "-c", "import confide.settings"], _clean_env(tmp_path))
    assert "CONFIDE_SECRET_KEY must be at least 50 characters" in result.stderr


def test_deploy_check_passes_with_production_settings(tmp_path):
    assert CONFIDE_SCRIPT.exists(), f"{CONFIDE_SCRIPT} missing: pip install -e . into the venv"
    env = _clean_env(
        tmp_path,
        CONFIDE_SECRET_KEY=_random_secret(),
        CONFIDE_HTTPS="1",
        CONFIDE_ALLOWED_HOSTS="confide.example.org",
        CONFIDE_BASE_URL="https://confide.example.org",  # required: tests/core/test_base_url.py
    )
    result = _run([str(CONFIDE_SCRIPT), "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
