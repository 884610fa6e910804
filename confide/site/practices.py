"""Setting up a real practice: `confide practice create` and the first-run page (`/setup/`).

One service for both: the practice with the default policy (its first policy version and its
audit chain's genesis entry are written by the post_save receivers of `Practice.save`, as for
every practice, `confide demo`'s included), its vault key, a `core:practice:created` entry, and
an invitation for the owner sent through the configured e-mail backend. Every input is checked
before anything is written; the whole is one transaction.

The first-run page is for a server with no practice at all: anyone who reaches such a server
could claim it, so it asks for a setup code the operator reads on the server (the file
`CONFIDE_DATA_DIR/setup_code`, mode 0600, also printed by `confide practice setup-code`), and
the practice is created only if there is still none, under a lock (two submits at once make
exactly one practice). Once a practice exists the page answers 404 and the code file is removed.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from confide.accounts.invitations import clean_email, issue_invitation
from confide.accounts.models import Invitation
from confide.audit import chain as audit
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput
from confide.core.models import Practice
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.core.text import single_line
from confide.vault.keys import ensure_practice_key

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


class PracticeInputError(InvalidInput):
    """Bad input for a new practice; `errors` is {field: message}, all problems at once."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(" ".join(errors.values()))


class FirstRunClosed(Exception):
    """A practice exists already: the first-run page is gone."""


def validate_practice(name: str, slug: str, owner_email: str) -> tuple[str, str, str]:
    """(name, slug, e-mail) cleaned, or PracticeInputError naming every problem."""
    errors: dict[str, str] = {}
    name, slug = (name or "").strip(), (slug or "").strip()
    if not name:
        errors["name"] = "The practice's name is empty: give the name patients know it by."
    elif len(name) > 200:
        errors["name"] = "The practice's name is longer than 200 characters."
    else:
        try:
            single_line(name)
        except ValidationError as exc:
            errors["name"] = f"The practice's name: {exc.messages[0]}"
    if not slug or len(slug) > 50 or not SLUG.fullmatch(slug):
        errors["slug"] = "The slug must be 1–50 lower-case letters, digits and dashes, not starting or ending with a dash (e.g. north-clinic)."
    elif Practice.objects.filter(slug=slug).exists():
        errors["slug"] = f"The slug {slug} is taken by another practice: choose another."
    try:
        owner_email = clean_email(owner_email)
    except InvalidInput:
        errors["owner_email"] = "The owner's e-mail address is not a valid address."
    if errors:
        raise PracticeInputError(errors)
    return name, slug, owner_email


def create_practice(*, name: str, slug: str, owner_email: str, via: str, first_run: bool = False) -> tuple[Practice, Invitation]:
    """The practice and the owner's invitation (sent after commit). `via`: "cli" or "first-run".
    With `first_run`, refuses (FirstRunClosed) unless no practice exists, decided under a lock."""
    with transaction.atomic():
        if first_run:
            _lock_first_run()
            if Practice.objects.exists():
                raise FirstRunClosed
        name, slug, owner_email = validate_practice(name, slug, owner_email)
        try:
            with transaction.atomic():
                practice = Practice(name=name, slug=slug)
                practice.full_clean()
                practice.save()
        except (IntegrityError, ValidationError):  # the slug taken a moment ago by a parallel command
            raise PracticeInputError({"slug": f"The slug {slug} is taken by another practice: choose another."}) from None
        with tenant_context(practice_id=practice.id):
            audit.record(AuditEvent.PRACTICE_CREATED, practice_id=practice.id, detail={"via": via})
            invitation = issue_invitation(practice=practice, email=owner_email, role=Role.OWNER, invited_by=None)
            # Last: the key manager's KEK is made outside the database, so only once all else is in.
            ensure_practice_key(practice.id)
    # A practice exists now: the first-run page is closed, and its code is of no further use.
    transaction.on_commit(remove_setup_code)
    return practice, invitation


def _lock_first_run() -> None:
    """Serialise first-run creations. SQLite: the IMMEDIATE transaction already holds the
    database's write lock. PostgreSQL: a transaction-scoped advisory lock (any role may take one)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('confide-first-run'))")


# --- The setup code ---------------------------------------------------------------------------------
def setup_code_path() -> Path:
    return Path(settings.DATA_DIR) / "setup_code"


def ensure_setup_code() -> str:
    """The setup code, made (0600, never replaced while it exists) on first use."""
    path = setup_code_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    code = "-".join(secrets.token_hex(3) for _ in range(4))  # 96 bits, easy to copy
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(code + "\n")
    return code


def setup_code_matches(typed: str) -> bool:
    path = setup_code_path()
    if not path.is_file():
        return False
    expected = path.read_text(encoding="utf-8").strip()
    typed = (typed or "").strip().lower()
    return bool(expected) and hmac.compare_digest(typed.encode(), expected.encode())


def remove_setup_code() -> None:
    setup_code_path().unlink(missing_ok=True)
