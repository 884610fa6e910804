"""`confide demo` seeds living charts through the services, as the staff whose work each part is,
and a second run changes nothing."""

from __future__ import annotations

import io

from django.core.management import call_command

from confide.access.door import open_chart
from confide.core.purposes import Purpose
from confide.accounts.models import Membership
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.site.management.commands.demo import DEMO_DOMAIN
from confide.core.models import Practice
from confide.core.tenancy import tenant_context
from confide.records import notes
from confide.records.files import list_files
from confide.records.models import NoteStatus, Patient, ProgressNote, PsychotherapyNote
from confide.vault import blind_index


def _demo() -> None:
    call_command("demo", "--quiet", stdout=io.StringIO())


def _actor(practice, local: str) -> StaffActor:
    return StaffActor.from_membership(Membership.objects.get(user__email=f"{local}@{DEMO_DOMAIN}", practice=practice))


def _patient(practice, name: str):
    return Patient.objects.get(id__in=blind_index.search(practice.id, "name", name))


def test_the_demo_charts_are_alive_and_a_second_run_changes_nothing(db):
    _demo()
    practice = Practice.objects.get(slug="demo")
    entries = AuditEntry.objects.count()
    _demo()
    assert AuditEntry.objects.count() == entries  # no chart opened, nothing added

    with tenant_context(practice_id=practice.id):
        assert Patient.objects.count() == 6
        clinician = _actor(practice, "clinician")
        marisol, dev = _patient(practice, "Marisol Quintero"), _patient(practice, "Dev Raghunathan")
        with open_chart(clinician, marisol.id, Purpose.TREATMENT) as chart:
            p = chart.patient
            assert {m["kind"] for m in p.medications} == {"prescription", "otc"}
            assert p.address["city"] == "Oakland" and p.emergency_contact["relationship"] == "sister"
            assert all(r["unit"] or r["components"] for r in p.lab_results)
            assert p.allergies and p.conditions and p.immunizations and p.encounters
        with open_chart(clinician, dev.id, Purpose.TREATMENT) as chart:
            assert chart.patient.date_of_birth.year == 2010
            assert chart.patient.guardian["relationship"] == "mother"
        views = notes.list_notes(clinician, marisol.id)
        assert sorted(v.status for v in views) == [NoteStatus.DRAFT, NoteStatus.SIGNED]
        [signed] = [v for v in views if v.status == NoteStatus.SIGNED]
        assert len(signed.addenda) == 1 and signed.intact
        assert ProgressNote.objects.filter(status=NoteStatus.SIGNED).count() == 2
        assert PsychotherapyNote.objects.filter(patient_id=marisol.id, author_id=clinician.user_id).count() == 1
        [document] = list_files(clinician, marisol.id, kind="document")
        assert document["content_type"] == "application/pdf"
        [photo] = list_files(clinician, _patient(practice, "Ingrid Halvorsen").id, kind="photo")
        assert photo["content_type"] == "image/png"


def test_each_part_of_a_chart_is_written_by_the_staff_member_whose_work_it_is(db):
    _demo()
    practice = Practice.objects.get(slug="demo")
    with tenant_context(practice_id=practice.id):
        role_of = {_actor(practice, local).user_id: local for local in ("frontdesk", "clinician", "billing")}
    by_field: dict[str, set[str]] = {}
    for entry in AuditEntry.objects.filter(event=AuditEvent.CHART_CHANGED):
        for name in entry.fields_changed:
            by_field.setdefault(name, set()).add(role_of[int(entry.actor_id)])
    assert by_field["address"] == by_field["guardian"] == by_field["emergency_contact"] == {"frontdesk"}
    assert by_field["insurance"] == {"billing"}
    assert by_field["medications"] == by_field["lab_results"] == by_field["health_background"] == {"clinician"}
    created = AuditEntry.objects.filter(event=AuditEvent.PATIENT_CREATED)
    assert {role_of[int(e.actor_id)] for e in created} == {"frontdesk"} and created.count() == 6


def test_the_demo_prints_a_patient_and_a_guardian_portal_sign_in(db):
    from confide.accounts.models import LinkKind, PortalLink

    out = io.StringIO()
    call_command("demo", stdout=out)
    call_command("demo", stdout=io.StringIO())  # idempotent: still one link each
    text = out.getvalue()
    assert f"patient@{DEMO_DOMAIN}" in text and f"parent@{DEMO_DOMAIN}" in text
    assert "Patient portal sign-ins (/portal/signin/)" in text
    assert "otpauth://" in text.split("Patient portal sign-ins")[1]  # the patient has an authenticator
    with tenant_context(practice_id=Practice.objects.get(slug="demo").id):
        links = PortalLink.objects.filter(user__email__in=[f"patient@{DEMO_DOMAIN}", f"parent@{DEMO_DOMAIN}"], is_active=True)
        assert sorted(links.values_list("kind", flat=True)) == [LinkKind.REPRESENTATIVE, LinkKind.SELF]


def test_the_demo_inbox_has_marisols_text_and_reply_and_two_templates_once(db):
    from confide.consent.services import has_consent
    from confide.messaging.models import Direction, Message, MessageTemplate

    _demo()
    practice = Practice.objects.get(slug="demo")
    with tenant_context(practice_id=practice.id):
        marisol = _patient(practice, "Marisol Quintero")
        messages = list(Message.objects.filter(patient_id=marisol.pk).order_by("created_at"))
        assert [(m.direction, m.channel) for m in messages] == [(Direction.INBOUND, "sms"), (Direction.OUTBOUND, "portal")]
        assert MessageTemplate.objects.count() == 2
        assert has_consent(practice.id, marisol.pk, Purpose.OPERATIONS, channel="sms")
    entries = AuditEntry.objects.count()
    _demo()
    with tenant_context(practice_id=practice.id):
        assert Message.objects.filter(patient_id=marisol.pk).count() == 2 and MessageTemplate.objects.count() == 2
    assert AuditEntry.objects.count() == entries


def test_the_demo_publishes_its_website_and_the_clinicians_profile_by_the_clinicians_own_consent(db):
    from django.test import Client

    from confide.consent.models import ConsentEvent
    from confide.core.models import Practice
    from confide.core.tenancy import tenant_context

    call_command("demo", quiet=True)
    call_command("demo", quiet=True)  # twice: nothing doubles
    practice = Practice.objects.get(slug="demo")
    team = Client().get(f"/p/{practice.slug}/team/")
    assert team.status_code == 200 and "Chris Clinician" in team.content.decode()
    with tenant_context(practice_id=practice.id):
        assert ConsentEvent.objects.filter(topic="profile_publication", action="grant").count() == 1
