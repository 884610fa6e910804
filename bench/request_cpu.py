"""CPU per request, page by page, in one process: what bench/load.py's workers spend, without the
noise of concurrency (issue 13: the load target needs well under 10 ms of CPU per request).

    .venv/bin/python bench/load.py --users 20 --minutes 0.5 --keep     # makes and keeps a seeded data dir
    CONFIDE_DATA_DIR=/tmp/confide-load-… .venv/bin/python bench/request_cpu.py [--rounds 30] [--profile 25]

It signs in one bench clinician through the real pages (password, TOTP), then requests the load
bench's mix (list, search, chart tabs, note save) through the whole middleware stack with Django's
test client, and prints the median CPU time (time.process_time) and wall time per page. With
--profile N it also prints the N functions with the most cumulative time over the whole mix (cProfile).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if not os.environ.get("PYTHONPATH"):  # PYTHONPATH=/another/checkout measures that checkout's code
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "confide.settings")
os.environ.setdefault("CONFIDE_HTTPS", "0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--queries", action="store_true", help="count queries per page (a debug cursor: CPU figures rise a little)")
    args = parser.parse_args()
    data = Path(os.environ["CONFIDE_DATA_DIR"])
    plan = json.loads((data / "plan.json").read_text())

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    sys.path.insert(0, str(ROOT / "bench"))
    from confide.accounts.models import TOTPDevice, User

    email = plan["accounts"][0]
    client = Client(HTTP_HOST="127.0.0.1")
    r = client.post("/signin/", {"username": email, "password": plan["password"]})
    assert r.status_code == 302, r.status_code
    device = TOTPDevice.objects.get(user=User.objects.get(email=email))
    # A code for a step this device has not used yet (the load bench may have used the current one).
    for wait in range(3):
        r = client.post("/signin/verify/", {"token": device.current_code()})
        if r.status_code == 302:
            break
        time.sleep(30)
    assert r.status_code == 302, r.status_code
    patients = plan["patients"]
    draft: list[str] = []

    def save_note():
        patient = patients[0]
        content = {"template": "soap", "subjective": f"bench {time.time()}", "objective": "o", "assessment": "a", "plan": "p"}
        if not draft:
            r = client.post(f"/patients/{patient}/notes/new/", content)
            draft.append(re.search(r"#note-([0-9a-f-]{36})", r["Location"]).group(1))
            return r
        return client.post(f"/patients/{patient}/notes/{draft[0]}/edit/", content)

    pages = {
        "patient list": lambda p: client.get("/patients/"),
        "search": lambda p: client.post("/patients/", {"q": random.choice(plan["searches"])}, HTTP_HX_REQUEST="true"),
        "chart overview": lambda p: client.get(f"/patients/{p}/"),
        "chart clinical": lambda p: client.get(f"/patients/{p}/clinical/"),
        "chart notes": lambda p: client.get(f"/patients/{p}/notes/"),
        "chart documents": lambda p: client.get(f"/patients/{p}/documents/"),
        "chart privacy": lambda p: client.get(f"/patients/{p}/privacy/"),
        "note save": lambda p: save_note(),
    }
    cpu = {name: [] for name in pages}
    wall = {name: [] for name in pages}
    queries = {name: [] for name in pages}
    profiler = cProfile.Profile() if args.profile else None
    for round_ in range(args.rounds + 2):
        for name, page in pages.items():
            patient = random.choice(patients[:8])  # the demo's rich charts and a few plain ones
            c0, w0 = time.process_time(), time.perf_counter()
            if profiler and round_ >= 2:
                profiler.enable()
            with CaptureQueriesContext(connection) if args.queries else contextlib.nullcontext([]) as captured:
                response = page(patient)
            if profiler:
                profiler.disable()
            c1, w1 = time.process_time(), time.perf_counter()
            assert response.status_code in (200, 302), (name, response.status_code)
            if round_ >= 2:  # the first two rounds warm the caches, templates and imports
                cpu[name].append(1000 * (c1 - c0))
                wall[name].append(1000 * (w1 - w0))
                queries[name].append(len(captured.captured_queries) if args.queries else 0)
    import confide

    print(f"code: {Path(confide.__file__).parent.parent}")
    print(f"{'page':18} {'cpu ms':>7} {'wall ms':>8} {'queries':>8}   (medians of {args.rounds}; {os.cpu_count()} cores, busy machine: compare side by side)")
    for name in pages:
        print(f"{name:18} {statistics.median(cpu[name]):7.2f} {statistics.median(wall[name]):8.2f} {statistics.median(queries[name]):8.0f}")
    # The load bench's weights (load_users.py: 3 list, 2 search, 3 overview, 2 clinical, 2 notes, 1 documents, 1 privacy, 1 note save)
    weights = {"patient list": 3, "search": 2, "chart overview": 3, "chart clinical": 2, "chart notes": 2,
               "chart documents": 1, "chart privacy": 1, "note save": 1}  # fmt: skip
    mix = sum(statistics.median(cpu[n]) * w for n, w in weights.items()) / sum(weights.values())
    print(f"{'weighted mix':18} {mix:7.2f}")
    if profiler:
        profiler.dump_stats(str(data / "request_cpu.prof"))  # for pstats / snakeviz
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
