"""The test world: practices A and B, a user for each role in each, canary PHI values, helpers.

Every test that needs people uses `world`. Canary values are PHI-shaped strings that must never
appear in a log line, an error page, an e-mail we did not mean to send, or a URL.
"""

from __future__ import annotations

import logging
import uuid
from unittest import mock
from dataclasses import dataclass, field

import pytest
from django.core.management import call_command
from django.test import Client

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.factories import MembershipFactory, PracticeFactory, UserFactory, enrol_totp

# PostgreSQL pass: migrate as the owning role, test as the application role (tests/postgres_setup.py).
pytest_plugins = ["tests.postgres_setup"]

PASSWORD = "Correct-Horse-Battery-9"

# PHI-shaped canaries. Some are used as staff names/emails now; the records issue adds patients
# carrying them. Grepping for any of these in logs or pages must find nothing.
CANARIES = {
    "name": "Zebulon Canarywood",
    "email": "zebulon.canary@phi-canary.test",
    "phone": "+1 555 013 7742",
    "dob": "1961-07-23",
    "note": "canary-diagnosis-xyzzy",
}


@dataclass
class PracticeWorld:
    practice: object
    users: dict[Role, object] = field(default_factory=dict)
    memberships: dict[Role, object] = field(default_factory=dict)

    def user(self, role: Role):
        return self.users[role]

    @property
    def owner(self):
        return self.users[Role.OWNER]


@dataclass
class World:
    a: PracticeWorld
    b: PracticeWorld


def _build_practice(slug: str, canary: bool) -> PracticeWorld:
    practice = PracticeFactory(slug=slug, name=f"Practice {slug.upper()}")
    pw = PracticeWorld(practice=practice)
    for role in Role:
        email = f"{role.value}@{slug}.example.test"
        display = f"{role.label} {slug.upper()}"
        if canary and role is Role.CLINICIAN:
            email, display = CANARIES["email"], CANARIES["name"]
        user = UserFactory(email=email, display_name=display)
        enrol_totp(user)
        with tenant_context(practice_id=practice.id):
            pw.memberships[role] = MembershipFactory(user=user, practice=practice, role=role)
        pw.users[role] = user
    return pw


@pytest.fixture(autouse=True, scope="session")
def _audit_log_flushable():
    """Transactional tests (browser tests, tests/vault/test_cli_keys.py) are reset by a flush,
    which the append-only audit log refuses on SQLite once they have written an entry: that
    flush, and only it, may empty the log. See tests/audit/flushable.py."""
    from tests.audit.flushable import audit_log_flushable

    with audit_log_flushable():
        yield


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Each test starts with empty process caches (unwrapped keysets, policy versions): a test's
    database is rolled back after it, and a cache must not carry what it read into the next."""
    from confide.consent.services import clear_consent_cache
    from confide.policy.services import clear_policy_cache
    from confide.vault.keys import clear_process_cache

    clear_process_cache()
    clear_policy_cache()
    clear_consent_cache()
    yield


@pytest.fixture
def world(db) -> World:
    return World(a=_build_practice("a", canary=True), b=_build_practice("b", canary=False))


def sign_in(client: Client, user, practice=None) -> Client:
    """A fully signed-in session: password (force_login) + verified TOTP + chosen practice."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from confide.accounts.models import TOTPDevice
    from confide.core.middleware import SESSION_AUTH_FRESH_AT, SESSION_PRACTICE

    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    if practice is not None:
        session[SESSION_PRACTICE] = str(practice.id)
    import time

    session[SESSION_AUTH_FRESH_AT] = int(time.time())
    session.save()
    return client


@pytest.fixture
def signed_in(client, world):
    """signed_in(role, practice_world=world.a) -> a Client signed in as that role."""

    def make(role: Role, where: PracticeWorld | None = None) -> Client:
        where = where or world.a
        return sign_in(client, where.user(role), where.practice)

    return make


@pytest.fixture
def caplog_all(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def clock():
    """A fixed clock at 2026-03-02 09:00 UTC; `clock.shift(seconds)` moves it."""
    import time_machine

    with time_machine.travel("2026-03-02T09:00:00Z", tick=False) as traveller:
        yield traveller


@pytest.fixture
def run_tasks():
    """Run the queued background tasks now with the real worker (`confide db_worker --batch`),
    then return. The worker's `close_old_connections()` is held off: inside a test's
    transaction it would close the connection the test is using (on PostgreSQL)."""

    def run():
        with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
            call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    return run


def random_uuid() -> uuid.UUID:
    return uuid.uuid4()
