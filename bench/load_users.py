"""The staff users of bench/load.py: a locustfile, run by locust in the bench venv (.venv-bench).

Each simulated person signs in once (password, then a TOTP code computed with django-otp's own
TOTP, the class the server checks codes with), then works through a mix of pages with 0.5-1.5 s
between them: the patient list, a search, the chart's tabs and saving a draft note. The accounts,
their TOTP secrets (derived like the demo's) and the patients come from the file bench/load.py
wrote (LOAD_PLAN). Nothing here imports Django's settings or the project."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import re
import time

from django_otp.oath import TOTP
import gevent
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

PLAN = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read())
_accounts = itertools.cycle(PLAN["accounts"])
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NOTE_ID = re.compile(r"#note-([0-9a-f-]{36})")
SEARCHES = PLAN["searches"]
_arrived = 0  # users past their sign-in, whether it worked or not
_signin_failures = 0


def totp_code(email: str) -> str:
    # The demo's derivation (confide/site/management/commands/demo.py::demo_secret).
    secret = hashlib.sha256(f"confide-demo-totp:{email}".encode()).digest()[:20]
    totp = TOTP(secret, 30, 0, 6, 0)
    totp.time = time.time()
    return f"{totp.token():06d}"


class Staff(FastHttpUser):
    wait_time = between(0.5, 1.5)
    # One connection per person, as a browser keeps one alive; no redirect following: each page
    # is timed on its own.
    concurrency = 1
    max_redirects = 0

    def on_start(self) -> None:
        self.email = next(_accounts)
        self.patient = random.choice(PLAN["patients"])
        self.draft = None
        self.csrf = ""
        global _arrived, _signin_failures
        for attempt in range(3):
            if self._sign_in():
                break
            gevent.sleep(30 - time.time() % 30 + 1)  # the next TOTP step: a code is accepted once per step
        else:
            _signin_failures += 1  # its pages will answer 302 and count as errors
        _arrived += 1
        runner = self.environment.runner
        if _arrived == runner.target_user_count:
            # Everyone is in: the figures start now (sign-ins, Argon2 on purpose, are not in them),
            # hold for LOAD_HOLD_SECONDS, then stop. bench/load.py waits for the ready file.
            self.environment.stats.reset_all()
            with open(os.environ["LOAD_READY"], "w") as ready:
                json.dump({"time": time.time(), "signin_failures": _signin_failures}, ready)
            gevent.spawn_later(float(os.environ["LOAD_HOLD_SECONDS"]), runner.quit)

    def _sign_in(self) -> bool:
        page = self._get("/signin/", "sign-in page")
        # The password step: Argon2 on purpose, excluded from the page targets.
        with self.client.post("/signin/", data={"csrfmiddlewaretoken": page, "username": self.email, "password": PLAN["password"]},
                              name="sign-in password", allow_redirects=False, catch_response=True) as r:
            if r.status_code != 302 or "/signin/verify/" not in (r.headers.get("Location") or ""):
                r.failure(f"password step answered {r.status_code}")
                return False
        token = self._get("/signin/verify/", "sign-in mfa page")
        with self.client.post("/signin/verify/", data={"csrfmiddlewaretoken": token, "token": totp_code(self.email)},
                              name="sign-in mfa", allow_redirects=False, catch_response=True) as r:
            if r.status_code != 302:
                r.failure(f"MFA step answered {r.status_code}")
                return False
        return True

    def _get(self, path: str, name: str) -> str:
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{name} answered {r.status_code}")
                return self.csrf
            found = CSRF.search(r.text or "")
            if found:
                self.csrf = found.group(1)
        return self.csrf

    def _chart(self, tab: str) -> str:
        # Most of a day is spent in a few charts: move to another one now and then.
        if random.random() < 0.3:
            self.patient = random.choice(PLAN["patients"])
        return f"/patients/{self.patient}/{tab}"

    @task(3)
    def patient_list(self) -> None:
        self._get("/patients/", "patient list")

    @task(2)
    def search(self) -> None:
        # As the page's htmx form does it: POSTed (no name in a URL), answered with the rows only.
        with self.client.post("/patients/", data={"csrfmiddlewaretoken": self.csrf, "q": random.choice(SEARCHES)},
                              headers={"HX-Request": "true"}, name="search", allow_redirects=False, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"search answered {r.status_code}")

    @task(3)
    def chart_overview(self) -> None:
        self._get(self._chart(""), "chart overview")

    @task(2)
    def chart_clinical(self) -> None:
        self._get(self._chart("clinical/"), "chart clinical")

    @task(2)
    def chart_notes(self) -> None:
        self._get(self._chart("notes/"), "chart notes")

    @task(1)
    def chart_documents(self) -> None:
        self._get(self._chart("documents/"), "chart documents")

    @task(1)
    def chart_privacy(self) -> None:
        self._get(self._chart("privacy/"), "chart privacy")

    @task(1)
    def note_save(self) -> None:
        """Saving a draft: the first save creates it, later ones update it (bounded growth: one
        draft per person, as someone writes one note over a session)."""
        content = {"subjective": f"Load bench {time.time():.3f}", "objective": "Calm.", "assessment": "Stable.", "plan": "Review in two weeks."}
        if self.draft is None:
            path, name = f"/patients/{self.patient}/notes/new/", "note save (new)"
            data = {"csrfmiddlewaretoken": self.csrf, "template": "soap", **content}
        else:
            patient, note = self.draft
            path, name = f"/patients/{patient}/notes/{note}/edit/", "note save (edit)"
            data = {"csrfmiddlewaretoken": self.csrf, "template": "soap", **content}
        with self.client.post(path, data=data, name=name, allow_redirects=False, catch_response=True) as r:
            location = r.headers.get("Location") or ""
            if r.status_code != 302:
                r.failure(f"{name} answered {r.status_code}")
                return
            if self.draft is None:
                found = NOTE_ID.search(location)
                if found:
                    self.draft = (self.patient, found.group(1))

