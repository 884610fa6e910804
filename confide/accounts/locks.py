"""Row locks of accounts (STYLE: `select_for_update` lives in `<app>/locks.py`)."""

from __future__ import annotations

from confide.accounts.models import User


def lock_user(user_id: int) -> None:
    """Lock one user's row for the rest of the caller's transaction: changes to their
    authenticators (starting a set-up, confirming one) are serialised, so two sessions never
    both hold a pending secret, and a confirmation never races a new set-up.
    (SQLite: the IMMEDIATE transaction already holds the database's write lock.)"""
    list(User.objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True))


def lock_active_owners(practice_id) -> list:
    """Lock the practice's active owner memberships (ordered by pk) for the rest of the caller's
    transaction, and return their ids: two owners removing or demoting each other at once are
    serialised, so the second sees the first's change and the last owner is never removed.
    (PostgreSQL re-checks the filter on rows another transaction changed meanwhile.)"""
    from confide.accounts.models import Membership
    from confide.core.permissions import Role

    return list(
        Membership.objects.select_for_update()
        .filter(practice_id=practice_id, role=Role.OWNER, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def lock_active_representative_links(patient_id) -> list:
    """Lock a patient's open representative links (ordered by pk) for the rest of the caller's
    transaction and return them: two runs of the 18th-birthday job end each link once, and only
    the run that ended them tells the guardians and invites the adult. (PostgreSQL re-checks
    `is_active` on rows another transaction ended meanwhile; SQLite's IMMEDIATE transaction
    already holds the write lock.)"""
    from confide.accounts.models import LinkKind, PortalLink

    return list(
        PortalLink.objects.select_for_update()
        .filter(patient_id=patient_id, kind=LinkKind.REPRESENTATIVE, is_active=True)
        .order_by("pk")
    )
