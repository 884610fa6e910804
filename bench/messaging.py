"""Messaging throughput (issue 15), on SQLite (and PostgreSQL with DATABASE_URL, as bench/chart.py):

    .venv/bin/python bench/messaging.py [--sends 300] [--hooks 2000]

* sends/s through the whole pipeline — compose (`send_message`: the door, the gate's preview,
  the audit entry) and deliver (`deliver`: claim, the final gate inside the door with consent,
  opt-out, quiet hours, content, egress and its audit entry, rate limits; the console adapter's
  sealed outbox row; the status write) — against the same sends with the gate bypassed
  (`gate.check` answering "send the body" at once, in this process only): the gate's share;
* inbound webhooks/s with Twilio's signature validation: `RequestValidator.validate` over a
  typical inbound SMS form payload (HMAC-SHA1 over the URL and the sorted fields), and the whole
  webhook through Django's test Client: signature, the practice by its number, the sender by
  blind index, each text (its own MessageSid) filed in the patient's thread through the door.

Sends alternate between the two sides in batches of 20; medians of the batches. No timing is
asserted anywhere: these figures go in notes, not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chart import REPO, setup_django  # noqa: E402

BATCH = 20
TOKEN = "bench-twilio-auth-token-0123456789"
PRACTICE_NUMBER = "+15005550006"
HTTP_HOOKS = 300  # texts POSTed through Django (each one filed through the chart door)


def _world():
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from tests.conftest import _build_practice
    from tests.consent.helpers import by_phone
    from tests.messaging.conftest import messaging_world

    pw = _build_practice(f"bench-{uuid.uuid4().hex[:6]}", False)
    mw = messaging_world(pw)
    by_phone(pw, mw.patient.id, "phi_by_sms")
    return mw, StaffActor.from_membership(pw.memberships[Role.FRONT_DESK]), tenant_context


def _sends(mw, actor, tenant_context, n: int) -> float:
    """Seconds for n sends, each composed and delivered."""
    from confide.messaging.services import send_message
    from confide.messaging.tasks import deliver

    start = time.perf_counter()
    for i in range(n):
        with tenant_context(practice_id=mw.practice_id):
            message = send_message(actor, patient_id=mw.patient.id, channel="sms", topic="staff_reply", body=f"See you at 3 ({i}).")
        outcome = deliver(message.pk, message.practice_id)
        assert outcome == "sent", outcome
    return time.perf_counter() - start


def _hooks(n: int, practice_id) -> tuple[float, float]:
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    url = "https://clinic.example.test/hooks/sms/twilio"
    form = _inbound_form(0)
    signature = validator.compute_signature(url, form)
    start = time.perf_counter()
    for _ in range(n):
        assert validator.validate(url, form, signature)
    validate_s = time.perf_counter() - start
    return n / validate_s, _hooks_over_http(min(n, HTTP_HOOKS), practice_id)


def _inbound_form(i: int) -> dict:
    sid = f"SM{i:032x}"
    return {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "SAN FRANCISCO",
        "FromZip": "94105", "SmsSid": sid, "FromState": "CA", "SmsStatus": "received", "FromCity": "SAN FRANCISCO",
        "Body": f"Can I move my appointment to Thursday? ({i})", "FromCountry": "US", "To": PRACTICE_NUMBER, "ToZip": "94105",
        "NumSegments": "1", "MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+14155550142", "ApiVersion": "2010-04-01",
    }  # fmt: skip


def _hooks_over_http(n: int, practice_id) -> float:
    """Texts/s through POST /hooks/sms/twilio: signature checked, the practice found by its
    number, the sender matched by blind index, the text filed in the patient's thread. Each text
    has its own MessageSid (a repeated one is a replay and does nothing); the forms and their
    signatures are made before the clock starts."""
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse
    from twilio.request_validator import RequestValidator

    from confide.messaging.inbound import set_sms_number

    set_sms_number(practice_id, PRACTICE_NUMBER)
    settings.CONFIDE_TWILIO_AUTH_TOKEN = TOKEN
    settings.CONFIDE_TWILIO_WEBHOOK_BASE = "https://clinic.example.test"
    path = reverse("messaging:hook-sms")
    validator = RequestValidator(TOKEN)
    from urllib.parse import urlencode

    signed = []
    for i in range(1, n + 1):
        form = _inbound_form(i)
        signed.append((urlencode(form), validator.compute_signature(settings.CONFIDE_TWILIO_WEBHOOK_BASE + path, form)))
    client = Client()
    start = time.perf_counter()
    for body, signature in signed:
        response = client.post(path, body, content_type="application/x-www-form-urlencoded",
                               HTTP_X_TWILIO_SIGNATURE=signature)  # fmt: skip
        assert response.status_code == 200, (response.status_code, response.content[:200])
    return n / (time.perf_counter() - start)


def run(backend: str, sends: int, hooks: int) -> dict:
    data_dir = tempfile.mkdtemp(prefix="confide-bench-messaging-")
    try:
        setup_django(backend, data_dir)
        import time_machine
        from django.conf import settings

        from confide.messaging import gate
        from tests.messaging.conftest import local_time

        settings.CONFIDE_SMS_ADAPTER = "console"
        settings.CONFIDE_MESSAGES_PER_PATIENT_DAY = 10**9  # the bench sends far more than a patient gets
        settings.CONFIDE_MESSAGES_PER_PRACTICE_MINUTE = 10**9
        with time_machine.travel(local_time(11)):  # inside the allowed hours; the clock ticks on
            mw, actor, tenant_context = _world()
            real_check = gate.check
            bypass = lambda *a, **k: gate.Decision("send", carried="body")  # noqa: E731
            _sends(mw, actor, tenant_context, 5)
            gated, bypassed = [], []
            for _ in range(max(1, sends // BATCH)):
                gated.append(BATCH / _sends(mw, actor, tenant_context, BATCH))
                gate.check = bypass
                try:
                    bypassed.append(BATCH / _sends(mw, actor, tenant_context, BATCH))
                finally:
                    gate.check = real_check
        validate_per_s, http_per_s = _hooks(hooks, mw.practice_id)
        return {"backend": backend, "gated": statistics.median(gated), "bypassed": statistics.median(bypassed),
                "validate": validate_per_s, "http": http_per_s, "sends": sends, "hooks": hooks}  # fmt: skip
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument("--hooks", type=int, default=2000)
    parser.add_argument("--child", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.sends, args.hooks)))
        return
    backends = ["sqlite"] + (["postgres"] if os.environ.get("DATABASE_URL") else [])
    for backend in backends:
        out = subprocess.run([sys.executable, __file__, "--child", backend, "--sends", str(args.sends), "--hooks", str(args.hooks)],
                             capture_output=True, text=True, cwd=REPO, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"== {backend}: {r['sends']} SMS sends per side (compose + deliver, console adapter), medians of {BATCH}-send batches")
        print(f"  {'through the gate':34} {r['gated']:8.1f} sends/s")
        print(f"  {'gate bypassed':34} {r['bypassed']:8.1f} sends/s   ratio {r['bypassed'] / r['gated']:.2f}x (the gate's share)")
        print(f"== inbound webhooks, {r['hooks']} requests")
        print(f"  {'signature validation only':34} {r['validate']:8.0f} /s")
        filed = f"webhook, {min(r['hooks'], HTTP_HOOKS)} texts filed"
        print(f"  {filed:34} {r['http']:8.0f} /s")


if __name__ == "__main__":
    main()
