"""Every page, every role, at phone width and at desktop width (issue 12 items 17 and 18).

The pages come from the route table (confide/core/routes.py), not from a list kept here: every
GET route is loaded by each role whose permissions admit it (STAFF rows by `perm`, ACCOUNT rows
by everyone signed in, PUBLIC rows anonymously, SIGNING_IN rows during sign-in and enrolment).
A route whose URL carries an id is built from the world's objects through URL_BUILDERS (kwarg
name → value), ROUTE_KWARGS (a route that needs an object in a particular state, e.g. a draft
note to sign) or ROUTE_URLS (a whole URL, for a secret link). A route the walker cannot build
fails with "add a URL builder for <name>", and every GET route must load (200) for at least one
role, so a new page is never skipped silently.

On each HTML page, at 390×844 (a phone):
  * document.documentElement.scrollWidth <= 390 — no sideways scrolling of the whole page; the
    failure names the widest elements that stick out;
  * every table sits in its own named, focusable scrolling region;
  * axe-core (vendored under tests/e2e/vendor/, injected with the page's CSP bypassed, in these
    browser contexts only) with the WCAG 2.0/2.1/2.2 A and AA rules: no serious or critical
    violation; and a few best-practice rules (AXE_ALWAYS) at any impact.
Then axe again at 1280×800, once per kind of page (route and status).
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import get_resolver, reverse
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError

from confide.core.permissions import ROLE_PERMISSIONS, Role
from confide.core.routes import ROUTE_POLICY, Audience
from tests.e2e.conftest import browser_sign_in
from tests.factories import enrol_totp

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# A page answered with a door refusal or "not yours" (a psychotherapy note is its author's alone)
# is still a page people see; each route must answer 200 to at least one role (see the end).
SEEN_STATUSES = {200, 403, 404}

BREAK_GLASS_REASON = "Collapsed in the waiting room; allergies needed"


# --- the world --------------------------------------------------------------------------------
@dataclass
class PageWorld:
    clinic: object
    objects: dict[str, object] = field(default_factory=dict)


@pytest.fixture
def page_world(clinic, make_staff) -> PageWorld:
    """The e2e clinic plus a privacy officer, a member who has not enrolled MFA yet, a second
    practice for the owner (so the header shows the switcher), notes (draft and signed, also
    psychotherapy notes), a document, clinical items, a consultation waiting with a photo,
    a published material policy change (the banner) and a break-the-glass opening."""
    from confide.access.door import open_chart
    from confide.accounts.models import Membership
    from confide.core.actors import StaffActor
    from confide.core.purposes import Purpose
    from confide.core.tenancy import tenant_context
    from confide.policy.services import do_publish_policy
    from confide.records.files import do_add_file
    from confide.records.models import IntakePhoto
    from confide.records.notes import (
        do_add_addendum, do_create_note, do_create_psychotherapy_note, do_sign_note, do_sign_psychotherapy_note,
    )  # fmt: skip
    from confide.records.services import do_add_item
    from tests.factories import MembershipFactory, PracticeFactory
    from tests.records.consultations import submit
    from tests.records.uploads import pdf_upload

    practice = clinic.practice
    clinic.users[Role.PRIVACY_OFFICER] = make_staff(practice, Role.PRIVACY_OFFICER, email="privacy@demo.example.test", display_name="Priya Privacy")
    clinic.newcomer = make_staff(practice, Role.CLINICIAN, email="newcomer@demo.example.test", display_name="Nico Newcomer", mfa=False)
    north = PracticeFactory(slug="demo-north", name="Demo Physio North")
    with tenant_context(practice_id=north.id):
        MembershipFactory(user=clinic.users[Role.OWNER], practice=north, role=Role.CLINICIAN)

    with tenant_context(practice_id=practice.id):
        def actor(role):
            return StaffActor.from_membership(Membership.objects.get(user=clinic.users[role], practice=practice))

        clinician, patient_id = actor(Role.CLINICIAN), clinic.patient.id
        do_add_item(actor=clinician, patient_id=patient_id, list_name="medications",
                    item={"name": "Sertraline", "dose": "50 mg daily", "route": "oral", "kind": "prescription", "start": "2026-01-05"})
        do_add_item(actor=clinician, patient_id=patient_id, list_name="allergies", item={"substance": "Latex", "reaction": "Hives"})
        do_add_item(actor=clinician, patient_id=patient_id, list_name="conditions", item={"name": "Generalised anxiety disorder"})  # fmt: skip
        draft = do_create_note(actor=clinician, patient_id=patient_id, content={"subjective": "Sleeping better.", "plan": "Review in four weeks."})
        signed = do_create_note(actor=clinician, patient_id=patient_id, content={"subjective": "First visit.", "plan": "Start sertraline."})
        do_sign_note(actor=clinician, note_id=signed.pk, patient_id=patient_id)
        do_add_addendum(actor=clinician, note_id=signed.pk, patient_id=patient_id, text="Mild nausea, resolved.")
        psy_draft = do_create_psychotherapy_note(actor=clinician, patient_id=patient_id, text="Process notes, session 2.")
        psy_signed = do_create_psychotherapy_note(actor=clinician, patient_id=patient_id, text="Process notes, session 1.")
        do_sign_psychotherapy_note(actor=clinician, patient_id=patient_id, note_id=psy_signed.pk)
        document = do_add_file(actor=clinician, patient_id=patient_id, kind="document", upload=pdf_upload(), title="Referral letter")
        # A parent's portal link to the patient, with its authorization document (issue 14, MIN3).
        from confide.accounts.models import LinkKind
        from confide.records.representatives import do_attach_representative_document
        from tests.portal_world import link, make_portal_user

        guardian_link = link(make_portal_user("guardian@portal.test"), clinic.patient, kind=LinkKind.REPRESENTATIVE,
                             relationship="mother", verified_by=clinic.users[Role.OWNER])  # fmt: skip
        authorization = do_attach_representative_document(actor=actor(Role.FRONT_DESK), patient_id=patient_id, link_id=guardian_link.pk,
                                                          upload=pdf_upload(), title="Guardianship order")  # fmt: skip
        with open_chart(clinician, patient_id, Purpose.OPERATIONS, categories={"health.background"}, break_glass_reason=BREAK_GLASS_REASON):
            pass
        version = do_publish_policy(
            actor=actor(Role.PRIVACY_OFFICER), override_toml="[age]\nminimum = 13\n",
            effective_at=timezone.now() + datetime.timedelta(days=31), material=True, summary="Teenagers from 13.",
        )  # fmt: skip
    from django.core import mail

    from confide.accounts.invitations import issue_invitation

    with transaction.atomic():
        issue_invitation(practice=practice, email="invitee@demo.example.test", role=Role.CLINICIAN, invited_by=clinic.users[Role.OWNER])
    invitation_link = INVITATION_LINK.search(mail.outbox[-1].body).group(0)
    from confide.accounts.reset import reset_link

    reset = reset_link(clinic.users[Role.BILLING])
    # The patient portal: an invitation for the clinic's patient (its pages, anonymous), a portal
    # account holding that record (its pages), and its reset link.
    from confide.accounts.models import LinkKind, PortalLink, User, UserKind
    from confide.accounts.portal_invitations import issue_portal_invitation

    with transaction.atomic():
        _, portal_invitation = issue_portal_invitation(practice_id=practice.id, patient_id=clinic.patient.pk, email="portal-invitee@demo.example.test")
    portal_user = User.objects.create_user("portal-patient@demo.example.test", clinic.password, display_name="Pat Portal", kind=UserKind.PATIENT)
    with tenant_context(practice_id=practice.id):
        PortalLink.objects.create(practice_id=practice.id, user=portal_user, patient_id=clinic.patient.pk, kind=LinkKind.SELF)
    portal_reset = reset_link(portal_user, portal=True)
    submission = submit(practice, photo=True)
    with tenant_context(practice_id=practice.id):
        intake_photo = IntakePhoto.objects.get(submission=submission)

    # The portal: the patient's own account (with an authenticator: the code page on the way in),
    # and a second patient's account with none, in a practice that requires one (the set-up page).
    practice.portal_mfa_required = True
    practice.save(update_fields=["portal_mfa_required"])
    second = None
    with tenant_context(practice_id=practice.id):
        from confide.records.services import do_create_patient

        second = do_create_patient(actor=actor(Role.CLINICIAN), given_name="Sam", family_name="Second")
    # The clinic patient's account (above) gets an authenticator; the second patient's has none.
    portal_user.device = enrol_totp(portal_user)
    portal_users = {"patient": portal_user}
    newcomer = User.objects.create_user("newpatient@portal.example.test", clinic.password, display_name="Sam", kind=UserKind.PATIENT)
    with tenant_context(practice_id=practice.id):
        PortalLink.objects.create(practice=practice, user=newcomer, patient_id=second.pk, kind=LinkKind.SELF)
    portal_users["newpatient"] = newcomer
    clinic.portal_users = portal_users
    # The patient's "Download my record": an export waiting to be made (its status page).
    from confide.accounts.models import PortalLink as _Link
    from confide.portal.exports import do_request_export
    from tests.portal_world import actor_for

    with tenant_context(practice_id=practice.id):
        record_export = do_request_export(actor=actor_for(_Link.objects.get(user=portal_users["patient"])), fmt="pdf")
    from confide.portal.exports import run_export

    run_export(record_export.pk, practice.id)  # made, so its file link answers too
    # Part "export": the patient's copy for a `copy` rights request, made (its progress part, its file).
    from confide.rights.export import run_export as run_rights_export
    from confide.rights.services import check_open_request

    with tenant_context(practice_id=practice.id):
        copy_request = check_open_request(actor=actor_for(_Link.objects.get(user=portal_users["patient"])), kind="copy")
        rights_export = copy_request.exports.get()
    run_rights_export(rights_export.pk, practice.id)
    # A passkey of the patient's (its removal page); the key itself is never used here.
    from confide.accounts.models import WebAuthnCredential

    passkey = WebAuthnCredential.objects.create(
        user=portal_users["patient"], name="My phone", confirmed=True, credential_id="ZXZlcnktcGFnZQ", public_key=b"\x00"
    )

    # The inbox (issue 15): the clinic patient's portal message with a file (the thread page, the
    # staff and the portal attachment), a staff reply in the portal, and a template.
    from confide.messaging.attachments import check_attachment
    from confide.messaging.models import Attachment, MessageTemplate
    from confide.messaging.services import receive_message, send_message

    with tenant_context(practice_id=practice.id):
        inbox_message = receive_message(practice_id=practice.id, patient_id=clinic.patient.pk, channel="portal",
                                        body="Can I bring my referral letter?", attachments=(check_attachment(pdf_upload()),))  # fmt: skip
        send_message(actor(Role.FRONT_DESK), patient_id=clinic.patient.pk, channel="portal", topic="staff_reply", body="Yes, please bring it.")
        inbox_attachment = Attachment.objects.get(message=inbox_message)
        inbox_template = MessageTemplate.objects.create(practice=practice, name="Forms ready", body="Your forms are ready in the portal.")
    # The rest of messaging: a text from a number no patient has (the unmatched queue), a draft
    # e-mail campaign (its page, its progress part), and an unsubscribe link as a marketing
    # e-mail carries it (the public confirmation page; a GET changes nothing).
    from confide.messaging.campaigns import create_campaign
    from confide.messaging.inbound import handle_sms
    from confide.messaging.unsubscribe import make_token

    handle_sms(practice_id=practice.id, sid="SM" + "e2e".ljust(32, "0"), from_number="+12125550187", body="Is the clinic open on Saturday?")
    with tenant_context(practice_id=practice.id):
        campaign = create_campaign(actor(Role.OWNER), name="Spring newsletter", channel="email", subject="News from the practice",
                                   body="Our new evening hours start in April.")  # fmt: skip
    unsubscribe_token = make_token(practice.id, clinic.patient.pk, "mari@example.test")
    # Scheduling, feed part: the clinician's private calendar feed (the public .ics).
    from confide.scheduling.feed import issue as issue_feed

    with tenant_context(practice_id=practice.id):
        feed_clinician = Membership.objects.get(user=clinic.users[Role.CLINICIAN], practice=practice)
    feed_token, _ = issue_feed(None, practice_id=practice.id, membership_id=feed_clinician.pk, via="cli")

    # Directory part (issue 16): the website published, the clinician's profile published by the
    # clinician (with a photo; the site with a logo) and a referral whose decline link is visited.
    from confide.directory import services as directory
    from tests.records.uploads import png_upload as directory_png

    with tenant_context(practice_id=practice.id):
        clinician = actor(Role.CLINICIAN)
        directory.do_update_profile(actor=clinician, data={"display_name": "Chris Clinician", "credentials": "LMFT",
                                                           "biography": "Families and couples."}, photo=directory_png())  # fmt: skip
        directory.do_set_sensitive(actor=clinician, kind="religion", value="Quaker")
        directory_profile = directory.do_publish(actor=clinician)
        directory.do_update_website(actor=actor(Role.OWNER), data={"published": "1", "tagline": "Family therapy", "about": "A small practice.",
                                                                   "primary_colour": "#1f5f8b"}, logo=directory_png())  # fmt: skip
        referral = directory.do_refer(actor=clinician, name="Morgan Referee", email="morgan.referee@example.test")
    referral_decline = directory.decline_link(practice, referral)
    referral_decline = referral_decline[referral_decline.index("/p/"):]

    # amend part (issue 17): a correct request about the clinic patient with its amendment started
    # (the panel's page), and a records release link of the patient (its public page).
    from confide.rights.amendments import start_amendment
    from confide.rights.models import RightsRequest
    from confide.rights.release import create_release

    with tenant_context(practice_id=practice.id):
        now = timezone.now()
        correct = RightsRequest.objects.create(practice_id=practice.id, patient_id=clinic.patient.pk, kind="correct", received_at=now,
                                               due_on=timezone.localdate(now) + datetime.timedelta(days=60), verification="staff")  # fmt: skip
        start_amendment(actor=actor(Role.CLINICIAN), request_id=correct.pk, target=f"note:{signed.pk}", asked="Please correct the plan.",
                        expected_version=1)  # fmt: skip
        _, release_token = create_release(actor=actor(Role.CLINICIAN), patient_id=clinic.patient.pk, recipient="Dr Rivera",
                                          basis="other_provider", categories=["health.notes", "health.medications"])  # fmt: skip

    objects = {
        "correct_request": correct, "release_token": release_token,  # amend part
        "directory_profile": directory_profile, "referral_decline": referral_decline,
        "campaign": campaign, "unsubscribe_token": unsubscribe_token, "feed_token": feed_token,
        "inbox_message": inbox_message, "inbox_attachment": inbox_attachment, "inbox_template": inbox_template,
        "record_export": record_export, "passkey": passkey, "rights_export": rights_export,
        "patient": clinic.patient, "photo": clinic.photo, "document": document, "draft_note": draft, "signed_note": signed,
        "authorization": authorization, "guardian_link": guardian_link,
        "psychotherapy_draft": psy_draft, "psychotherapy_signed": psy_signed, "submission": submission,
        "intake_photo": intake_photo, "policy_version": version, "invitation_link": invitation_link,
        "reset_link": reset[reset.index("/signin/"):],
        "portal_invitation_link": portal_invitation[portal_invitation.index("/portal/"):], "portal_user": portal_user,
        "portal_reset_link": portal_reset[portal_reset.index("/portal/"):],
    }  # fmt: skip
    return PageWorld(clinic=clinic, objects=objects)


# --- URLs from the route table ----------------------------------------------------------------
# kwarg name → how to get its value from the world. Add a row when a route brings a new kwarg.
URL_BUILDERS: dict[str, Callable[[PageWorld], object]] = {
    # amend part: a records release link's public page (its amendment page: ROUTE_KWARGS)
    "release_token": lambda w: w.objects["release_token"],
    "feed_token": lambda w: w.objects["feed_token"],  # scheduling, feed part
    "practice_slug": lambda w: w.clinic.practice.slug,
    "patient_id": lambda w: w.objects["patient"].pk,
    "photo_id": lambda w: w.objects["photo"].pk,
    "document_id": lambda w: w.objects["document"].pk,
    "note_id": lambda w: w.objects["draft_note"].pk,
    "psychotherapy_note_id": lambda w: w.objects["psychotherapy_draft"].pk,
    "submission_id": lambda w: w.objects["submission"].pk,
    "number": lambda w: w.objects["policy_version"].number,
    # The portal's "Download my record" (a portal account's own export; no staff role reaches it).
    "export_id": lambda w: getattr(w.objects.get("record_export"), "pk", None) or uuid.UUID(int=0),
    "link_id": lambda w: w.objects["guardian_link"].pk,
    # The inbox (issue 15).
    "thread_id": lambda w: w.objects["inbox_message"].thread_id,
    "attachment_id": lambda w: w.objects["inbox_attachment"].pk,
    "template_id": lambda w: w.objects["inbox_template"].pk,
    "campaign_id": lambda w: w.objects["campaign"].pk,
    "token": lambda w: w.objects["unsubscribe_token"],
    "profile_id": lambda w: w.objects["directory_profile"].pk,  # directory part: a published profile
    # issue 16, part "booking": a pending website booking request (made on first use).
    "booking_request_id": lambda w: _booking_request(w).pk,
    # issue 16, the calendar: an upcoming appointment of the clinic's patient (made on first use).
    "appointment_id": lambda w: _appointment(w).pk,
    # issue 17, part "intake": a pending identity check of a public-form request (made on first use).
    "check_token": lambda w: _identity_check_token(w),
    # issue 17, queue part: an open rights request of the clinic's patient, and a letter kept with it.
    "request_id": lambda w: _rights_request(w).pk,
    "letter_id": lambda w: _rights_letter(w).pk,
}


# --- part retention
def _deletion_request(w):
    made = w.objects.get("deletion_request")
    if made is None:
        from tests.retention.conftest import delete_request

        made = w.objects["deletion_request"] = delete_request(w.objects["patient"])
    return made
# --- end part retention


def _identity_check_token(w):
    made = w.objects.get("identity_check_token")
    if made is None:
        from tests.security.routes_helpers import _identity_check_token as make

        made = w.objects["identity_check_token"] = make(w.clinic)
    return made


def _rights_request(w):
    made = w.objects.get("rights_request")
    if made is None:
        from django.utils import timezone

        from confide.core.tenancy import tenant_context
        from confide.rights.models import RightsRequest

        practice = w.clinic.practice
        with tenant_context(practice_id=practice.id):
            made = w.objects["rights_request"] = RightsRequest.objects.create(
                practice=practice, patient_id=w.clinic.patient.pk, kind="see", channel="phone", verification="staff",
                received_at=timezone.now(), due_on=timezone.localdate() + datetime.timedelta(days=30), regimes=["hipaa"],
            )  # fmt: skip
    return made


def _rights_letter(w):
    made = w.objects.get("rights_letter")
    if made is None:
        from confide.rights.letters import keep_letter

        row = _rights_request(w)
        made = w.objects["rights_letter"] = keep_letter(practice_id=row.practice_id, request_row=row, kind="acknowledgement",
                                                        template="rights/letters/acknowledgement.txt", context={})  # fmt: skip
    return made


def _booking_request(w):
    made = w.objects.get("booking_request")
    if made is None:
        from confide.accounts.models import Membership
        from confide.core.tenancy import tenant_context
        from tests.directory.booking_world import open_for_booking, request_booking

        practice = w.clinic.practice
        with tenant_context(practice_id=practice.id):
            clinician = Membership.objects.get(user=w.clinic.users[Role.CLINICIAN], practice=practice)
        made = w.objects["booking_request"] = request_booking(open_for_booking(practice, clinician))
    return made


def _appointment(w):
    made = w.objects.get("appointment")
    if made is None:
        import datetime
        import zoneinfo

        from django.utils import timezone

        from confide.accounts.models import Membership
        from confide.core.actors import StaffActor
        from confide.core.tenancy import tenant_context
        from confide.scheduling import services
        from confide.scheduling.models import AppointmentType

        practice = w.clinic.practice
        zone = zoneinfo.ZoneInfo("America/New_York")
        day = timezone.now().astimezone(zone).date() + datetime.timedelta(days=8)
        with tenant_context(practice_id=practice.id):
            clinician = Membership.objects.get(user=w.clinic.users[Role.CLINICIAN], practice=practice)
            desk = Membership.objects.get(user=w.clinic.users[Role.FRONT_DESK], practice=practice)
            kind = AppointmentType.objects.create(practice=practice, name="Every-page visit", duration_minutes=30)
        made = w.objects["appointment"] = services.book(
            StaffActor.from_membership(desk), patient_id=w.clinic.patient.pk, clinician_id=clinician.pk, appointment_type_id=kind.pk,
            starts_at=datetime.datetime.combine(day, datetime.time(7), tzinfo=zone).astimezone(datetime.UTC),
        )
    return made
# (route, kwarg) → value, where a route needs an object in a particular state or of another kind.
ROUTE_KWARGS: dict[tuple[str, str], Callable[[PageWorld], object]] = {
    # issue 17, part retention: the deletion plan needs a verified deletion request (made on first use).
    ("rights:deletion", "request_id"): lambda w: _deletion_request(w).pk,
    # amend part: the amendment page needs a request to correct the record.
    ("rights:amendment", "request_id"): lambda w: w.objects["correct_request"].pk,
    ("records:note-addendum", "note_id"): lambda w: w.objects["signed_note"].pk,
    ("records:psychotherapy-addendum", "psychotherapy_note_id"): lambda w: w.objects["psychotherapy_signed"].pk,
    ("intake:photo", "photo_id"): lambda w: w.objects["intake_photo"].pk,
    ("records:authorization-download", "document_id"): lambda w: w.objects["authorization"].pk,
    # part "export": the patient's copy for a rights request
    ("portal:rights-export-status", "export_id"): lambda w: w.objects["rights_export"].pk,
    ("portal:rights-export-download", "export_id"): lambda w: w.objects["rights_export"].pk,
    ("rights:export-status", "export_id"): lambda w: w.objects["rights_export"].pk,
}


# route → its whole URL, for a page reached only through a secret link (an invitation, a password
# reset): build the link the way the app does from the world's objects.
INVITATION_LINK = re.compile(r"/invite/\?token=\S+")
# The invitation link: opening it moves the token into the session and shows the accept page,
# so the anonymous walk visits the link and then the accept page in that same session.
ROUTE_URLS: dict[str, Callable[[PageWorld], str]] = {
    "accounts:invitation": lambda w: w.objects["invitation_link"],
    # The same for a password reset link: the link page, then the new-password page.
    "accounts:password-reset-link": lambda w: w.objects["reset_link"],
    # "Remove this passkey?" names the passkey in its query.
    "portal:passkey-remove": lambda w: f"{reverse('portal:passkey-remove')}?passkey={w.objects['passkey'].pk}",
    "portal:invitation": lambda w: w.objects["portal_invitation_link"],
    "portal:password-reset-link": lambda w: w.objects["portal_reset_link"],
    "directory:referral-decline": lambda w: w.objects["referral_decline"],  # the link in the colleague's e-mail
}
# Routes that answer 200 only in a state the shared world cannot be in; each is checked by its own
# test below.
ONLY_ELSEWHERE = {"site:setup": "only while the database holds no practice: test_the_first_run_page_…"}


def _route_kwargs() -> dict[str, list[str]]:
    """URL name → the names of the arguments its path carries (include prefixes too)."""
    found: dict[str, list[str]] = {}

    def walk(patterns, namespace: str, prefix_args: list[str]) -> None:
        for p in patterns:
            args = prefix_args + list(p.pattern.regex.groupindex)
            if hasattr(p, "url_patterns"):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, ns, args)
            elif p.name:
                found.setdefault(f"{namespace}{p.name}", args)

    walk(get_resolver().url_patterns, "", [])
    return found


def build_url(name: str, world: PageWorld, kwarg_names: list[str]) -> str:
    if name in ROUTE_URLS:
        return ROUTE_URLS[name](world)
    kwargs = {}
    for kwarg in kwarg_names:
        builder = ROUTE_KWARGS.get((name, kwarg)) or URL_BUILDERS.get(kwarg)
        if builder is None:
            pytest.fail(f"add a URL builder for {name} (its URL carries `{kwarg}`): URL_BUILDERS, ROUTE_KWARGS or ROUTE_URLS in {__file__}")
        kwargs[kwarg] = builder(world)
    return reverse(name, kwargs=kwargs)


def routes_for(audience: Audience, role: Role | None = None) -> list[str]:
    names = []
    for name, policy in ROUTE_POLICY.items():
        if "GET" not in policy.methods or policy.audience != audience:
            continue
        if audience == Audience.STAFF and policy.perm not in ROLE_PERMISSIONS[role]:
            continue
        names.append(name)
    return names


# --- what is checked on a page ----------------------------------------------------------------
OVERFLOW_JS = """() => {
  const limit = window.innerWidth;
  const width = document.documentElement.scrollWidth;
  if (width <= limit) return {width, culprits: []};
  const scrolls = (el) => { const o = getComputedStyle(el).overflowX; return o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip'; };
  // Inside a scrolling box an element widens only that box, unless it is positioned out of it
  // (an absolutely placed visually-hidden label escapes a box that is not itself positioned).
  const inScroller = (el) => {
    if (['absolute', 'fixed'].includes(getComputedStyle(el).position)) return false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) if (scrolls(p)) return true;
    return false;
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    (el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : '');
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= limit + 0.5 || inScroller(el)) continue;
    const parent = el.parentElement.getBoundingClientRect();
    if (parent.right > limit + 0.5 && el.parentElement !== document.body) continue;  // the parent is named instead
    culprits.push({el: describe(el), right: Math.round(r.right), width: Math.round(r.width)});
  }
  culprits.sort((a, b) => b.right - a.right);
  return {width, culprits: culprits.slice(0, 5)};
}"""

AXE_IMPACTS = ["serious", "critical"]
# Best-practice rules held at zero whatever their impact: what the first axe audit found (issue 12
# item 18: duplicate landmarks, an empty table header) and a page without its level-one heading.
AXE_ALWAYS = [
    "landmark-unique", "landmark-no-duplicate-banner", "landmark-no-duplicate-contentinfo", "landmark-no-duplicate-main",
    "landmark-one-main", "empty-table-header", "page-has-heading-one",
]  # fmt: skip
AXE_JS = """async ([tags, impacts, always]) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags.concat(['best-practice'])}, resultTypes: ['violations']});
  return result.violations.filter(v => always.includes(v.id) || (impacts.includes(v.impact) && v.tags.some(t => tags.includes(t)))).map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map(n => ({target: n.target.join(' '), summary: (n.failureSummary || '').split('\\n').slice(0, 3).join(' ')})),
    more: Math.max(0, v.nodes.length - 4),
  }));
}"""

# Every table scrolls inside its own named, focusable region (a phone can reach its far columns
# with the keyboard too): <div class="table-responsive" role="region" tabindex="0" aria-label="...">.
LOOSE_TABLES_JS = """() => [...document.querySelectorAll('main table')].filter(t => {
  const w = t.parentElement;
  return !(w.classList.contains('table-responsive') && w.getAttribute('role') === 'region'
           && w.getAttribute('tabindex') === '0' && (w.getAttribute('aria-label') || '').trim());
}).map(t => t.dataset.testid || (t.caption ? t.caption.textContent.trim() : t.outerHTML.slice(0, 60)))"""


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    answered: dict[str, set[int]] = field(default_factory=dict)  # route → statuses seen
    pages: int = 0

    desktop_checked: set[str] = field(default_factory=set)

    def check_page(self, page, label: str, kind: str | None = None) -> None:
        """The page as loaded at phone width: overflow and axe; then axe at desktop width, once
        per kind of page (route and status): the desktop layout does not differ by role."""
        self.pages += 1
        overflow = page.evaluate(OVERFLOW_JS)
        if overflow["width"] > PHONE["width"]:
            widest = "; ".join(f"{c['el']} (right edge {c['right']}px, {c['width']}px wide)" for c in overflow["culprits"])
            self.problems.append(f"{label}: page is {overflow['width']}px wide at {PHONE['width']}px; widest: {widest or '?'}")
        for table in page.evaluate(LOOSE_TABLES_JS):
            self.problems.append(f"{label}: table {table!r} is not wrapped in a table-responsive region (role, tabindex, aria-label)")
        sizes = [(PHONE, "390")]
        if kind is None or kind not in self.desktop_checked:
            sizes.append((DESKTOP, "1280"))
            self.desktop_checked.add(kind)
        for size, name in sizes:
            if size is DESKTOP:
                page.set_viewport_size(DESKTOP)
            for v in page.evaluate(AXE_JS, [AXE_TAGS, AXE_IMPACTS, AXE_ALWAYS]):
                nodes = "; ".join(f"{n['target']}: {n['summary']}" for n in v["nodes"]) + (f" (+{v['more']} more)" if v["more"] else "")
                self.problems.append(f"{label} @{name}px: axe {v['impact']} {v['id']} — {v['help']}: {nodes}")
        page.set_viewport_size(PHONE)

    def visit(self, page, name: str, url: str, who: str) -> None:
        label = f"{who} {name} {url}"
        try:
            response = page.goto(url)
        except PlaywrightError as exc:
            if "Download is starting" not in str(exc):
                raise
            response = page.request.get(url)  # a file download (CSV, PDF): its status only
            self.answered.setdefault(name, set()).add(response.status)
            return
        self.answered.setdefault(name, set()).add(response.status)
        if response.status not in SEEN_STATUSES:
            self.problems.append(f"{label}: answered {response.status}")
        if "text/html" in response.headers.get("content-type", ""):
            self.check_page(page, label, kind=f"{name} {response.status}")


def _context(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US", bypass_csp=True)
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(AXE))
    return context


def test_every_page_fits_a_phone_and_passes_axe(browser, live_server, page_world):
    """Items 17 and 18: every GET route in ROUTE_POLICY, for every role that may reach it."""
    world = page_world
    kwarg_names = _route_kwargs()
    urls = {name: build_url(name, world, kwarg_names[name]) for name, p in ROUTE_POLICY.items() if "GET" in p.methods}
    findings = Findings()

    # Anonymous: the public pages (notice, consultation form, consent pages, sign-in) and a 404.
    context = _context(browser, live_server)
    try:
        page = context.new_page()
        for name in routes_for(Audience.PUBLIC):
            findings.visit(page, name, urls[name], "anonymous")
        response = page.goto("/no-such-page/")
        assert response.status == 404
        findings.check_page(page, "anonymous error page /no-such-page/")
    finally:
        context.close()

    # Signing in: the enrolment page (a member without an authenticator yet).
    context = _context(browser, live_server)
    try:
        page = context.new_page()
        page.goto(reverse("accounts:login"))
        page.get_by_label("Email").fill(world.clinic.newcomer.email)
        page.get_by_label("Password").fill(world.clinic.password)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/enrol/**")
        findings.answered.setdefault("accounts:mfa-enrol", set()).add(200)
        findings.check_page(page, "newcomer accounts:mfa-enrol")
    finally:
        context.close()

    # Each role: sign in (checking the code page on the way), then every page it may reach.
    for role in Role:
        user = world.clinic.users[role]
        context = _context(browser, live_server)
        try:
            page = context.new_page()
            page.goto(reverse("accounts:login"))
            page.get_by_label("Email").fill(user.email)
            page.get_by_label("Password").fill(world.clinic.password)
            page.get_by_role("button", name="Continue").click()
            page.wait_for_url("**/signin/verify/**")
            findings.answered.setdefault("accounts:mfa-verify", set()).add(200)
            findings.check_page(page, f"{role.label} accounts:mfa-verify", kind="accounts:mfa-verify")
            page.context.clear_cookies()
            browser_sign_in(page, user)
            page.wait_for_url(re.compile(r".*/(dashboard/|select-practice/)?$"))
            for name in routes_for(Audience.ACCOUNT) + routes_for(Audience.STAFF, role):
                findings.visit(page, name, urls[name], role.label)
        finally:
            context.close()

    # The patient portal: its sign-in pages on the way in, then every portal page for the patient.
    context = _context(browser, live_server)
    try:
        page = context.new_page()
        portal_sign_in_page(page, world.clinic.portal_users["newpatient"], world.clinic.password)
        page.wait_for_url("**/portal/security/authenticator/**")
        findings.answered.setdefault("portal:mfa-enrol", set()).add(200)
        findings.check_page(page, "new patient portal:mfa-enrol")
    finally:
        context.close()
    context = _context(browser, live_server)
    try:
        page = context.new_page()
        patient = world.clinic.portal_users["patient"]
        portal_sign_in_page(page, patient, world.clinic.password)
        page.wait_for_url("**/portal/signin/verify/**")
        findings.answered.setdefault("portal:mfa-verify", set()).add(200)
        findings.check_page(page, "patient portal:mfa-verify")
        page.get_by_label("Code").fill(patient.device.current_code())
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url("**/portal/")
        for name in routes_for(Audience.PORTAL):
            findings.visit(page, name, urls[name], "patient")
    finally:
        context.close()

    never_shown = sorted(
        name for name, p in ROUTE_POLICY.items()
        if "GET" in p.methods and name not in ONLY_ELSEWHERE and 200 not in findings.answered.get(name, set())
    )  # fmt: skip
    assert never_shown == [], f"routes no role could load (fix the world or the builders): { {n: findings.answered.get(n) for n in never_shown} }"
    assert findings.problems == [], f"{len(findings.problems)} problems on {findings.pages} pages:\n" + "\n".join(findings.problems)


def portal_sign_in_page(page, user, password: str) -> None:
    page.goto(reverse("portal:signin"))
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_the_first_run_page_fits_a_phone_and_passes_axe(browser, live_server, transactional_db):
    """site:setup answers only while the database holds no practice, which the shared world is not."""
    findings = Findings()
    context = _context(browser, live_server)
    try:
        page = context.new_page()
        findings.visit(page, "site:setup", reverse("site:setup"), "anonymous")
    finally:
        context.close()
    assert findings.answered == {"site:setup": {200}}
    assert findings.problems == [], "\n".join(findings.problems)
