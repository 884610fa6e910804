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

# PostgreSQL pass: the test connections carry `confide.test_reads_audit = on`, which the test-only
# policy tests/postgres_setup.py adds lets *test code* read the audit log outside any practice or
# user context (assertions on the entries a test produced). Production has no such policy; the
# application's own reads run in a context, where only the production policies apply, and
# tests/audit/test_rls.py switches it off to test those alone.
if DATABASES["default"]["ENGINE"] == "confide.core.db.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c confide.test_reads_audit=on"
