"""Load bench (issue 13): N concurrent staff users against the server `make run` starts.

    make bench-install                                   # locust into .venv-bench (once)
    .venv/bin/python bench/load.py --users 50,100,200 --minutes 2
    .venv/bin/python bench/load.py --users 200 --minutes 10        # the RSS series
    .venv/bin/python bench/load.py --find-max --minutes 1          # the largest N holding p95 <= 150 ms
    eval $(/work/tools/pgdb loadbench); .venv/bin/python bench/load.py --users 200   # on PostgreSQL

What it does, in order: makes a private data directory under /tmp (SQLite there, or the database
of DATABASE_URL/DATABASE_MIGRATE_URL when set), migrates, seeds `confide demo`, adds bench
clinicians (load-NNN@demo.confide.test, TOTP secrets derived like the demo's) and more patients
through the services; then starts the server with the commands of the Makefile's `run` recipe
(read with `make -n run`: gunicorn with its workers and threads, and whatever runs beside it, the
task worker and the audit sealer) and runs locust (bench/load_users.py) headless at each user count.

Each step ramps up (sign-ins, Argon2 on purpose, are not in the figures: the statistics are reset
when every user is in), then holds for --minutes, and prints per page p50/p95/p99 (ms), requests,
errors; the server's RSS sampled every 5 s (first, last, max: flat or not); the server's CPU per
request (all its processes, from /proc) and the load generator's own CPU (it shares the machine).

The orchestrator does not import Django (the seeding runs as a subprocess of this file) nor locust
(locust runs in .venv-bench: gevent monkey-patches the standard library on import).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
BENCH_BIN = ROOT / ".venv-bench" / "bin"
TARGET_P95_MS, TARGET_P99_MS = 150, 300
PASSWORD_STEP = "sign-in password"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

FAMILY = ["Okafor", "Nguyen", "Haddad", "Kowalski", "Moreau", "Tanaka", "Silva", "Novak", "Ahmed", "Larsen",
          "Rossi", "Fischer", "Mendoza", "Kim", "Oduya", "Petrov", "Walsh", "Yilmaz", "Costa", "Ibrahim"]
GIVEN = ["Ada", "Ben", "Cleo", "Dara", "Eli", "Femi", "Gia", "Hugo", "Iris", "Jon", "Kai", "Lena", "Milo", "Nia",
         "Omar", "Pia", "Raj", "Sana", "Theo", "Uma"]


# --- seeding: runs as `python bench/load.py _seed ...` so this process never imports Django -------
def seed(accounts: int, patients: int, out: Path) -> None:
    import datetime

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "confide.settings")
    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from confide.accounts.models import Membership, TOTPDevice, User
    from confide.core.actors import StaffActor
    from confide.core.models import Practice
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.records.models import Patient
    from confide.records.services import do_create_patient
    from confide.site.management.commands.demo import DEMO_DOMAIN, DEMO_PASSWORD, demo_secret

    practice = Practice.objects.get(slug="demo")
    hashed = make_password(DEMO_PASSWORD)  # one Argon2 hash for every bench account: seeding stays quick
    emails = [f"load-{n:03d}@{DEMO_DOMAIN}" for n in range(accounts)]
    with transaction.atomic(), tenant_context(practice_id=practice.id):
        for email in emails:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email, None, display_name=f"Load {email[5:8]}")
                user.password = hashed
                user.save(update_fields=["password"])
                Membership.objects.create(user=user, practice=practice, role=Role.CLINICIAN)
                device = TOTPDevice(user=user, name="Bench authenticator", confirmed=True)
                device.set_secret(demo_secret(email))
                device.save()
    with tenant_context(practice_id=practice.id):
        front_desk = StaffActor.from_membership(Membership.objects.get(user__email=f"frontdesk@{DEMO_DOMAIN}", practice=practice))
        have = Patient.objects.count()
        for n in range(have, patients):
            do_create_patient(
                actor=front_desk, given_name=GIVEN[n % len(GIVEN)], family_name=FAMILY[(n // len(GIVEN)) % len(FAMILY)],
                date_of_birth=datetime.date(1950 + n % 60, 1 + n % 12, 1 + n % 28), phone=f"+1 415 555 {n % 10000:04d}",
            )  # fmt: skip
        ids = [str(pk) for pk in Patient.objects.values_list("id", flat=True)]
    out.write_text(json.dumps({"accounts": emails, "password": DEMO_PASSWORD, "patients": ids,
                               "searches": FAMILY[:10] + ["Quintero", "Mensah", "555 01"]}))  # fmt: skip


# --- the server, as `make run` starts it -------------------------------------------------------
def serve_command(env: dict) -> str:
    """The shell command of the `run` recipe that starts gunicorn (and what runs beside it), as
    make expands it. `make -n` executes nothing (the install and seeding lines are printed, not run)."""
    text = subprocess.run(["make", "-n", "-s", "run"], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    lines = text.splitlines()
    last = max(i for i, line in enumerate(lines) if "gunicorn" in line)
    first = last
    while first > 0 and lines[first - 1].rstrip().endswith("\\"):
        first -= 1
    end = last
    while lines[end].rstrip().endswith("\\"):
        end += 1
    return "\n".join(lines[first : end + 1])


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and of their children that have exited and been waited for."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / TICKS


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
        except OSError:
            continue
    return total / 2**20


class Server:
    def __init__(self, env: dict, port: int, log: Path):
        self.env, self.port, self.log = env, port, log

    def __enter__(self) -> Server:
        command = serve_command(self.env)
        self.log_file = open(self.log, "w")
        # Its own process group, so stopping it reaches gunicorn, its workers and the task worker.
        self.proc = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=self.env, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/signin/", timeout=2).read()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"the server exited; its log: {self.log}")
                time.sleep(0.5)
        raise SystemExit(f"the server did not answer in 60 s; its log: {self.log}")

    def pids(self) -> list[int]:
        return [pid for pid in process_tree(self.proc.pid) if pid != self.proc.pid]

    def __exit__(self, *exc) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log_file.close()


# --- one load step -----------------------------------------------------------------------------
def run_step(server: Server, users: int, minutes: float, plan: Path, workdir: Path, spawn_rate: float) -> dict:
    prefix = workdir / f"u{users}"
    ready = workdir / f"u{users}.ready"
    ready.unlink(missing_ok=True)  # a kept data directory has the last run's
    hold = minutes * 60
    env = dict(os.environ, LOAD_PLAN=str(plan), LOAD_READY=str(ready), LOAD_HOLD_SECONDS=str(hold))
    # The run time is only a safety net: load_users.py resets the statistics when every user has
    # signed in and stops locust LOAD_HOLD_SECONDS later.
    cmd = [str(BENCH_BIN / "locust"), "-f", str(ROOT / "bench" / "load_users.py"), "--headless", "--only-summary",
           "--host", f"http://127.0.0.1:{server.port}", "-u", str(users), "-r", str(spawn_rate),
           "--run-time", f"{int(hold + 600)}s", "--csv", str(prefix), "--loglevel", "WARNING", "--stop-timeout", "5"]  # fmt: skip
    with open(f"{prefix}.log", "w") as log:
        locust = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            while not ready.exists() and locust.poll() is None:
                time.sleep(0.2)
            cpu0, gen0, t0 = cpu_seconds(server.pids()), cpu_seconds([locust.pid]), time.time()
            series, end = [], (cpu0, gen0, t0)
            while locust.poll() is None:
                series.append((round(time.time() - t0), round(rss_mib(server.pids()), 1)))
                end = cpu_seconds(server.pids()), cpu_seconds([locust.pid]), time.time()
                time.sleep(min(5, max(0.2, hold - (time.time() - t0))))
        finally:
            if locust.poll() is None:
                locust.terminate()
            locust.wait()
    server_cpu, gen_cpu, elapsed = end[0] - cpu0, end[1] - gen0, end[2] - t0
    signin_failures = json.loads(ready.read_text())["signin_failures"] if ready.exists() else users
    rows = list(csv.DictReader(open(f"{prefix}_stats.csv")))
    pages = {}
    for row in rows:
        if row["Name"] in ("Aggregated", PASSWORD_STEP, "") or row["Request Count"] == "0":
            continue
        pages[row["Name"]] = {"n": int(row["Request Count"]), "errors": int(row["Failure Count"]),
                              "p50": float(row["50%"] or 0), "p95": float(row["95%"] or 0), "p99": float(row["99%"] or 0)}  # fmt: skip
    total = next(r for r in rows if r["Name"] == "Aggregated")
    requests_ = int(total["Request Count"])
    errors = int(total["Failure Count"])
    failures = Path(f"{prefix}_failures.csv")
    return {
        "users": users, "pages": pages, "requests": requests_, "errors": errors, "rps": float(total["Requests/s"]),
        "p50": float(total["50%"] or 0), "p95": float(total["95%"] or 0), "p99": float(total["99%"] or 0),
        "server_cpu_ms_per_request": 1000 * server_cpu / max(requests_, 1), "server_cpu_cores": server_cpu / elapsed,
        "generator_cpu_cores": gen_cpu / elapsed, "rss": series,
        "failures": failures.read_text() if failures.exists() and errors else "", "signin_failures": signin_failures,
    }  # fmt: skip


def holds(step: dict) -> bool:
    return step["errors"] == 0 and step["signin_failures"] == 0 and all(p["p95"] <= TARGET_P95_MS for p in step["pages"].values())


def report(step: dict) -> None:
    print(f"\n== {step['users']} users: {step['requests']} requests, {step['rps']:.1f} req/s, {step['errors']} errors, "
          f"{step['signin_failures']} users who could not sign in; "
          f"overall p50/p95/p99 {step['p50']:.0f}/{step['p95']:.0f}/{step['p99']:.0f} ms")  # fmt: skip
    print(f"   {'page':22} {'n':>6} {'err':>4} {'p50':>5} {'p95':>5} {'p99':>5}   (ms; limits p95 {TARGET_P95_MS}, p99 {TARGET_P99_MS})")
    for name, p in sorted(step["pages"].items()):
        flag = "" if p["p95"] <= TARGET_P95_MS and p["p99"] <= TARGET_P99_MS else "  over"
        if name.startswith("sign-in"):
            flag = "  (ramp only)" if p["n"] == 0 else flag
        print(f"   {name:22} {p['n']:6} {p['errors']:4} {p['p50']:5.0f} {p['p95']:5.0f} {p['p99']:5.0f}{flag}")
    rss = [r for _, r in step["rss"]]
    if rss:
        print(f"   server RSS MiB (all processes, every 5 s): first {rss[0]:.0f}, last {rss[-1]:.0f}, max {max(rss):.0f}, "
              f"last/first {rss[-1] / rss[0]:.3f}")  # fmt: skip
    print(f"   server CPU {step['server_cpu_ms_per_request']:.1f} ms/request ({step['server_cpu_cores']:.2f} cores); "
          f"load generator {step['generator_cpu_cores']:.2f} cores (same machine: {os.cpu_count()} cores in all)")  # fmt: skip
    if step["failures"]:
        print("   failures:\n" + "\n".join("     " + line for line in step["failures"].splitlines()[:8]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_seed":
        seed(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="50", help="comma-separated user counts, one step each (default 50)")
    parser.add_argument("--minutes", type=float, default=2, help="how long each step holds after the ramp (default 2)")
    parser.add_argument("--find-max", action="store_true", help="ramp 50, 100, 150, ... until p95 > 150 ms on a page; report the largest that held")
    parser.add_argument("--max-users", type=int, default=400, help="where --find-max stops (default 400)")
    parser.add_argument("--patients", type=int, default=300, help="patients in the demo practice (default 300)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second (each signs in: Argon2)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (its path is printed)")
    parser.add_argument("--data", type=Path, help="reuse a data directory kept by --keep (SQLite; no seeding)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    # Stopped with SIGTERM too, the server and locust are stopped and the data directory removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not (BENCH_BIN / "locust").exists():
        raise SystemExit("locust is not installed: run `make bench-install` (it makes .venv-bench)")
    counts = list(range(50, args.max_users + 1, 50)) if args.find_max else [int(n) for n in args.users.split(",")]

    reuse = args.data is not None and (args.data / "plan.json").exists()
    data = args.data if reuse else Path(tempfile.mkdtemp(prefix="confide-load-"))
    port = free_port()
    if not reuse:
        (data / "secret_key").write_text(secrets.token_urlsafe(64))
        (data / "secret_key").chmod(0o600)
    env = dict(os.environ, CONFIDE_DATA_DIR=str(data), CONFIDE_SECRET_KEY_FILE=str(data / "secret_key"), CONFIDE_HTTPS="0",
               PORT=str(port), CONFIDE_BASE_URL=f"http://127.0.0.1:{port}", PYTHONPATH=str(ROOT))  # fmt: skip
    database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    try:
        run = lambda *a: subprocess.run([*a], cwd=ROOT, env=env, check=True)  # noqa: E731
        t = time.time()
        plan = data / "plan.json"
        if not reuse or len(json.loads(plan.read_text())["accounts"]) < max(counts):
            # On PostgreSQL migrations run as the owning role (docs/operations.md, "two roles").
            owner = ["--database", "owner"] if os.environ.get("DATABASE_MIGRATE_URL") else []
            run(str(BIN / "confide"), "migrate", "--noinput", "-v", "0", *owner)
            run(str(BIN / "confide"), "demo", "--quiet")
            run(str(BIN / "python"), str(Path(__file__)), "_seed", str(max(counts)), str(args.patients), str(plan))
        print(f"seeded in {time.time() - t:.0f} s: {database}, {args.patients} patients, {max(counts)} bench clinicians; data {data}")
        print(f"server: {' '.join(serve_command(env).split())}")
        print("figures taken on a machine shared with the load generator (and whatever else runs)")
        steps = []
        with Server(env, port, data / "server.log") as server:
            for users in counts:
                step = run_step(server, users, args.minutes, plan, data, args.spawn_rate)
                steps.append(step)
                report(step)
                if args.find_max and not holds(step):
                    break
        held = [s["users"] for s in steps if holds(s)]
        print(f"\n{database}: largest user count with every page's p95 <= {TARGET_P95_MS} ms and no errors: "
              f"{max(held) if held else 'none of ' + str(counts)}")  # fmt: skip
        if args.json:
            args.json.write_text(json.dumps({"database": database, "steps": steps}, indent=1))
    finally:
        if args.keep or reuse:
            print(f"kept {data}")
        else:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
