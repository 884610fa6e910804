"""SEC: the SQLite database and the data directory are the operator's alone. A fresh data
directory is created 0700; the database and its WAL and shared-memory files are 0600 even under
the usual umask 022 (they were 0644: anyone on the machine could copy every chart's ciphertext,
the sessions and the audit log). Issue 11 item 13."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# What `confide migrate` and the first request of `make run` do: load settings, connect, write.
_FIRST_CONNECTION = """
import django, json, os, stat
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE probe (x integer)")
    cursor.execute("INSERT INTO probe VALUES (1)")
data = os.environ["CONFIDE_DATA_DIR"]
modes = {name: oct(stat.S_IMODE(os.stat(os.path.join(data, name)).st_mode)) for name in os.listdir(data) if name.startswith("confide.sqlite3")}
modes["."] = oct(stat.S_IMODE(os.stat(data).st_mode))
print(json.dumps(modes))
"""


def _first_connection(data_dir: Path) -> dict:
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_MIGRATE_URL", "CONFIDE_TEST_DATABASE")}
    env |= {"DJANGO_SETTINGS_MODULE": "confide.settings", "CONFIDE_DEV_MODE": "1", "CONFIDE_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", f"import os; os.umask(0o022)\n{_FIRST_CONNECTION}"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_sec_a_new_data_directory_and_its_database_files_are_the_owners_alone(tmp_path):
    modes = _first_connection(tmp_path / "new-data-dir")
    assert modes == {".": "0o700", "confide.sqlite3": "0o600", "confide.sqlite3-wal": "0o600", "confide.sqlite3-shm": "0o600"}


def test_sec_a_database_left_readable_by_an_older_version_is_tightened(tmp_path):
    data = tmp_path / "old"
    data.mkdir(mode=0o700)
    (data / "confide.sqlite3").touch(mode=0o644)
    os.chmod(data / "confide.sqlite3", 0o644)
    modes = _first_connection(data)
    assert stat.S_IMODE((data / "confide.sqlite3").stat().st_mode) == 0o600
    assert {name: mode for name, mode in modes.items() if name != "."} == {
        "confide.sqlite3": "0o600", "confide.sqlite3-wal": "0o600", "confide.sqlite3-shm": "0o600",
    }  # fmt: skip
