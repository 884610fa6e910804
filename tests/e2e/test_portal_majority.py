"""Issue 14, done-when: a guardian signs in, switches to their teenager's record, reads it,
prohibits a use of it (MIN3), and on the 18th birthday the guardian loses access (the next page
says so, once) and the adult is invited to an account of their own (the real invitation e-mail)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from confide.accounts.models import LinkKind
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.factories import TEST_PASSWORD


def test_min3_the_guardian_loses_access_at_18_and_is_told_on_the_next_page(page, page_problems, e2e_world, live_server, settings):
    from confide.accounts.models import Membership
    from confide.records.majority import end_representation_at_majority
    from confide.records.services import do_create_patient
    from tests.access.conftest import FULL
    from tests.portal_world import link, make_portal_user, years_ago

    settings.CONFIDE_BASE_URL = live_server.url
    practice = e2e_world.practice
    with tenant_context(practice_id=practice.id):
        clinician = StaffActor.from_membership(Membership.objects.get(user=e2e_world.users[Role.CLINICIAN], practice=practice))
        parent = do_create_patient(actor=clinician, **(FULL | {"given_name": "Paula", "family_name": "Parent", "preferred_name": "", "email": "paula@portal.test"}))
        teen = do_create_patient(actor=clinician, **(FULL | {"given_name": "Tess", "family_name": "Parent", "preferred_name": "",
                                                            "date_of_birth": years_ago(18), "email": "tess@portal.test"}))  # fmt: skip
    user = make_portal_user("paula@portal.test", "Paula")
    user.set_password(TEST_PASSWORD)
    user.save(update_fields=["password"])
    link(user, parent)
    link(user, teen, kind=LinkKind.REPRESENTATIVE, relationship="mother", verified_by=e2e_world.users[Role.OWNER])

    page.goto("/portal/signin/")
    page.get_by_label("Email").fill("paula@portal.test")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/portal/$"))
    page.get_by_label("Whose record do you want to see?").select_option(label="Tess Parent (you are their parent or guardian)")
    page.get_by_role("button", name="Switch").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Tess Parent's record"
    # The guardian reads the teenager's record, and prohibits a use of it (MIN3).
    page.get_by_role("link", name="My record").click()
    expect(page.locator("main")).to_contain_text("salbutamol")
    page.get_by_role("link", name="Privacy").click()
    limit = page.get_by_test_id("topic-limit_sensitive")
    limit.get_by_role("button", name="Limit the use").click()
    expect(page.get_by_test_id("topic-limit_sensitive").get_by_test_id("state")).to_have_text("You asked us to limit it")
    from confide.consent.models import ConsentEvent

    with tenant_context(practice_id=practice.id):
        chosen = ConsentEvent.objects.get(patient_id=teen.pk, topic="limit_sensitive")
    assert chosen.action == "grant"
    page.goto("/portal/")

    mail.outbox.clear()
    run = end_representation_at_majority()  # the daily job, on the birthday
    assert run.came_of_age == [teen.pk]

    page.reload()
    notice = page.get_by_role("status")
    assert notice.inner_text().strip() == "Your access to Tess's record ended because they turned 18."
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, Paula Parent"
    page.reload()
    assert page.get_by_role("status").count() == 0  # once
    invited = [m for m in mail.outbox if m.to == ["tess@portal.test"]]
    assert len(invited) == 1 and "/portal/invitation/?token=" in invited[0].body
    assert [m.to for m in mail.outbox if "turned 18" in m.body] == [["paula@portal.test"]]
    assert page_problems.all() == []
