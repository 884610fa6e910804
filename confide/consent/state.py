"""Consent state is a fold of the events (CON2): nothing else decides it.

`fold(events)` replays one subject's events of one topic, oldest first, and returns the
`TopicState` they add up to. The projection table (`ConsentState`) stores exactly this, written
by the service that appends the event, in the same transaction; `confide consent rebuild`
recomputes it with the same function and reports any row that differs. Pure: no database, so
the property test can replay any sequence.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace

from confide.consent.topics import SIGNAL_METHODS, Action, Topic

# The columns of ConsentState that mirror a TopicState (compared by `rebuild`).
STATE_FIELDS = ("granted", "last_action", "last_method", "last_at", "last_event_id", "policy_version", "signal_at", "conflict_pending", "events")


@dataclass(frozen=True)
class TopicState:
    topic: Topic
    granted: bool = False
    last_action: str = ""
    last_method: str = ""
    last_at: datetime.datetime | None = None
    last_event_id: uuid.UUID | None = None
    policy_version: int | None = None  # the notice version the latest choice was made under
    signal_at: datetime.datetime | None = None  # the latest event recorded from a browser signal
    conflict_pending: bool = False  # the latest event is a signal that overrode an earlier choice: ask once
    events: int = 0

    @property
    def answered(self) -> bool:
        """Asked and answered (or answered by a signal): the banner does not ask again."""
        return self.events > 0

    @property
    def last_is_signal(self) -> bool:
        return self.last_method in SIGNAL_METHODS

    @property
    def chosen_after_signal(self) -> bool:
        """The latest event is the subject's own choice, made after a signal was recorded: a
        choice made once the signal was known (after being asked) stands against the signal."""
        return self.events > 0 and not self.last_is_signal and self.signal_at is not None and self.last_at > self.signal_at


def step(state: TopicState, event) -> TopicState:
    """The state after one more event (anything with action, method, at, id, conflict, policy_version)."""
    return replace(
        state,
        granted=event.action == Action.GRANT,
        last_action=str(event.action),
        last_method=str(event.method),
        last_at=event.at,
        last_event_id=event.id,
        policy_version=event.policy_version,
        signal_at=event.at if event.method in SIGNAL_METHODS else state.signal_at,
        conflict_pending=bool(event.conflict),
        events=state.events + 1,
    )


def order_key(event):
    return (event.at, event.created_at, str(event.id))


def fold(topic: Topic, events: Iterable) -> TopicState:
    state = TopicState(Topic(topic))
    for event in sorted(events, key=order_key):
        state = step(state, event)
    return state


def as_row(state: TopicState) -> dict:
    return {name: getattr(state, name) for name in STATE_FIELDS}
