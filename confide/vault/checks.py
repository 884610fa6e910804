"""Start-up check: encrypted data without its keyring is refused, never papered over.

If the database holds wrapped keys but the local keyring file is gone (a restore onto a new
disk, a wrong CONFIDE_DATA_DIR), creating a fresh empty keyring would make every existing
ciphertext permanently unreadable and new data silently diverge. Refuse to start instead.
"""

from __future__ import annotations

from django.core.checks import Error, Tags, register
from django.db import DatabaseError

from confide.vault.errors import KeyringMissing


def keyring_problem() -> str | None:
    from confide.vault.kms import key_manager
    from confide.vault.models import PlatformKey, PracticeKey

    manager = key_manager()
    if manager.exists():
        return None
    from confide.core.models import Practice
    from confide.core.tenancy import tenant_context

    try:
        # Practice by practice: on PostgreSQL row security shows keys only inside a context.
        in_use = PlatformKey.objects.filter(key_manager=manager.name).exists()
        for practice_id in Practice.objects.values_list("id", flat=True):
            if in_use:
                break
            with tenant_context(practice_id=practice_id):
                if PracticeKey.objects.filter(key_manager=manager.name).exists():
                    in_use = True
                    break
    except DatabaseError:  # not migrated yet: nothing to protect
        return None
    if in_use:
        return f"the keyring at {getattr(manager, 'path', '?')} is missing but the database holds keys wrapped by it"
    return None


@register(Tags.security, deploy=False)
def check_keyring(app_configs=None, **kwargs):
    problem = keyring_problem()
    if problem:
        return [Error(problem, hint="Restore the keyring directory from its backup, or point CONFIDE_DATA_DIR at it.", id="confide.E001")]
    return []


def assert_keyring_present() -> None:
    problem = keyring_problem()
    if problem:
        raise KeyringMissing(problem)
