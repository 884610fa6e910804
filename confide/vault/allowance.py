"""Decryption needs an allowance: `with vault.allow(categories={"contact.email"}):`.

Outside an allowance, reading or writing an encrypted attribute raises PHIAccessDenied, so a
view that forgets the chart door leaks nothing. The chart door (`confide.access.door`) opens
allowances for exactly the categories it granted and binds them to the subjects (patients) it
opened: `allow(categories, subjects={patient_id})` admits a read only if the row's subject is
one of those, so a door opened for one patient does not decrypt another. An allowance without
`subjects` (vault tests, rotation) is bound by category only. Unwrapped data keys are cached
only for the life of the outermost allowance and dropped when it closes.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from confide.vault.errors import PHIAccessDenied

ALL = "*"  # only for system maintenance (rotation); never for a person


@dataclass
class Allowance:
    categories: frozenset[str]
    key_cache: dict = field(default_factory=dict)
    subjects: frozenset[str] | None = None  # None: any subject; else only these (as strings)

    def permits(self, category: str, subject=None) -> bool:
        if self.subjects is not None and (subject is None or str(subject) not in self.subjects):
            return False
        if ALL in self.categories or category in self.categories:
            return True
        # "health" grants "health.medications": a category grants its descendants.
        return any(category.startswith(f"{granted}.") for granted in self.categories)


_current: contextvars.ContextVar[Allowance | None] = contextvars.ContextVar("confide_vault_allowance", default=None)


@contextmanager
def allow(categories: Iterable[str], subjects: Iterable | None = None) -> Iterator[Allowance]:
    outer = _current.get()
    granted = frozenset(categories)
    bound = None if subjects is None else frozenset(str(s) for s in subjects)
    # Nested allowances narrow or widen only for their block; keys stay cached in the outer one.
    allowance = Allowance(granted, outer.key_cache if outer else {}, bound)
    token = _current.set(allowance)
    try:
        yield allowance
    finally:
        _current.reset(token)
        if outer is None:
            allowance.key_cache.clear()


def require(category: str, subject=None) -> Allowance:
    allowance = _current.get()
    if allowance is None or not allowance.permits(category, subject):
        raise PHIAccessDenied(f"no allowance for category {category}")
    return allowance


def current() -> Allowance | None:
    return _current.get()
