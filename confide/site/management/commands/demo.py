"""`confide demo`: seed the demo practices and staff, idempotently, and print the sign-ins.

Demo only: the TOTP secrets are derived from the e-mail address so the printed otpauth URIs
stay the same across runs; `confide demo --code EMAIL` prints a current code for one of them.
Real accounts never get derived secrets, and --code refuses any address outside the demo domain.
"""

from __future__ import annotations

import hashlib

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction

from confide.accounts.models import LinkKind, Membership, PortalLink, RecoveryCodeDevice, TOTPDevice, User, UserKind
from confide.core.models import Practice
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context

DEMO_DOMAIN = "demo.confide.test"
DEMO_PASSWORD = "Confide-demo-2026!"
PRACTICES = [("demo", "Demo Family Therapy"), ("demo-north", "Demo Physio North")]
STAFF = [
    # email local part, display name, {practice slug: role}, MFA enrolled
    ("owner", "Olivia Owner", {"demo": Role.OWNER, "demo-north": Role.CLINICIAN}, True),
    ("clinician", "Chris Clinician", {"demo": Role.CLINICIAN}, True),
    ("frontdesk", "Farah Frontdesk", {"demo": Role.FRONT_DESK}, True),
    ("billing", "Bill Billing", {"demo": Role.BILLING}, True),
    ("privacy", "Priya Privacy", {"demo": Role.PRIVACY_OFFICER}, True),
    ("newhire", "Nat Newhire", {"demo": Role.CLINICIAN}, False),
]
# Synthetic patients, made up here: no real people. (given, family, date of birth, phone, email)
PATIENTS = [
    ("Marisol", "Quintero", "1984-02-11", "+1 415 555 0142", "marisol.q@example.org"),
    ("Tobias", "Lindqvist", "1991-09-30", "+1 415 555 0187", "tobias.lindqvist@example.org"),
    ("Aurélie", "Fontaine", "1978-05-04", "+1 628 555 0119", "a.fontaine@example.net"),
    ("Kwame", "Mensah", "2001-12-19", "+1 510 555 0163", "kwame.m@example.com"),
    ("Ingrid", "Halvorsen", "1966-07-08", "+1 650 555 0105", None),
    ("Dev", "Raghunathan", "2010-03-22", "+1 415 555 0131", "raghunathan.family@example.org"),
]


# Portal accounts (patient portal, /portal/signin/): an adult patient with an authenticator, and
# a parent (no record of her own here) who represents the minor Dev. (local part, display name,
# the patient whose record it opens, link kind, relationship, MFA enrolled)
PORTAL = [
    ("patient", "Marisol", ("Marisol", "Quintero"), LinkKind.SELF, "", True),
    ("parent", "Meera Raghunathan", ("Dev", "Raghunathan"), LinkKind.REPRESENTATIVE, "mother", False),
]

# The demo inbox's templates (practice text, never a patient's details).
INBOX_TEMPLATES = [
    ("Forms ready", "Your forms are ready in the patient portal. Please fill them in before your visit."),
    ("Call us back", "Please call the practice at +1 415 555 0100 when you have a moment."),
]


def demo_secret(email: str) -> bytes:
    return hashlib.sha256(f"confide-demo-totp:{email}".encode()).digest()[:20]


# Twilio's documentation example number: the demo's texts "arrive" at it (make run's demo token signs them).
DEMO_SMS_NUMBER = "+15017250604"


