"""The canary test: PHI-shaped values go through sign-in, pages, a 404 and a 500, and must not
come out in a log line, an error page, or an audit entry."""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import quote

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from confide.accounts.models import TOTPDevice
from confide.accounts.services import identifier_hash
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.logging import JsonFormatter, RequestIdFilter
from tests.conftest import CANARIES, PASSWORD, sign_in


def _demo_password() -> str:
    """The password `confide demo` gives its accounts, from whichever app holds the command."""
    import importlib

    from django.core.management import get_commands

    return importlib.import_module(f"{get_commands()['demo']}.management.commands.demo").DEMO_PASSWORD


# A wrong password typed at sign-in, like a right one, must never be written anywhere (ACC1).
DEMO_PASSWORD = _demo_password()
WRONG_PASSWORD = "wrong-password-123"
PASSWORDS = (PASSWORD, DEMO_PASSWORD, WRONG_PASSWORD)
# Each canary and password as it may appear: verbatim, URL-encoded, or JSON-escaped.
NEEDLES = sorted(
    {form for value in (*CANARIES.values(), *PASSWORDS) for form in (value, quote(value), quote(value, safe=""), json.dumps(value)[1:-1])}
)


def _leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


@pytest.fixture
def json_logs(caplog):
    """Everything logged anywhere, at DEBUG: caplog's records plus a real JsonFormatter handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    for name in ("django", "axes", "confide"):  # loggers configured above DEBUG still get through
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        yield caplog, stream
    finally:
        root.removeHandler(handler)


def _formatted_lines(caplog, stream) -> list[str]:
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    lines += [line for line in stream.getvalue().splitlines() if line]
    return lines


def test_canaries_never_reach_the_logs(world, json_logs):
    caplog, stream = json_logs
    clinician = world.a.user(Role.CLINICIAN)
    assert (clinician.email, clinician.display_name) == (CANARIES["email"], CANARIES["name"])

    # 1. Failed sign-ins with the canary address as the username: a wrong password, the demo's
    #    password (wrong here), and the right password for an address that has no account.
    client = Client()
    for username, password in ((CANARIES["email"], WRONG_PASSWORD), (CANARIES["email"], DEMO_PASSWORD), ("nobody@phi-canary.test", PASSWORD)):
        failed = client.post(reverse("accounts:login"), {"username": username, "password": password})
        assert failed.status_code == 200 and b"did not match an account" in failed.content

    # 2. The canary clinician signs in for real (password, then TOTP) and opens the dashboard.
    signed = client.post(reverse("accounts:login"), {"username": CANARIES["email"], "password": PASSWORD})
    assert signed.status_code == 302
    code = TOTPDevice.objects.get(user=clinician, confirmed=True).current_code()
    verified = client.post(reverse("accounts:mfa-verify"), {"token": code})
    assert verified.status_code == 302
    dashboard = client.get(reverse("core:dashboard"))
    assert dashboard.status_code == 200
    # ...and confirms a sensitive action with a wrong password, then the right one.
    for password in (WRONG_PASSWORD, PASSWORD):
        client.post(reverse("accounts:reauth"), {"password": password, "token": TOTPDevice.objects.get(user=clinician).current_code()})
    assert CANARIES["name"].encode() in dashboard.content  # the page shows the name; the logs must not

    # 3. A 404 with canaries in the path.
    not_found = client.get(f"/patients/{quote(CANARIES['name'])}/{CANARIES['email']}/")
    assert not_found.status_code == 404
    assert not _leaks(not_found.content.decode()), "canary in the 404 page"

    # 4. A 500 whose exception message carries a canary.
    with override_settings(ROOT_URLCONF="tests.security.urls_boom"):
        server_error = Client(raise_request_exception=False).get("/boom/")
    assert server_error.status_code == 500
    assert not _leaks(server_error.content.decode()), "canary in the 500 page"

    # 5. The staff list (which shows the canary name) viewed by the owner.
    owner = sign_in(Client(), world.a.owner, world.a.practice)
    staff = owner.get(reverse("accounts:staff-list"))
    assert staff.status_code == 200 and CANARIES["name"].encode() in staff.content

    # The capture really captured: each step above left a trace.
    lines = _formatted_lines(caplog, stream)
    assert any('"status_code":404' in line and "django.request" in line for line in lines)
    error_lines = [line for line in lines if '"exception":"builtins.ValueError"' in line]
    assert error_lines, "the 500 was not logged with its exception class"
    assert any("urls_boom.py" in line for line in error_lines), "the 500 line lost its stack"
    assert all("boom " not in line for line in error_lines), "the exception message reached the log"

    leaked = [(line, _leaks(line)) for line in lines if _leaks(line)]
    assert not leaked, f"canary in log lines: {leaked}"


def test_raw_records_do_carry_the_canary_so_the_formatter_is_what_protects(world, json_logs):
    """Control: without JsonFormatter the same 404 would log the canary (so the test above can fail)."""
    caplog, _stream = json_logs
    Client().get(f"/patients/{CANARIES['email']}/")
    assert any(CANARIES["email"] in record.getMessage() for record in caplog.records)


def test_failed_sign_in_stores_only_a_hash_of_the_identifier(world):
    Client().post(reverse("accounts:login"), {"username": CANARIES["email"], "password": WRONG_PASSWORD})
    event = AuditEntry.objects.get(event=AuditEvent.SIGNIN_FAILED)
    assert event.detail["identifier_hash"] == identifier_hash(CANARIES["email"])
    for row in AuditEntry.objects.values():
        assert not _leaks(json.dumps(row, default=str)), f"canary in audit entry {row['event']}"


def test_a_fhir_import_and_export_print_and_log_no_canary(world, json_logs, tmp_path):
    """The canary patient arrives in a FHIR bundle (and in a broken copy of it), is imported and
    exported through `confide fhir`: nothing of them in the output, the logs or the audit log."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from tests.records.fhir_bundles import as_bytes, resource_of, variant

    given, family = CANARIES["name"].split()

    def canary(bundle):
        person = bundle["entry"][0]["resource"]
        person["name"] = [{"use": "official", "given": [given], "family": family}]
        person["birthDate"] = CANARIES["dob"]
        person["telecom"] = [{"system": "phone", "value": CANARIES["phone"]}, {"system": "email", "value": CANARIES["email"]}]
        resource_of(bundle, "cond-1")["code"]["text"] = CANARIES["note"]

    good = variant(canary)
    broken = variant(canary)
    resource_of(broken, "obs-hba1c")["effectiveDateTime"] = CANARIES["note"]  # invalid, and a canary
    (tmp_path / "1.json").write_bytes(as_bytes(good))
    (tmp_path / "2.json").write_bytes(as_bytes(broken))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("fhir", "import", str(tmp_path), "--practice", "a", stdout=out, stderr=err)
    patient_id = out.getvalue().split("-> patient ")[1].split()[0]
    call_command("fhir", "export", "--patient", patient_id, "--out", str(tmp_path / "export.json"), stdout=out, stderr=err)
    assert CANARIES["note"] in (tmp_path / "export.json").read_text()  # the copy is the patient's: it holds their data

    caplog, stream = json_logs
    printed = out.getvalue() + err.getvalue()
    assert "ERROR not valid FHIR R4B: entry 3 (Observation) effectiveDateTime" in printed
    assert not _leaks(printed), "canary in the command's output"
    leaked = [line for line in _formatted_lines(caplog, stream) if _leaks(line)]
    assert not leaked, f"canary in log lines: {leaked}"
    for row in AuditEntry.objects.values():
        assert not _leaks(json.dumps(row, default=str)), f"canary in audit entry {row['event']}"


