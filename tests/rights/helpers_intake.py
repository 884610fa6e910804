"""Part "intake": helpers to file a request on the public form and verify it by code, reused by
later parts' tests (the retention part's browser test).

    code = code_from_outbox(to="ada@a.portal.test")                 the last code e-mailed there
    made = file_public_request_and_verify(page, live_server, practice, …)   Playwright, ends on the confirmation
    filed = file_and_verify(client, practice, …)                     Django test client, returns the RightsRequest
"""

from __future__ import annotations

import re

from django.core import mail

CODE = re.compile(r"^(\d{6})$", re.M)


def post(client, url, data=None, **kwargs):
    """client.post with the transaction's on-commit callbacks run (the e-mails leave on commit;
    the test's own transaction never commits)."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, data or {}, **kwargs)


def code_from_outbox(*, to: str) -> str:
    """The code in the last e-mail sent to `to` (the contact on file)."""
    for message in reversed(mail.outbox):
        if to in message.to:
            found = CODE.search(message.body)
            if found:
                return found.group(1)
    raise AssertionError(f"no code was e-mailed to {to}")


def public_form_data(patient: dict, *, kind: str = "delete", role: str = "patient", email: str = "visitor@example.test", **extra) -> dict:
    data = {
        "kind": kind, "role": role, "given_name": patient["given_name"], "family_name": patient["family_name"],
        "date_of_birth": str(patient["date_of_birth"]), "email": email, "phone": "", "detail": "", "website": "",
    }  # fmt: skip
    return data | extra


def file_and_verify(client, practice, patient: dict, *, contact_on_file: str, kind: str = "delete", **extra):
    """The public form and the code page through the Django test client; returns the request."""
    from confide.core.tenancy import tenant_context
    from confide.rights.models import RightsRequest

    url = f"/p/{practice.slug}/privacy/request/"
    response = post(client, url, public_form_data(patient, kind=kind, **extra))
    assert response.status_code == 302, response.content[:400]
    verify = response["Location"]
    response = post(client, verify, {"code": code_from_outbox(to=contact_on_file)})
    assert response.status_code == 200, response.content[:400]
    with tenant_context(practice_id=practice.id):
        return RightsRequest.objects.order_by("-received_at").first()


def file_public_request_and_verify(page, live_server, practice, patient: dict, *, contact_on_file: str, kind: str = "delete",
                                   email: str = "visitor@example.test", check=None) -> None:  # fmt: skip
    """In the browser: open the practice's public form, file `kind` as the patient, read the code
    from the e-mail outbox, enter it, and end on the confirmation page (asserted). `check(page)`,
    if given, runs on each of the three pages (an axe and width check, say). The practice's
    declaration must let e-mail carry the code (`email_with_baa`)."""
    check = check or (lambda _page: None)
    page.goto(f"{live_server.url}/p/{practice.slug}/privacy/request/")
    check(page)
    page.check(f"#kind-{kind}")
    page.check("#role-patient")
    page.fill("#given_name", patient["given_name"])
    page.fill("#family_name", patient["family_name"])
    page.fill("#date_of_birth", str(patient["date_of_birth"]))
    page.fill("#email", email)
    page.get_by_role("button", name="Send my request").click()
    page.wait_for_selector("[data-testid=code-sent]")
    check(page)
    page.fill("#code", code_from_outbox(to=contact_on_file))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("[data-testid=request-verified]")
    check(page)

EMAIL_WITH_BAA = '[[processors]]\nid = "email"\nbaa_on_file = true\n'


def email_with_baa(pw, membership=None) -> None:
    """Publish a declaration in which the e-mail processor has a BAA on file: without it the
    egress gate (rightly) refuses to e-mail a patient's address, and no code can be sent."""
    from django.core.cache import cache
    from django.utils import timezone

    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.policy.services import do_publish_policy

    do_publish_policy(actor=StaffActor.from_membership(membership or pw.memberships[Role.PRIVACY_OFFICER]), override_toml=EMAIL_WITH_BAA,
                      effective_at=timezone.now(), material=False, summary="E-mail processor under a BAA.")  # fmt: skip
    cache.clear()
