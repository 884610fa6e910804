"""`confide practice create`: a real practice with the default policy, its key and audit chain,
and the owner's invitation by e-mail; bad input is one line on stderr, exit 1, nothing written."""

from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from django.core.management import call_command

from confide.accounts.models import Invitation
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.models import Practice
from confide.core.tenancy import tenant_context
from confide.policy.services import latest_version
from confide.vault.models import PracticeKey
from tests.security.routes_helpers import snapshot


def _run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("practice", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def _create(name="North Clinic", slug="north", email="owner@north.example.test"):
    return _run("create", f"--name={name}", f"--slug={slug}", f"--owner-email={email}")


def test_creates_the_practice_with_the_default_policy_its_key_and_chain_and_invites_the_owner(db, settings, django_capture_on_commit_callbacks):
    settings.CONFIDE_BASE_URL = "http://127.0.0.1:8765"
    with django_capture_on_commit_callbacks(execute=True):
        code, out, err = _create()
    assert (code, err) == (0, "")
    practice = Practice.objects.get(slug="north")
    assert practice.name == "North Clinic" and practice.mfa_required
    assert "Practice URL: http://127.0.0.1:8765/p/north/privacy/" in out
    assert latest_version(practice.id).number == 1  # the default policy
    with tenant_context(practice_id=practice.id):
        assert PracticeKey.objects.filter(practice_id=practice.id).exists()
        invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == ("owner@north.example.test", "owner", None)
    events = list(AuditEntry.objects.filter(chain=str(practice.id)).order_by("seq").values_list("event", flat=True))
    assert events[0] == AuditEvent.CHAIN_STARTED and AuditEvent.PRACTICE_CREATED in events and AuditEvent.INVITATION_SENT in events
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["owner@north.example.test"]
    assert re.search(r"http://127\.0\.0\.1:8765/invite/\?token=[0-9a-f]{32}\.\S+", mail.outbox[0].body)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"slug": "taken"}, "The slug taken is taken"),
        ({"slug": "Bad Slug!"}, "lower-case letters, digits and dashes"),
        ({"slug": "-dash"}, "lower-case letters, digits and dashes"),
        ({"email": "not-an-address"}, "e-mail address is not a valid address"),
        ({"name": "   "}, "name is empty"),
        ({"name": "Line\nbreak"}, "The practice's name:"),
    ],
    ids=["slug-taken", "bad-slug", "slug-dash", "bad-email", "empty-name", "name-two-lines"],
)
def test_bad_input_is_one_line_on_stderr_exit_1_and_nothing_written(db, args, message):
    from tests.factories import PracticeFactory

    PracticeFactory(slug="taken")
    before, keys = snapshot(), PracticeKey.across_practices.count()
    code, out, err = _create(**args)
    assert code == 1
    assert out == ""
    assert message in err
    assert err.count("\n") <= 1 and err.startswith("confide practice create: ")
    assert snapshot() == before and PracticeKey.across_practices.count() == keys
    assert mail.outbox == []


def test_every_problem_is_named_on_the_one_line(db):
    code, _, err = _create(name="", slug="NO", email="x")
    assert code == 1
    assert "name is empty" in err and "slug" in err and "e-mail" in err


def test_setup_code_is_printed_while_no_practice_exists_and_refused_after(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    code, out, _ = _run("setup-code")
    assert code == 0
    printed = out.splitlines()[0]
    assert (tmp_path / "setup_code").read_text().strip() == printed
    assert (tmp_path / "setup_code").stat().st_mode & 0o777 == 0o600
    assert _run("setup-code")[1].splitlines()[0] == printed  # the same code, not a new one
    _create()
    code, _, err = _run("setup-code")
    assert code == 1 and "a practice exists already" in err