class Command(BaseCommand):
    help = "Create the demo practices and staff (idempotent) and print how to sign in."

    def add_arguments(self, parser):
        parser.add_argument("--code", metavar="EMAIL", help="print the current TOTP code of a demo user")
        parser.add_argument("--quiet", action="store_true", help="seed without printing the sign-ins")

    def handle(self, *args, code=None, quiet=False, **options):
        if code:
            self._print_code(code)
            return
        with transaction.atomic():
            practices = {slug: self._ensure_practice(slug, name) for slug, name in PRACTICES}
            rows = []
            for local, display, roles, enrolled in STAFF:
                email = f"{local}@{DEMO_DOMAIN}"
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(email, DEMO_PASSWORD, display_name=display)
                for slug, role in roles.items():
                    with tenant_context(practice_id=practices[slug].id):
                        Membership.objects.get_or_create(user=user, practice=practices[slug], defaults={"role": role})
                uri = self._ensure_totp(user) if enrolled else None
                rows.append((email, ", ".join(f"{r.label} @ {s}" for s, r in roles.items()), uri))
            patients = self._ensure_patients(practices["demo"])
            portal_rows = self._ensure_portal(practices["demo"], patients)
            sms_number = self._ensure_sms_number(practices["demo"])
            self._ensure_inbox(practices["demo"], patients)
            self._ensure_website(practices["demo"])
            self._ensure_calendar(practices["demo"], patients)
        if quiet:
            return
        out = self.stdout.write
        out("Demo practices: " + ", ".join(f"{name} ({slug})" for slug, name in PRACTICES))
        out(f"Demo sign-ins — password for all: {DEMO_PASSWORD}")
        for email, roles, uri in rows:
            out(f"  {email:32} {roles}")
            out(f"      TOTP: {uri}" if uri else "      (no authenticator yet: sets one up at first sign-in)")
        out(f"Current code for a demo user: .venv/bin/confide demo --code owner@{DEMO_DOMAIN}")
        out(f"Patient portal sign-ins (/portal/signin/) — same password: {DEMO_PASSWORD}")
        for email, what, uri in portal_rows:
            out(f"  {email:32} {what}")
            out(f"      TOTP: {uri}" if uri else "      (no second factor yet: can add an authenticator app or a passkey on the Account page)")
        out(f"The demo practice's texting number: {sms_number} (texts to it: POST /hooks/sms/twilio, signed; docs/operations.md, Twilio webhooks)")
        out("The demo practice's website: /p/demo/ (online booking: /p/demo/book/); staff see the calendar at /calendar/")

    def _ensure_patients(self, practice: Practice) -> None:
        """The synthetic patients (registered by the front desk), then their charts (records/demo.py).

        Each patient is looked for by name through the blind index, so patients imported or
        added later never stop a missing demo patient from being made; the charts are filled
        once (the marker: the demo clinician has written a note), so a second run opens no
        chart and adds nothing to the audit log."""
        import datetime

        from confide.core.actors import StaffActor
        from confide.records.demo import DemoStaff, seed_charts
        from confide.records.models import Patient, ProgressNote
        from confide.records.services import do_create_patient
        from confide.vault import blind_index

        with tenant_context(practice_id=practice.id):
            actors = {
                local: StaffActor.from_membership(Membership.objects.get(user__email=f"{local}@{DEMO_DOMAIN}", practice=practice))
                for local in ("frontdesk", "clinician", "billing")
            }
            patients = {}
            for given, family, dob, phone, email in PATIENTS:
                found = blind_index.search(practice.id, "name", f"{given} {family}")
                existing = Patient.objects.filter(id__in=found).order_by("created_at").values_list("id", flat=True).first()
                if existing is None:
                    existing = do_create_patient(
                        actor=actors["frontdesk"], given_name=given, family_name=family,
                        date_of_birth=datetime.date.fromisoformat(dob), phone=phone, email=email,
                    ).id  # fmt: skip
                patients[(given, family)] = existing
            if not ProgressNote.objects.filter(author_id=actors["clinician"].user_id).exists():
                seed_charts(patients, DemoStaff(clinician=actors["clinician"], front_desk=actors["frontdesk"], billing=actors["billing"]))
        return patients

    def _ensure_sms_number(self, practice: Practice) -> str:
        """The demo practice's own texting number (messaging inbound: how a text finds its
        practice), set once; an operator's later change is kept."""
        from confide.messaging.inbound import set_sms_number, settings_of

        current = settings_of(practice.id).sms_number
        return current or set_sms_number(practice.id, DEMO_SMS_NUMBER).sms_number

    def _ensure_portal(self, practice: Practice, patients: dict) -> list[tuple[str, str, str | None]]:
        """The demo's portal accounts and their links (idempotent): a link is made once, verified
        by the demo front desk for the parent."""
        rows = []
        frontdesk = User.objects.get(email=f"frontdesk@{DEMO_DOMAIN}")
        for local, display, (given, family), kind, relationship, enrolled in PORTAL:
            email = f"{local}@{DEMO_DOMAIN}"
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email, DEMO_PASSWORD, display_name=display, kind=UserKind.PATIENT)
            with tenant_context(practice_id=practice.id):
                PortalLink.objects.get_or_create(
                    user=user, patient_id=patients[(given, family)], is_active=True,
                    defaults={
                        "practice": practice, "kind": kind, "relationship": relationship,
                        "verified_by": frontdesk if kind == LinkKind.REPRESENTATIVE else None,
                    },
                )
            uri = self._ensure_totp(user) if enrolled else None
            what = f"{given} {family}'s own record" if kind == LinkKind.SELF else f"{relationship} of {given} {family} (a minor)"
            rows.append((email, what, uri))
        return rows

    def _ensure_inbox(self, practice: Practice, patients: dict) -> None:
        """A small inbox (issue 15), once: Marisol agreed to texts (by phone, to the front desk),
        texted to move an appointment and got a reply in the portal; two templates."""
        from confide.consent.services import Subject, do_choose, has_consent
        from confide.core.actors import StaffActor
        from confide.core.purposes import Purpose
        from confide.messaging.models import Message, MessageTemplate
        from confide.messaging.services import receive_message, send_message

        marisol = patients[("Marisol", "Quintero")]
        with tenant_context(practice_id=practice.id):
            desk = StaffActor.from_membership(Membership.objects.get(user__email=f"frontdesk@{DEMO_DOMAIN}", practice=practice))
            if not has_consent(practice.id, marisol, Purpose.OPERATIONS, channel="sms"):
                do_choose(action="grant", actor=desk, subject=Subject.patient(practice.id, marisol), topic="sms_texts", channel="phone",
                          method="staff_phone", shown_text="May we text you about your appointments? Reply STOP to stop. [She said yes.]")  # fmt: skip
            for name, body in INBOX_TEMPLATES:
                MessageTemplate.objects.get_or_create(practice=practice, name=name, defaults={"body": body, "created_by_id": desk.user_id})
            if not Message.objects.filter(patient_id=marisol).exists():
                receive_message(practice_id=practice.id, patient_id=marisol, channel="sms", body="Hi, can I move Thursday's appointment to the afternoon?")
                send_message(desk, patient_id=marisol, channel="portal", topic="staff_reply",
                             body="Of course. Thursday at 2:30 pm is yours; the new time is in your portal.")  # fmt: skip

    def _ensure_website(self, practice: Practice) -> None:
        """Issue 16, directory: the demo clinician's profile, published by the clinician (their
        consent in the ledger, through the service), and the practice's website published."""
        from confide.core.actors import StaffActor
        from confide.directory import services as directory

        with tenant_context(practice_id=practice.id):
            membership = Membership.objects.filter(practice=practice, role="clinician").order_by("created_at").first()
            owner = Membership.objects.filter(practice=practice, role="owner").order_by("created_at").first()
            if membership is None or owner is None:
                return
            clinician = StaffActor.from_membership(membership)
            profile = directory.own_profile(clinician)
            if not profile.display_name:
                directory.do_update_profile(actor=clinician, data={
                    "display_name": membership.user.display_name, "credentials": "LMFT",
                    "biography": "I work with families, couples and teenagers, in person and by video.",
                    "specialties": "Family therapy\nCouples\nAnxiety", "languages": "English, Spanish",
                    "education": "MA, Marriage and Family Therapy", "certifications": "Licensed Marriage and Family Therapist",
                    "insurance": "Aetna\nBlue Shield", "fees": "$150 for a 50-minute session; sliding scale available",
                })  # fmt: skip
            if not profile.published:
                directory.do_publish(actor=clinician)
            site = directory.website_of(practice.id)
            if not site.published:
                directory.do_update_website(actor=StaffActor.from_membership(owner), data={
                    "published": "1", "tagline": "Family therapy close to home, and by video",
                    "about": "A small practice for families, couples and teenagers.", "primary_colour": "#1f5f8b",
                })  # fmt: skip
    def _ensure_calendar(self, practice: Practice, patients: dict) -> None:
        """The calendar (issue 16, calendar part), once: the practice's zone, an office and
        telehealth, three appointment types, weekday hours for its clinicians, and a week of
        appointments for the demo patients on each weekday around today (skipped where a time is taken)."""
        import datetime
        import zoneinfo

        from django.utils import timezone

        from confide.core.actors import StaffActor
        from confide.core.permissions import Role
        from confide.scheduling import services
        from confide.scheduling.models import Appointment, AppointmentType, Location, LocationKind, SchedulingSettings, WorkingHours

        with tenant_context(practice_id=practice.id):
            if AppointmentType.objects.exists():
                return
            zone = zoneinfo.ZoneInfo("America/New_York")
            SchedulingSettings.objects.update_or_create(practice=practice, defaults={"time_zone": zone.key})
            office = Location.objects.create(practice=practice, name="Main office", address="1 Demo Street, Springfield")
            Location.objects.create(practice=practice, name="Telehealth (video)", kind=LocationKind.TELEHEALTH)
            kinds = [
                AppointmentType.objects.create(practice=practice, name="Intake", duration_minutes=80, price_cents=20000, colour="#6f42c1"),
                AppointmentType.objects.create(practice=practice, name="Therapy session", duration_minutes=50, price_cents=15000,
                                               colour="#2b6cb0", bookable_online=True),
                AppointmentType.objects.create(practice=practice, name="Video follow-up", duration_minutes=30, price_cents=9000,
                                               colour="#198754", telehealth=True),
            ]  # fmt: skip
            clinicians = list(Membership.objects.filter(practice=practice, role__in=(Role.CLINICIAN, Role.OWNER), is_active=True))
            for member in clinicians:
                for weekday in range(5):
                    WorkingHours.objects.create(practice=practice, clinician=member, weekday=weekday, starts=datetime.time(9),
                                                ends=datetime.time(17), location=office)  # fmt: skip
            desk = StaffActor.from_membership(Membership.objects.get(user__email=f"frontdesk@{DEMO_DOMAIN}", practice=practice))
            today = timezone.now().astimezone(zone).date()
            patient_ids = list(patients.values())
            n = 0
            for offset in range(-3, 12):  # each weekday from three days ago to eleven days ahead
                day = today + datetime.timedelta(days=offset)
                if day.weekday() >= 5:
                    continue
                for c, member in enumerate(clinicians):  # two or three each, at times that vary by day
                    for hour in (9 + (offset + c) % 2, 11 + (offset + 2 * c) % 3, 15 - (offset + c) % 2)[: 2 + (offset + c) % 2]:
                        starts = datetime.datetime.combine(day, datetime.time(hour), tzinfo=zone).astimezone(datetime.UTC)
                        n += 1
                        try:
                            services.book(desk, patient_id=patient_ids[n % len(patient_ids)], clinician_id=member.pk,
                                          appointment_type_id=kinds[n % 3].pk, starts_at=starts, location_id=office.pk)  # fmt: skip
                        except services.SlotTaken:
                            continue
            Appointment.objects.filter(ends_at__lt=timezone.now(), status="booked").update(status="completed")

    def _ensure_practice(self, slug: str, name: str) -> Practice:
        """The demo practice starts with its own choices as version 1 of its notice (its contacts,
        the demo outbox, age 13): published later, lowering the age would be a material change
        that applies only after the notice period (confide/policy/materiality.py)."""
        from pathlib import Path

        from confide.policy import services

        practice = Practice.objects.filter(slug=slug).first()
        if practice is None:
            practice = Practice(slug=slug, name=name)
            if slug == "demo":
                practice.first_policy_override = Path(services.__file__).with_name("demo_override.toml").read_text(encoding="utf-8")
            practice.save()
        return practice

    def _ensure_totp(self, user: User) -> str:
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice(user=user, name="Demo authenticator", confirmed=True)
            device.set_secret(demo_secret(user.email))
            device.save()
            recovery, _ = RecoveryCodeDevice.objects.get_or_create(user=user, defaults={"name": "Recovery codes", "confirmed": True})
            recovery.regenerate()
        return device.config_url()

    def _print_code(self, email: str) -> None:
        email = email.strip().lower()
        if not email.endswith(f"@{DEMO_DOMAIN}"):
            raise CommandError(f"--code works only for demo accounts (@{DEMO_DOMAIN})")
        try:
            user = User.objects.filter(email=email).first()
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first() if user else None
        except DatabaseError:
            # No tables: a data directory (or database) that `make run` never set up.
            raise CommandError(
                f"the database ({self._where()}) has no demo: point CONFIDE_DATA_DIR at the data directory "
                "`make run` uses (var/ in the checkout), or run `make run` first"
            ) from None
        if user is None:
            raise CommandError(f"there is no demo account {email} in this database ({self._where()}); run `confide demo` first")
        if device is None:
            raise CommandError(
                f"{email} has no authenticator yet: this account sets one up at its first sign-in "
                "(scan the QR code the page shows), so there is no code to print"
            )
        self.stdout.write(device.current_code())

    @staticmethod
    def _where() -> str:
        from django.db import connection

        name = connection.settings_dict.get("NAME")
        return f"SQLite file {name}" if connection.vendor == "sqlite" else f"{connection.vendor} database {name}"
