"""Wall-clock times in the practice's zone, and the two days a year they lie.

A time typed on a form ("Sunday 8 March, 2:30") is a wall-clock time in the practice's zone.
In a spring-forward gap it does not exist; in a fall-back overlap it happens twice. Neither is
guessed: a gap is refused with the reason, an overlap needs the caller to say which (`fold`),
and a form asks the person. Python's zoneinfo gives both answers (PEP 495): a time in a gap
does not survive the round trip through UTC, and a time in an overlap has two offsets.
"""

from __future__ import annotations

import datetime
import zoneinfo

from confide.core.errors import InvalidInput
from confide.core.tenancy import current_practice_id

UTC = datetime.UTC


class NonexistentTime(InvalidInput):
    """The wall-clock time falls in a spring-forward gap."""


class AmbiguousTime(InvalidInput):
    """The wall-clock time happens twice (fall back); `choices` are the two instants."""

    def __init__(self, message: str, choices: tuple[datetime.datetime, datetime.datetime]):
        super().__init__(message)
        self.choices = choices


def practice_zone(practice_id=None) -> zoneinfo.ZoneInfo:
    """The practice's time zone (its scheduling settings; the default until it sets one)."""
    from confide.scheduling.models import DEFAULT_TIME_ZONE, SchedulingSettings

    practice_id = practice_id or current_practice_id()
    name = SchedulingSettings.objects.filter(practice_id=practice_id).values_list("time_zone", flat=True).first()
    return zoneinfo.ZoneInfo(name or DEFAULT_TIME_ZONE)


def _label(local: datetime.datetime, zone: zoneinfo.ZoneInfo) -> str:
    return f"{local:%-d %B %Y} at {local:%-H:%M} in {zone.key}"


def aware(local: datetime.datetime, zone: zoneinfo.ZoneInfo, *, fold: int | None = None) -> datetime.datetime:
    """The instant (UTC) of naive wall-clock time `local` in `zone`.

    Raises NonexistentTime in a gap, AmbiguousTime in an overlap unless `fold` (0: the first,
    1: the second occurrence) is given."""
    if local.tzinfo is not None:
        raise ValueError("aware() takes a naive wall-clock time")
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != local:
        raise NonexistentTime(
            f"{_label(local, zone)} does not exist: the clocks go forward that night. Choose another time."
        )
    if first.utcoffset() != second.utcoffset():
        if fold is None:
            raise AmbiguousTime(
                f"{_label(local, zone)} happens twice: the clocks go back that night. Choose the first or the second.",
                (first.astimezone(UTC), second.astimezone(UTC)),
            )
        return (second if fold else first).astimezone(UTC)
    return first.astimezone(UTC)


def local(instant: datetime.datetime, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    """`instant` as wall-clock time in `zone` (aware, for formatting)."""
    return instant.astimezone(zone)
