"""The dashboard's counts of what waits today (issue 12 item 19), each a link to the page that
handles it, shown per the role's permissions.

The dashboard view lives in core, below the packages that know what waits (consultations and
notes in records, break-the-glass openings in access, policy versions in policy), so each of
those registers its counts here from its AppConfig.ready() — a port, as Django's admin
registry is. A count is a COUNT: it reads ids and statuses only, never a chart (no door is
opened, nothing is decrypted, nothing is written to the audit log).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from confide.core.actors import StaffActor
from confide.core.permissions import Perm


@dataclass(frozen=True)
class Waiting:
    """One line of the dashboard: `count(actor)` → how many; `link(actor)` → the page's URL."""

    key: str
    label: str  # "Consultations waiting"
    perm: Perm
    count: Callable[[StaffActor], int]
    link: Callable[[StaffActor], str]
    order: int = 100


@dataclass(frozen=True)
class Shown:
    key: str
    label: str
    count: int
    url: str


_REGISTRY: dict[str, Waiting] = {}


def register(waiting: Waiting) -> None:
    _REGISTRY[waiting.key] = waiting


def registered() -> list[Waiting]:
    return sorted(_REGISTRY.values(), key=lambda w: (w.order, w.key))


def waiting_for(actor: StaffActor) -> list[Shown]:
    """The counts this actor's role may see, in order."""
    return [Shown(w.key, w.label, w.count(actor), w.link(actor)) for w in registered() if actor.has(w.perm)]
