"""Google Calendar, read-only (SCH2/SCH3): the interface the calendar and the booking pages use.

The google part of issue 16 replaces this stub with the OAuth connection and the client; until
a clinician connects, they have no busy blocks.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class BusyBlock:
    """One busy interval from the clinician's Google Calendar, for display only: its title is
    shown to the clinician themself and never stored (SCH2)."""

    starts_at: datetime.datetime
    ends_at: datetime.datetime
    title: str = ""  # empty unless the viewer is the calendar's owner


def busy_blocks(clinician_id, start: datetime.datetime, end: datetime.datetime, *, viewer_id=None) -> list[BusyBlock]:
    """The clinician's Google busy blocks overlapping [start, end); [] when not connected."""
    return []
