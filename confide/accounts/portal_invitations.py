"""PLACEHOLDER (issue 14, helper "pguard"): the portal invitation service is written by helper
"pacct" in parallel; this module exists only so that the 18th-birthday job
(confide/records/majority.py) can call it. Replace it with pacct's module when merging: the
signature below is the one the job calls (keyword-only). Tests monkeypatch it."""

from __future__ import annotations

import uuid

from confide.accounts.models import LinkKind


def issue_portal_invitation(
    *,
    practice_id: uuid.UUID,
    patient_id: uuid.UUID,
    email: str,
    kind: str = LinkKind.SELF,
    relationship: str = "",
    verified_by_id: int | None = None,
    invited_by_id: int | None = None,
    request=None,
    basis: str = "",
):
    raise NotImplementedError("placeholder: confide.accounts.portal_invitations is pacct's (issue 14)")
