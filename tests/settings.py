"""Test settings: the real settings module, in dev mode, with a throwaway data directory.

`CONFIDE_TEST_DATABASE=postgres` (set by `make test` for its second pass) runs the suite on the
PostgreSQL database named by DATABASE_URL, as the unprivileged application role; otherwise
SQLite, whatever DATABASE_URL says.
"""

import os
import tempfile

os.environ["CONFIDE_DEV_MODE"] = "1"
os.environ.setdefault("CONFIDE_DATA_DIR", tempfile.mkdtemp(prefix="confide-test-"))
os.environ["CONFIDE_HTTPS"] = "0"
os.environ["CONFIDE_EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
if os.environ.get("CONFIDE_TEST_DATABASE") != "postgres":
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("DATABASE_MIGRATE_URL", None)

from confide.settings import *  # noqa: E402,F403

# Argon2 stays the hasher (what production runs) but with test-sized cost parameters.
PASSWORD_HASHERS = ["tests.hashers.FastArgon2PasswordHasher"]
