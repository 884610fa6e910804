"""The patient portal's pages beside the staff pages that show the same record (issue 14), on
SQLite (and PostgreSQL with DATABASE_URL, as bench/chart.py), in one run, side by side:

    .venv/bin/python bench/portal.py [--reps 60] [--openings 500]

* "My record" (the patient, through the door as a PatientActor: the link re-read, the portal
  grant) against the clinician's clinical tab of the same chart (the staff door);
* the privacy centre ("who opened my record" over `--openings` staff openings of the chart,
  consent topics, what we hold) against the staff privacy tab (the access report) of the same
  chart;
* the portal home (the record switcher's headers: one door opening per record held).

Medians of interleaved runs (ms per request through the Django test Client, in-process) and the
statements each sends. No timing is asserted anywhere: these figures go in notes, not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chart import REPO, make_world, measure, setup_django, statements  # noqa: E402


def run(backend: str, reps: int, openings: int) -> dict:
    data_dir = tempfile.mkdtemp(prefix="confide-bench-portal-")
    try:
        setup_django(backend, data_dir)
        from django.test import Client
        from django.urls import reverse

        from confide.access.door import open_chart
        from confide.accounts.models import LinkKind, PortalLink, User, UserKind
        from confide.audit.chain import seal_all
        from confide.core.purposes import Purpose
        from confide.core.tenancy import tenant_context
        from tests.conftest import sign_in
        from tests.portal_world import portal_sign_in

        practice, staff_user, actor, patient = make_world()
        with tenant_context(practice_id=practice.id):
            for _ in range(openings):
                with open_chart(actor, patient.pk, Purpose.TREATMENT, categories={"health.medications"}):
                    pass
        seal_all()
        portal_user = User.objects.create_user(f"bench-portal-{practice.slug}@example.test", "Bench-portal-password-1", display_name="Bench", kind=UserKind.PATIENT)
        with tenant_context(practice_id=practice.id):
            PortalLink.objects.create(practice=practice, user=portal_user, patient_id=patient.pk, kind=LinkKind.SELF)
        staff = sign_in(Client(), staff_user, practice)
        patient_client = portal_sign_in(Client(), portal_user)

        def get(client, url):
            def fn():
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
            return fn

        chart_kwargs = {"patient_id": patient.pk}
        pages = {
            "portal:record": get(patient_client, reverse("portal:record")),
            "records:chart-clinical": get(staff, reverse("records:chart-clinical", kwargs=chart_kwargs)),
            "portal:privacy": get(patient_client, reverse("portal:privacy")),
            "records:chart-privacy": get(staff, reverse("records:chart-privacy", kwargs=chart_kwargs)),
            "portal:home": get(patient_client, reverse("portal:home")),
        }
        medians = measure(pages, reps)
        counts = {name: statements(fn) for name, fn in pages.items()}
        return {"backend": backend, "openings": openings, "ms": medians, "statements": counts}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=60)
    parser.add_argument("--openings", type=int, default=500)
    parser.add_argument("--child", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.reps, args.openings)))
        return
    backends = ["sqlite"] + (["postgres"] if os.environ.get("DATABASE_URL") else [])
    for backend in backends:
        out = subprocess.run([sys.executable, __file__, "--child", backend, "--reps", str(args.reps), "--openings", str(args.openings)],
                             capture_output=True, text=True, cwd=REPO, check=True)  # fmt: skip
        result = json.loads(out.stdout.strip().splitlines()[-1])
        ms, st = result["ms"], result["statements"]
        print(f"== {backend}: one chart, {result['openings']} staff openings in its log; median ms per request (statements)")
        for portal, staff in (("portal:record", "records:chart-clinical"), ("portal:privacy", "records:chart-privacy")):
            print(f"  {portal:16} {ms[portal]:7.1f} ms ({st[portal]:3})   {staff:24} {ms[staff]:7.1f} ms ({st[staff]:3})   ratio {ms[portal] / ms[staff]:.2f}x")
        print(f"  {'portal:home':16} {ms['portal:home']:7.1f} ms ({st['portal:home']:3})")


if __name__ == "__main__":
    main()
