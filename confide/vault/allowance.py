"""Decryption needs an allowance: `with vault.allow(categories={"contact.email"}):`.

Outside an allowance, reading or writing an encrypted attribute raises PHIAccessDenied, so a
view that forgets the chart door leaks nothing. The chart door (`confide.access.door`) opens
allowances for exactly the categories it granted and binds them to the subjects (patients) it
opened: `allow(categories, subjects={patient_id})` admits a read only if the row's subject is
one of those, so a door opened for one patient does not decrypt another. An allowance without
`subjects` (vault tests, rotation) is bound by category only. Unwrapped data keys are cached
only for the life of the outermost allowance and dropped when it closes.

The key cache counts what it drops (`KeyCache.drops`): a shred, a rotation or the allowance
closing removes entries, and whoever kept a key it was handed (an encrypted field remembers
the key per model instance) uses it again only while that count is unchanged.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from confide.vault.errors import PHIAccessDenied

ALL = "*"  # only for system maintenance (rotation); never for a person


class KeyCache(dict):
    """The allowance's unwrapped keys (filled and emptied by vault.keys). Every removal bumps
    `drops`, so a key remembered elsewhere is trusted only while nothing was dropped."""

    drops = 0

    def __delitem__(self, key):
        self.drops += 1
        super().__delitem__(key)

    def pop(self, *args):
        self.drops += 1
        return super().pop(*args)

    def popitem(self):
        self.drops += 1
        return super().popitem()

    def clear(self):
        self.drops += 1
        super().clear()


@dataclass
class Allowance:
    categories: frozenset[str]
    key_cache: KeyCache = field(default_factory=KeyCache)
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
    allowance = Allowance(granted, outer.key_cache if outer else KeyCache(), bound)
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


# The current allowance or None. The ContextVar's own method, not a function around it: every
# encrypted field read asks, and a Python call costs as much here as the lookup itself.
current = _current.get
