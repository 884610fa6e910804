"""The calendar's cost (issue 16), on SQLite (and PostgreSQL with DATABASE_URL, as bench/chart.py):

    .venv/bin/python bench/scheduling.py [--reps 15]

* the week view (GET /calendar/ through Django's test Client, signed in as the front desk) with
  5 clinicians shown and 500 appointments in that week, against the same page of a practice with
  the same 5 clinicians and no appointment: measured side by side (runs interleaved, medians),
  the ratio is what 500 appointments cost (one query for them, ONE door list for their names,
  the grid);
* the slot search (`slots.free_slots`) for one clinician over 30 days with those appointments.

No timing is asserted anywhere: these figures go in notes, not tests.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chart import REPO, measure, setup_django  # noqa: E402

WEEK = datetime.date(2027, 3, 8)  # a Monday, after today (the policy in force is "now")
PATIENTS = 50


def _practice(with_appointments: bool):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.scheduling.models import Appointment, Status, WorkingHours
    from tests.conftest import _build_practice
    from tests.factories import MembershipFactory, UserFactory
    from tests.portal_world import create_patient
    from tests.scheduling.world import at, scheduling_world

    pw = _build_practice(f"bench-cal-{uuid.uuid4().hex[:6]}", False)
    sw = scheduling_world(pw)
    clinicians = [pw.memberships[Role.CLINICIAN], pw.memberships[Role.OWNER]]
    with tenant_context(practice_id=pw.practice.id):
        for i in range(3):
            user = UserFactory(email=f"c{i}-{uuid.uuid4().hex[:6]}@bench.test", display_name=f"Clinician {i}")
            clinicians.append(MembershipFactory(user=user, practice=pw.practice, role=Role.CLINICIAN))
    if with_appointments:
        patients = [sw.patient] + [create_patient(pw, given_name=f"Bench{i}", email=f"b{i}@bench.test") for i in range(PATIENTS - 1)]
        rows = []
        with tenant_context(practice_id=pw.practice.id):
            for c, clinician in enumerate(clinicians):
                if clinician != sw.clinician:
                    for weekday in range(5):
                        WorkingHours.objects.create(practice=pw.practice, clinician=clinician, weekday=weekday,
                                                    starts=datetime.time(9), ends=datetime.time(17))  # fmt: skip
                for n in range(100):  # 100 half-hour appointments each, 7 days from 8:00
                    day, slot = divmod(n, 15)
                    starts = at(f"{WEEK + datetime.timedelta(days=day)} 08:00") + datetime.timedelta(minutes=30 * slot)
                    rows.append(Appointment(practice=pw.practice, patient=patients[(c * 100 + n) % PATIENTS], clinician=clinician,
                                            appointment_type=sw.kind, starts_at=starts, ends_at=starts + datetime.timedelta(minutes=25),
                                            status=Status.BOOKED))  # fmt: skip
            Appointment.objects.bulk_create(rows)
    return pw, sw, clinicians, StaffActor


def run(backend: str, reps: int) -> dict:
    data_dir = tempfile.mkdtemp(prefix="confide-bench-scheduling-")
    try:
        setup_django(backend, data_dir)
        from django.test import Client
        from django.urls import reverse

        from confide.core.permissions import Role
        from confide.core.tenancy import tenant_context
        from confide.scheduling.models import Appointment
        from confide.scheduling.slots import free_slots
        from tests.conftest import sign_in

        full, full_sw, full_clinicians, _ = _practice(True)
        empty, _, empty_clinicians, _ = _practice(False)
        with tenant_context(practice_id=full.practice.id):
            count = Appointment.objects.count()
        pages = {}
        for name, pw, clinicians in (("500 appointments", full, full_clinicians), ("no appointment", empty, empty_clinicians)):
            client = sign_in(Client(), pw.user(Role.FRONT_DESK), pw.practice)
            query = {"view": "week", "date": WEEK.isoformat(), "clinician": [str(c.pk) for c in clinicians]}
            url = reverse("scheduling:calendar")

            def get(client=client, query=query, url=url):
                response = client.get(url, query)
                assert response.status_code == 200, response.status_code

            pages[name] = get
        page_ms = measure(pages, reps)

        def search():
            with tenant_context(practice_id=full.practice.id):
                return free_slots(full_sw.clinician.pk, 50, WEEK, 30, step_minutes=15,
                                  now=datetime.datetime(2027, 3, 1, tzinfo=datetime.UTC))  # fmt: skip

        slots = len(search())
        search_ms = measure({"search": search}, reps)["search"]
        return {"backend": backend, "appointments": count, "pages": page_ms, "search": search_ms, "slots": slots, "reps": reps}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--child", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.reps)))
        return
    backends = ["sqlite"] + (["postgres"] if os.environ.get("DATABASE_URL") else [])
    for backend in backends:
        out = subprocess.run([sys.executable, __file__, "--child", backend, "--reps", str(args.reps)],
                             capture_output=True, text=True, cwd=REPO, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        full, empty = r["pages"]["500 appointments"], r["pages"]["no appointment"]
        print(f"== {backend}: week view, 5 clinicians, medians of {r['reps']} interleaved runs")
        print(f"  {'with ' + str(r['appointments']) + ' appointments':34} {full:8.1f} ms")
        print(f"  {'with none':34} {empty:8.1f} ms   ratio {full / empty:.2f}x")
        print(f"== slot search, one clinician, 30 days, 15-minute steps ({r['slots']} free slots)")
        print(f"  {'free_slots':34} {r['search']:8.1f} ms")


if __name__ == "__main__":
    main()
