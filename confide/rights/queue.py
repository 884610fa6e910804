"""The privacy officer's queue, as a screen (queue part, issue 17): each open request's clock in
words and its risk, filters, and the backlog chart (open requests per week of due date).

    build_queue(summaries, today, kind="", status="", overdue=False)  ->  QueueView

Pure: it takes the rows `services.list_open_requests` read (audited there) and today's date.
Risk: overdue; due within 7 days; later. Colour is never the only signal: each row carries its
risk in words too, and the chart has a table for screen readers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from confide.rights.models import OPEN_STATUSES, RequestKind, RequestStatus

SOON_DAYS = 7
CHART_WEEKS = 12  # weeks shown from this week on (later ones are counted in the last bar)
BAR_WIDTH, BAR_GAP, CHART_HEIGHT = 24, 8, 120


@dataclass(frozen=True)
class QueueRow:
    summary: object
    due_on: datetime.date
    clock: str  # "due in 3 days", "2 days overdue", "due today"
    risk: str  # overdue | soon | later
    risk_label: str
    channel_label: str
    days_left: int


@dataclass(frozen=True)
class Bar:
    week_start: datetime.date
    label: str
    total: int
    overdue: int
    x: int
    height: int
    y: int
    overdue_height: int
    overdue_y: int


@dataclass
class QueueView:
    rows: list[QueueRow]
    bars: list[Bar]
    chart_width: int
    chart_height: int
    counts: dict[str, int]
    kinds: list[tuple[str, str]]
    statuses: list[tuple[str, str]]
    filters: dict = field(default_factory=dict)
    total_open: int = 0


def clock_words(due: datetime.date, today: datetime.date) -> str:
    days = (due - today).days
    if days == 0:
        return "due today"
    if days > 0:
        return f"due in {days} day{'s' if days != 1 else ''}"
    return f"{-days} day{'s' if days != -1 else ''} overdue"


def risk_of(due: datetime.date, today: datetime.date) -> tuple[str, str]:
    days = (due - today).days
    if days < 0:
        return "overdue", "Overdue"
    if days <= SOON_DAYS:
        return "soon", "Due within 7 days"
    return "later", "On time"


def _week_start(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def backlog_bars(dues: list[datetime.date], today: datetime.date) -> list[Bar]:
    """Open requests per week of (answer) due date: overdue ones together in the first bar
    ("Overdue"), then this week and the next CHART_WEEKS-1 (the last bar takes any later)."""
    this_week = _week_start(today)
    weeks = [this_week + datetime.timedelta(weeks=i) for i in range(CHART_WEEKS)]
    overdue = sum(1 for d in dues if d < today)
    per_week = [0] * CHART_WEEKS
    overdue_per_week = [0] * CHART_WEEKS
    for due in dues:
        if due < today and _week_start(due) < this_week:
            continue  # counted in the "Overdue" bar
        index = min(max((_week_start(due) - this_week).days // 7, 0), CHART_WEEKS - 1)
        per_week[index] += 1
        if due < today:
            overdue_per_week[index] += 1
    overdue_earlier = overdue - sum(overdue_per_week)
    values = [(None, "Overdue, earlier weeks", overdue_earlier, overdue_earlier)] + [
        (week, f"Week of {week:%-d %b}", per_week[i], overdue_per_week[i]) for i, week in enumerate(weeks)
    ]
    top = max([v[2] for v in values] + [1])
    bars = []
    for i, (week, label, total, late) in enumerate(values):
        height = round(total / top * (CHART_HEIGHT - 20))
        late_height = round(late / top * (CHART_HEIGHT - 20))
        x = i * (BAR_WIDTH + BAR_GAP)
        bars.append(Bar(week_start=week or this_week, label=label, total=total, overdue=late, x=x, height=height,
                        y=CHART_HEIGHT - height, overdue_height=late_height, overdue_y=CHART_HEIGHT - late_height))  # fmt: skip
    return bars


def build_queue(summaries, today: datetime.date, *, kind: str = "", status: str = "", overdue: bool = False) -> QueueView:
    all_rows = []
    for s in summaries:
        due = s.answer_due_on
        risk, risk_label = risk_of(due, today)
        all_rows.append(QueueRow(summary=s, due_on=due, clock=clock_words(due, today), risk=risk, risk_label=risk_label,
                                 channel_label=s.channel_label, days_left=(due - today).days))  # fmt: skip
    bars = backlog_bars([r.due_on for r in all_rows], today)
    rows = all_rows
    if kind in RequestKind.values:
        rows = [r for r in rows if r.summary.kind == kind]
    if status in [str(s) for s in OPEN_STATUSES]:
        rows = [r for r in rows if r.summary.status == status]
    if overdue:
        rows = [r for r in rows if r.risk == "overdue"]
    rows.sort(key=lambda r: (r.due_on, r.summary.received_at))
    counts = {"overdue": 0, "soon": 0, "later": 0}
    for r in all_rows:
        counts[r.risk] += 1
    return QueueView(
        rows=rows, bars=bars, chart_width=len(bars) * (BAR_WIDTH + BAR_GAP), chart_height=CHART_HEIGHT + 2, counts=counts,
        kinds=list(RequestKind.choices), statuses=[(s.value, s.label) for s in map(RequestStatus, OPEN_STATUSES)],
        filters={"kind": kind if kind in RequestKind.values else "", "status": status, "overdue": overdue},
        total_open=len(all_rows),
    )  # fmt: skip
