"""Part "intake" (issue 17): a visitor files a request on the public form and is verified by a
code to the contact ON FILE (ACC7); opt-outs need no check; agents bring a signed authorisation
and the patient confirms (RTS6); a minor's parent files for the child (MIN3)."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core import mail
from django.utils import timezone

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.rights import intake
from confide.rights.models import AgentDocument, IdentityCheck, Letter, RightsRequest
from confide.vault.errors import PHIAccessDenied
from tests.portal_world import create_patient, years_ago
from tests.rights.helpers_intake import code_from_outbox, email_with_baa, file_and_verify, post, public_form_data

PATIENT = {"given_name": "Marisol", "family_name": "Quintero", "date_of_birth": datetime.date(1984, 2, 11)}
ON_FILE = "marisol@example.test"
TYPED = "someone-else@example.test"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def patient(world):
    email_with_baa(world.a)
    return create_patient(world.a)


def _url(practice):
    return f"/p/{practice.slug}/privacy/request/"


def _rows(practice, model=RightsRequest):
    with tenant_context(practice_id=practice.id):
        return list(model.objects.all())


def _entries(practice, event):
    with tenant_context(practice_id=practice.id):
        return list(AuditEntry.objects.filter(event=event))


def _file(client, practice, **extra):
    response = post(client, _url(practice), public_form_data(PATIENT, email=TYPED, **extra))
    assert response.status_code == 302, response.content[:600]
    return response["Location"]


def test_rts6_acc7_a_visitor_files_a_deletion_and_is_verified_by_a_code_to_the_contact_on_file(client, world, patient):
    practice = world.a.practice
    page = client.get(_url(practice))
    assert page.status_code == 200 and b"Make a privacy request" in page.content
    verify = _file(client, practice, detail="Please erase my marketing data")
    [made] = _rows(practice)
    assert made.patient_id is None and made.status == "verifying" and made.verification == "pending" and made.channel == "web_form"
    assert made.kind == "delete" and made.ack_due_on is not None and made.regimes == ["ccpa", "us_states"]
    # The code went to the chart's address, never the one typed; the typed one got the acknowledgement only.
    to_file = [m for m in mail.outbox if ON_FILE in m.to]
    assert len(to_file) == 1
    code = code_from_outbox(to=ON_FILE)
    assert all(code not in m.body for m in mail.outbox if TYPED in m.to)
    assert any("we received your privacy request" in m.subject for m in mail.outbox if TYPED in m.to)
    assert verify.startswith(_url(practice)) and str(made.pk) not in verify
    response = post(client, verify, {"code": code})
    assert response.status_code == 200 and b"request-verified" in response.content
    with tenant_context(practice_id=practice.id):
        made = RightsRequest.objects.get(pk=made.pk)
        assert not IdentityCheck.objects.exists()  # the extra data used to verify is gone
    assert made.patient_id == patient.pk and made.verification == "code" and made.status == "in_progress" and made.verified_at
    with pytest.raises(PHIAccessDenied):
        str(made.detail)  # sealed under the patient's key now
    [checked] = _entries(practice, AuditEvent.RIGHTS_IDENTITY_CHECKED)
    assert checked.detail == {"result": "verified", "step": "requester"} and checked.subject_id == patient.pk
    [received] = _entries(practice, AuditEvent.RIGHTS_REQUEST_RECEIVED)
    assert received.detail["kind"] == "delete" and received.detail["channel"] == "web_form"
    # The code appears nowhere but the e-mail: not in the audit log, not in a letter.
    with tenant_context(practice_id=practice.id):
        assert all(code not in str(e.detail) for e in AuditEntry.objects.all())
        [ack] = Letter.objects.filter(request=made)
    assert ack.kind == "acknowledgement" and ack.body is None and set(ack.context) == {"received_on", "due_on", "kind"}
    # The link is used once.
    again = post(client, verify, {"code": code})
    assert again.status_code == 404


def test_acc7_no_match_reads_the_same_as_a_wrong_code_and_fails_after_five(client, world, patient):
    practice = world.a.practice
    verify = _file(client, practice, given_name="Nobody", family_name="Known")
    [made] = _rows(practice)
    assert made.verification == "failed"  # staff see it at once; the visitor is not told
    assert not [m for m in mail.outbox if "confirmation code" in m.subject]
    page = client.get(verify)
    assert page.status_code == 200 and b"If the details you gave match" in page.content
    texts = []
    for _ in range(intake.MAX_ATTEMPTS - 1):
        response = post(client, verify, {"code": "123456"})
        assert response.status_code == 400
        texts.append(intake.NOT_VERIFIED.encode() in response.content)
    assert all(texts)
    final = post(client, verify, {"code": "123456"})
    assert final.status_code == 400 and b"We could not confirm who is asking" in final.content
    assert not _rows(practice, IdentityCheck)


def test_acc7_wrong_code_five_times_fails_the_request_and_deletes_the_check(client, world, patient):
    practice = world.a.practice
    verify = _file(client, practice)
    code = code_from_outbox(to=ON_FILE)
    wrong = "000000" if code != "000000" else "111111"
    for attempt in range(intake.MAX_ATTEMPTS):
        response = post(client, verify, {"code": wrong})
        assert response.status_code == 400
        expected = intake.NOT_VERIFIED if attempt < intake.MAX_ATTEMPTS - 1 else "We could not confirm who is asking"
        assert expected.encode() in response.content
    [made] = _rows(practice)
    assert made.verification == "failed" and made.patient_id is None
    assert not _rows(practice, IdentityCheck)
    assert post(client, verify, {"code": code}).status_code == 404  # the right code, too late
    results = [e.detail["result"] for e in _entries(practice, AuditEvent.RIGHTS_IDENTITY_CHECKED)]
    assert results == ["wrong_code"] * 4 + ["too_many"]


def test_acc7_an_expired_code_fails(client, world, patient, time_machine):
    practice = world.a.practice
    time_machine.move_to(timezone.now(), tick=False)
    verify = _file(client, practice)
    code = code_from_outbox(to=ON_FILE)
    time_machine.shift(intake.CODE_TTL + datetime.timedelta(seconds=1))
    response = post(client, verify, {"code": code})
    assert response.status_code == 400 and b"expired" in response.content
    [made] = _rows(practice)
    assert made.verification == "failed" and not _rows(practice, IdentityCheck)


def test_rts5_an_opt_out_needs_no_verification_and_is_recorded_at_once(client, world, patient):
    practice = world.a.practice
    response = post(client, _url(practice), public_form_data(PATIENT, kind="opt_out_sale", email=TYPED))
    assert response.status_code == 200 and b"needs no identity check" in response.content
    [made] = _rows(practice)
    # Matched by name and date of birth, it takes effect at once: the ledger has the opt-out and
    # the request is done (no staff action, no identity check).
    assert made.verification == "not_required" and made.status == "done" and made.patient_id == patient.pk
    assert made.ack_due_on is None and made.due_on > timezone.localdate(made.received_at)
    from confide.consent.models import ConsentEvent

    with tenant_context(practice_id=practice.id):
        assert ConsentEvent.objects.filter(subject_id=str(patient.pk), topic="sale_share_opt_out", action="grant").count() == 1
    assert not _rows(practice, IdentityCheck)
    assert not [m for m in mail.outbox if ON_FILE in m.to]


def test_min3_a_parent_files_for_a_minor_and_the_code_goes_to_the_guardian_on_file(client, world):
    practice = world.a.practice
    email_with_baa(world.a)
    child = {"given_name": "Kit", "family_name": "Minor", "date_of_birth": years_ago(10)}
    create_patient(world.a, given_name="Kit", family_name="Minor", preferred_name="", date_of_birth=child["date_of_birth"], email="",
                   guardian={"name": "Paula Minor", "relationship": "mother", "email": "paula@example.test"})  # fmt: skip
    made = file_and_verify(client, practice, child, contact_on_file="paula@example.test", role="guardian")
    assert made.by_representative and made.verification == "code" and made.status == "in_progress"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": ""}, "kind"),
        ({"kind": "restrict"}, "kind"),
        ({"role": "cousin"}, "role"),
        ({"given_name": ""}, "given_name"),
        ({"date_of_birth": "11/02/1984"}, "date_of_birth"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"email": "", "phone": ""}, "email"),
        ({"kind": "appeal", "appeal_of": "not-a-reference"}, "appeal_of"),
        ({"detail": "x" * 2001}, "detail"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_is_kept(client, world, patient, change, field):
    response = post(client, _url(world.a.practice), public_form_data(PATIENT, **change))
    assert response.status_code == 400 and f'href="#{field}"'.encode() in response.content
    assert not _rows(world.a.practice) and not mail.outbox


def test_the_honeypot_is_thanked_and_nothing_kept(client, world, patient):
    response = post(client, _url(world.a.practice), public_form_data(PATIENT, website="http://spam.test"))
    assert response.status_code == 200 and b"Thank you" in response.content
    assert not _rows(world.a.practice) and not mail.outbox
    assert _entries(world.a.practice, AuditEvent.RIGHTS_REQUEST_REFUSED)


def test_the_hourly_limit_per_address(client, world, patient, settings):
    settings.CONFIDE_CONSULT_PER_HOUR = 2
    for _ in range(2):
        _file(client, world.a.practice)
    response = post(client, _url(world.a.practice), public_form_data(PATIENT))
    assert response.status_code == 429 and len(_rows(world.a.practice)) == 2


def test_an_unknown_practice_is_404(client, world):
    assert client.get("/p/no-such-practice/privacy/request/").status_code == 404
    assert client.get(f"/p/{world.a.practice.slug}/privacy/request/made-up-token/verify/").status_code == 404


def test_a_check_of_another_practice_is_not_found_there(client, world, patient):
    verify = _file(client, world.a.practice)
    token = verify.rstrip("/").split("/")[-2]
    other = f"/p/{world.b.practice.slug}/privacy/request/{token}/verify/"
    assert post(client, other, {"code": code_from_outbox(to=ON_FILE)}).status_code == 404


# --- agents (RTS6) ---------------------------------------------------------------------------------
def _agent_data(**extra):
    return public_form_data(PATIENT, kind="copy", role="agent", email="agent@lawfirm.test", **extra)


def test_rts6_an_agent_without_a_document_is_refused(client, world, patient):
    response = post(client, _url(world.a.practice), _agent_data())
    assert response.status_code == 400 and b"signed authorisation" in response.content
    assert not _rows(world.a.practice)


def test_rts6_an_oversize_or_fake_document_is_refused(client, world, patient, monkeypatch):
    monkeypatch.setattr(intake, "AGENT_DOCUMENT_MAX_BYTES", 64)
    big = io.BytesIO(PDF + b"0" * 100)
    big.name = "auth.pdf"
    response = post(client, _url(world.a.practice), _agent_data(authorisation=big))
    assert response.status_code == 400 and b"limit" in response.content
    fake = io.BytesIO(b"MZ this is not a pdf")
    fake.name = "auth.pdf"
    response = post(client, _url(world.a.practice), _agent_data(authorisation=fake))
    assert response.status_code == 400 and not _rows(world.a.practice)


def test_rts6_an_agent_is_verified_then_the_patient_is_told_and_confirms(client, world, patient):
    practice = world.a.practice
    doc = io.BytesIO(PDF)
    doc.name = "authorisation.pdf"
    response = post(client, _url(practice), _agent_data(authorisation=doc))
    assert response.status_code == 302
    [made] = _rows(practice)
    assert made.by_agent and made.verification == "pending"
    [kept] = _rows(practice, AgentDocument)
    assert kept.patient_id == patient.pk and kept.content_type == "application/pdf" and kept.size == len(PDF)
    assert not [m for m in mail.outbox if ON_FILE in m.to]  # the agent's own identity first
    response = post(client, response["Location"], {"code": code_from_outbox(to="agent@lawfirm.test")})
    assert response.status_code == 200 and b"request-waiting" in response.content
    with tenant_context(practice_id=practice.id):
        made = RightsRequest.objects.get(pk=made.pk)
        [notice] = Letter.objects.filter(request=made, kind="agent_notice")
    assert made.status == "verifying" and made.patient_id is None and notice.patient_id == patient.pk
    [to_patient] = [m for m in mail.outbox if ON_FILE in m.to]
    assert "act for you" in to_patient.body
    link = next(line for line in to_patient.body.split() if "/verify/" in line)
    path = link[link.index("/p/"):]
    response = post(client, path, {"code": code_from_outbox(to=ON_FILE)})
    assert response.status_code == 200 and b"request-verified" in response.content
    with tenant_context(practice_id=practice.id):
        made = RightsRequest.objects.get(pk=made.pk)
        assert not IdentityCheck.objects.exists()
    assert made.patient_id == patient.pk and made.verification == "code" and made.status == "in_progress" and made.by_agent


def test_rts6_when_the_patient_does_not_confirm_the_agents_request_fails_and_nothing_they_typed_is_kept(client, world, patient):
    practice = world.a.practice
    doc = io.BytesIO(PDF)
    doc.name = "authorisation.pdf"
    response = post(client, _url(practice), _agent_data(authorisation=doc))
    post(client, response["Location"], {"code": code_from_outbox(to="agent@lawfirm.test")})
    [to_patient] = [m for m in mail.outbox if ON_FILE in m.to]
    link = next(line for line in to_patient.body.split() if "/verify/" in line)
    path = link[link.index("/p/"):]
    for _ in range(intake.MAX_ATTEMPTS):
        response = post(client, path, {"code": "not-the-code"})
    assert response.status_code == 400 and b"We could not confirm who is asking" in response.content
    [made] = _rows(practice)
    assert made.verification == "failed" and made.patient_id is None
    assert not _rows(practice, IdentityCheck) and not _rows(practice, AgentDocument)
