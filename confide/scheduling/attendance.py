"""The monthly attendance report (issue 16 item 3): per clinician and appointment type, how many
appointments, completed, no-shows and late cancellations, and the rates. Counts only.

    attendance(practice_id, year, month) -> Report      parse_month("2027-03") -> (2027, 3)

Definitions (also on the page):
- the month is the practice's calendar month, in its time zone (an appointment belongs to the
  month its start falls in there);
- appointments: every appointment that was booked (not a website request still waiting), whatever
  became of it, cancelled ones included;
- completed: arrived or completed; no-shows: marked no-show;
- late cancellations: cancelled by the patient less than the practice's `late_cancel_hours`
  before the start (or cancelled with the reason "The patient cancelled late");
- rates: no-shows / appointments and late cancellations / appointments.

The query reads only the columns it counts (clinician, type, status, start, cancellation time and
who cancelled), never the patient: no patient's data leaves this function, so there is no chart
opening to audit and the CSV carries no PHI.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from dataclasses import dataclass, field

from confide.core.errors import InvalidInput
from confide.core.tenancy import tenant_context
from confide.scheduling.models import Appointment, AppointmentType, CancelReason, SchedulingSettings, Status

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value, *, today: datetime.date) -> tuple[int, int]:
    """`YYYY-MM`, between 2000 and ten years ahead; empty: this month."""
    text = str(value or "").strip()
    if not text:
        return today.year, today.month
    found = _MONTH.match(text[:7]) if len(text) == 7 else None
    if not found or not 1 <= int(found.group(2)) <= 12 or not 2000 <= int(found.group(1)) <= today.year + 10:
        raise InvalidInput("Choose a month as YYYY-MM, for example 2027-03.")
    return int(found.group(1)), int(found.group(2))


@dataclass
class Line:
    clinician: str
    appointment_type: str
    appointments: int = 0
    completed: int = 0
    no_shows: int = 0
    late_cancellations: int = 0

    @property
    def no_show_rate(self) -> str:
        return _rate(self.no_shows, self.appointments)

    @property
    def late_cancellation_rate(self) -> str:
        return _rate(self.late_cancellations, self.appointments)


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


@dataclass
class Report:
    year: int
    month: int
    time_zone: str
    late_cancel_hours: int
    lines: list[Line] = field(default_factory=list)
    total: Line = field(default_factory=lambda: Line("All clinicians", "All types"))

    @property
    def label(self) -> str:
        return datetime.date(self.year, self.month, 1).strftime("%B %Y")

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def attendance(practice_id, year: int, month: int) -> Report:
    import zoneinfo

    from confide.accounts.models import Membership

    with tenant_context(practice_id=practice_id):
        conf = SchedulingSettings.objects.filter(practice_id=practice_id).first() or SchedulingSettings(practice_id=practice_id)
        zone = zoneinfo.ZoneInfo(conf.time_zone)
        start = datetime.datetime(year, month, 1, tzinfo=zone)
        end = datetime.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
        late = datetime.timedelta(hours=conf.late_cancel_hours)
        rows = (
            Appointment.objects.filter(starts_at__gte=start, starts_at__lt=end)
            .exclude(status=Status.REQUESTED)
            .values_list("clinician_id", "appointment_type_id", "status", "starts_at", "cancelled_at", "cancelled_by_patient", "cancel_reason")
        )
        lines: dict[tuple, Line] = {}
        report = Report(year, month, conf.time_zone, conf.late_cancel_hours)
        clinicians = dict(Membership.objects.filter(practice_id=practice_id).values_list("pk", "user__display_name"))
        kinds = dict(AppointmentType.objects.values_list("pk", "name"))
        for clinician_id, type_id, status, starts_at, cancelled_at, by_patient, reason in rows:
            key = (clinician_id, type_id)
            if key not in lines:
                lines[key] = Line(clinicians.get(clinician_id) or "A former clinician", kinds.get(type_id) or "A removed type")
            for line in (lines[key], report.total):
                line.appointments += 1
                line.completed += status in (Status.ARRIVED, Status.COMPLETED)
                line.no_shows += status == Status.NO_SHOW
                line.late_cancellations += status == Status.CANCELLED and (
                    reason == CancelReason.PATIENT_LATE or (by_patient and cancelled_at is not None and cancelled_at > starts_at - late)
                )
    report.lines = sorted(lines.values(), key=lambda line: (line.clinician.lower(), line.appointment_type.lower()))
    return report


CSV_HEADER = ["month", "clinician", "appointment_type", "appointments", "completed", "no_shows", "no_show_rate",
              "late_cancellations", "late_cancellation_rate"]  # fmt: skip


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a name starting with = + - @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in [*report.lines, report.total]:
        writer.writerow([report.key, _safe(line.clinician), _safe(line.appointment_type), line.appointments, line.completed,
                         line.no_shows, line.no_show_rate, line.late_cancellations, line.late_cancellation_rate])  # fmt: skip
    return out.getvalue()
