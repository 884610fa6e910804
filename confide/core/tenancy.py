"""The current practice (tenant) and user for this request, job or command.

One context variable pair is the single source of truth: the ORM managers read it to scope
tenant-owned queries, and on PostgreSQL the database backend copies it into the transaction
(`set_config('confide.practice_id', …, true)`, i.e. SET LOCAL) where the row-level-security
policies read it. Nothing else decides which practice's rows are visible.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

_practice_id: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar("confide_practice_id", default=None)
_user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("confide_user_id", default=None)


def current_practice_id() -> uuid.UUID | None:
    return _practice_id.get()


def current_user_id() -> int | None:
    return _user_id.get()


@contextmanager
def tenant_context(*, practice_id: uuid.UUID | None, user_id: int | None = None) -> Iterator[None]:
    """Run a block as practice `practice_id` (and, for identity lookups, as user `user_id`).

    Nests: the previous context is restored on exit, so a job can visit practices in turn."""
    practice_token = _practice_id.set(practice_id)
    user_token = _user_id.set(user_id)
    try:
        yield
    finally:
        _user_id.reset(user_token)
        _practice_id.reset(practice_token)


@contextmanager
def no_tenant() -> Iterator[None]:
    """Explicitly outside any practice: tenant-owned queries raise, RLS shows no rows."""
    with tenant_context(practice_id=None, user_id=None):
        yield
