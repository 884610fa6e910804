"""Decryption needs an allowance: `with vault.allow(categories={"contact.email"}):`.

Outside an allowance, reading or writing an encrypted attribute raises PHIAccessDenied, so a
view that forgets the chart door leaks nothing. The access issue's chart door opens allowances;
until then services open them directly. Unwrapped data keys are cached only for the life of
the outermost allowance and dropped when it closes.
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

    def permits(self, category: str) -> bool:
        if ALL in self.categories or category in self.categories:
            return True
        # "health" grants "health.medications": a category grants its descendants.
        return any(category.startswith(f"{granted}.") for granted in self.categories)


_current: contextvars.ContextVar[Allowance | None] = contextvars.ContextVar("confide_vault_allowance", default=None)


@contextmanager
def allow(categories: Iterable[str]) -> Iterator[Allowance]:
    outer = _current.get()
    granted = frozenset(categories)
    # Nested allowances narrow or widen only for their block; keys stay cached in the outer one.
    allowance = Allowance(granted, outer.key_cache if outer else {})
    token = _current.set(allowance)
    try:
        yield allowance
    finally:
        _current.reset(token)
        if outer is None:
            allowance.key_cache.clear()


def require(category: str) -> Allowance:
    allowance = _current.get()
    if allowance is None or not allowance.permits(category):
        raise PHIAccessDenied(f"no allowance for category {category}")
    return allowance


def current() -> Allowance | None:
    return _current.get()
