"""Browser tests: Debian's Chromium, driven by Playwright, against pytest-django's live server.

Nothing is downloaded: the browser is the system's /usr/bin/chromium (CI installs the Debian
package), never one fetched by `playwright install`. The live server listens on 127.0.0.1,
which the suite's pytest-socket settings allow. These tests need a transactional database
(the live server runs in another thread), so they run in the SQLite pass only (`-m "not e2e"`
on PostgreSQL, see tests/postgres_setup.py) and build their own small world with the
factories rather than using the `world` fixture, which asks for the non-transactional `db`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from confide.core.permissions import Role
from tests.factories import TEST_PASSWORD, MembershipFactory, PracticeFactory, UserFactory, enrol_totp

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1200, "height": 800}
E2E_DIR = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test under tests/e2e is a browser test, whether or not its module says so.
    for item in items:
        if E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser() -> Generator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: `apt-get install chromium` (CI installs it)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio event loop running in this (the test) thread for
    # as long as it is started, and Django refuses ORM calls from a thread with a running loop
    # (SynchronousOnlyOperation), including in tests that run after these in the same session.
    # The tests never touch the ORM concurrently with the loop doing work (the sync API blocks
    # until each browser step is done), so the check is a false alarm here. The switch is on
    # exactly while Playwright runs and the previous value is restored afterwards.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class PageProblems:
    """What the browser complained about: console errors (Chromium reports CSP violations and
    failed resource loads there) and uncaught page exceptions."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.console_errors + self.page_errors


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page(browser, live_server, page_problems: PageProblems) -> Generator[object]:
    """A page in a fresh browser context (no cookies shared between tests), based at the live server."""
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", lambda msg: page_problems.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page_problems.page_errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()


@dataclass
class E2EWorld:
    practice: object
    users: dict[Role, object]
    devices: dict[Role, object]
    password: str = TEST_PASSWORD


@pytest.fixture
def make_staff(transactional_db) -> Callable[..., object]:
    """make_staff(practice, role, email=..., display_name=..., mfa=True) -> user (with `.device`)."""
    from confide.core.tenancy import tenant_context

    def make(practice, role: Role, *, email: str, display_name: str, mfa: bool = True):
        user = UserFactory(email=email, display_name=display_name)
        user.device = enrol_totp(user) if mfa else None
        with tenant_context(practice_id=practice.id):
            MembershipFactory(user=user, practice=practice, role=role)
        return user

    return make


@pytest.fixture
def e2e_world(transactional_db, make_staff) -> E2EWorld:
    """One practice (MFA required, the default) with an owner and a clinician, both enrolled."""
    practice = PracticeFactory(slug="demo", name="Demo Family Therapy")
    users, devices = {}, {}
    for role, local, name in [(Role.OWNER, "owner", "Olivia Owner"), (Role.CLINICIAN, "clinician", "Chris Clinician")]:
        user = make_staff(practice, role, email=f"{local}@demo.example.test", display_name=name)
        users[role], devices[role] = user, user.device
    return E2EWorld(practice=practice, users=users, devices=devices)


@pytest.fixture
def clinic(e2e_world, make_staff) -> E2EWorld:
    """The e2e practice with a front desk and a billing user too, and one patient with a full
    record and a photo, made through the services (so through the chart door)."""
    from confide.accounts.models import Membership
    from confide.core.actors import StaffActor
    from confide.core.tenancy import tenant_context
    from confide.records.files import do_add_file
    from confide.records.services import do_create_patient, do_update_patient
    from tests.access.conftest import BILLING_EXTRA, FULL
    from tests.records.uploads import png_upload

    practice = e2e_world.practice
    e2e_world.users[Role.FRONT_DESK] = make_staff(practice, Role.FRONT_DESK, email="frontdesk@demo.example.test", display_name="Farah Frontdesk")
    e2e_world.users[Role.BILLING] = make_staff(practice, Role.BILLING, email="billing@demo.example.test", display_name="Bill Billing")
    with tenant_context(practice_id=practice.id):
        def actor(role):
            return StaffActor.from_membership(Membership.objects.get(user=e2e_world.users[role], practice=practice))

        patient = do_create_patient(actor=actor(Role.CLINICIAN), **FULL)
        do_update_patient(actor=actor(Role.OWNER), patient_id=patient.id, reason="patient_request", **BILLING_EXTRA)
        photo = do_add_file(actor=actor(Role.CLINICIAN), patient_id=patient.id, kind="photo", upload=png_upload(), title="Rash, left arm")
    e2e_world.patient, e2e_world.photo = patient, photo
    return e2e_world


def browser_sign_in(page, user, *, password: str = TEST_PASSWORD) -> None:
    """Sign in through the UI: the password page, then a fresh code from the user's authenticator."""
    from confide.accounts.models import TOTPDevice

    page.goto("/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/signin/verify/**")
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    page.get_by_label("Code").fill(device.current_code())
    page.get_by_role("button", name="Verify").click()