def test_the_chart_keeps_canaries_out_of_logs_addresses_and_the_audit_log(world, json_logs):
    """A canary patient through every chart page, a refusal, a bad form and a download: the
    pages show the values (to whom the door allows), the logs, the URLs and the log of record never do."""
    import datetime
    import re

    from confide.core.actors import StaffActor
    from confide.core.tenancy import tenant_context
    from confide.records import files, notes
    from confide.records.services import do_create_patient
    from tests.records.uploads import pdf_upload

    caplog, stream = json_logs
    clinician_actor = StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])
    given, family = CANARIES["name"].split()
    with tenant_context(practice_id=world.a.practice.id):
        patient = do_create_patient(actor=clinician_actor, given_name=given, family_name=family, email=CANARIES["email"],
                                    phone=CANARIES["phone"], date_of_birth=datetime.date.fromisoformat(CANARIES["dob"]),
                                    health_background=CANARIES["note"])  # fmt: skip
        notes.do_create_note(actor=clinician_actor, patient_id=patient.id, template="free", content={"text": CANARIES["note"]})
        notes.do_create_psychotherapy_note(actor=clinician_actor, patient_id=patient.id, text=CANARIES["note"])
        document = files.do_add_file(actor=clinician_actor, patient_id=patient.id, kind="document", upload=pdf_upload(), title=CANARIES["note"])
    base = f"/patients/{patient.id}/"
    clinician = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice)
    front_desk = sign_in(Client(), world.a.user(Role.FRONT_DESK), world.a.practice)
    other_practice = sign_in(Client(), world.b.owner, world.b.practice)
    responses = [clinician.get(base + tab) for tab in ("", "clinical/", "notes/", "documents/", "privacy/", "edit/", "edit/health/")]
    responses.append(clinician.post(reverse("records:patient-list"), {"q": CANARIES["email"]}))
    responses.append(clinician.post(base + "edit/", {"given_name": given, "family_name": family, "email": "broken", "reason": "immaterial"}))
    responses.append(clinician.post(base + "clinical/medications/", {"medication-name": CANARIES["note"], "medication-kind": "otc", "medication-status": "active"}))
    responses.append(clinician.get(f"{base}documents/{document.pk}/"))
    responses += [front_desk.get(base + "notes/"), other_practice.get(base)]
    shown = responses[0].content.decode() + responses[2].content.decode()
    assert CANARIES["name"].split()[1] in shown and CANARIES["note"] in shown  # the pages did show them

    for response in responses:
        assert response.status_code < 500
        assert not _leaks(response.get("Location", "")), "canary in a redirect"
        if not getattr(response, "streaming", False):
            for address in re.findall(r'(?:href|src|action|hx-post|hx-get)="([^"]*)"', response.content.decode()):
                assert not _leaks(address), f"canary in an address on the page: {address}"
    assert not _leaks(responses[-1].content.decode()), "canary on another practice's 404"
    assert not _leaks(responses[-2].content.decode()), "canary on the front desk's 403"
    lines = _formatted_lines(caplog, stream)
    assert any('"status_code":403' in line for line in lines)  # the capture captured
    leaked = [(line, _leaks(line)) for line in lines if _leaks(line)]
    assert not leaked, f"canary in log lines: {leaked}"
    for row in AuditEntry.objects.values():
        assert not _leaks(json.dumps(row, default=str)), f"canary in audit entry {row['event']}"
