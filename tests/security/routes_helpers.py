"""Walk the URLconf, fill URL kwargs from the test world, and detect writes.

`all_routes()` is what the route-policy and access-matrix tests iterate over, so a new URL is
covered (or fails for want of a policy row / a KWARG_SOURCES entry) without anyone adding it
to a list by hand.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, SlugConverter, UUIDConverter

from confide.audit.events import AuditEvent
from confide.core.permissions import Role
from confide.core.routes import ROUTE_POLICY, Audience
from confide.core.tenancy import tenant_context
from tests.records.chart_world import chart_world

# Path converter name -> the value of that kwarg for an object of the given practice world,
# as seen by `role` trying route `name` (a note is tried by its own author where the role writes
# notes: the rule "only the author edits a draft" is the notes tests', not the matrix's).
# Pick objects that make a harmless target: the front desk is never the acting user in the
# tests below that are allowed to act (only the owner holds the staff permissions).
def _photo_of(submission):
    from confide.core.tenancy import tenant_context
    from confide.records.models import IntakePhoto

    with tenant_context(practice_id=submission.practice_id):
        return IntakePhoto.objects.get(submission=submission).pk


def _consultation(pw):
    """An online consultation (with a photo) waiting in the practice's queue, made once per world."""
    made = getattr(pw, "_consultation", None)
    if made is None:
        from tests.records.consultations import submit

        made = pw._consultation = submit(pw.practice, photo=True)
    return made


def _copy_request(pw):
    """Part "export": a portal `copy` request of the chart's patient (its copy queued), made once per world."""
    made = getattr(pw, "_copy_request", None)
    if made is None:
        from confide.core.tenancy import tenant_context
        from confide.rights.services import check_open_request
        from tests.portal_world import actor_for, link, make_portal_user

        patient = chart_world(pw).patient
        own = link(make_portal_user(f"copy@{pw.practice.slug}.matrix.test"), patient)
        with tenant_context(practice_id=pw.practice.id):
            made = pw._copy_request = check_open_request(actor=actor_for(own), kind="copy")
    return made


def _copy_export_id(pw):
    from confide.core.tenancy import tenant_context
    from confide.rights.models import Export

    with tenant_context(practice_id=pw.practice.id):
        return Export.objects.get(request_id=_copy_request(pw).pk).pk


def _booking_request(pw):
    from tests.directory.booking_world import pending_request

    return pending_request(pw)


def _break_glass_opening(pw):
    """A break-the-glass opening of the world's chart patient (its BreakGlassReason id), made once per world."""
    made = getattr(pw, "_break_glass_opening", None)
    if made is None:
        from confide.access import policy
        from confide.access.door import open_chart
        from confide.access.models import BreakGlassReason
        from confide.core.actors import StaffActor
        from confide.core.purposes import Purpose
        from confide.core.tenancy import tenant_context

        patient = chart_world(pw).patient
        clinician = StaffActor.from_membership(pw.memberships[Role.CLINICIAN])
        with open_chart(clinician, patient.id, Purpose.OPERATIONS, categories={policy.BACKGROUND}, break_glass_reason="Route matrix emergency"):
            pass
        with tenant_context(practice_id=pw.practice.id):
            made = pw._break_glass_opening = BreakGlassReason.objects.latest("created_at").pk
    return made


def _first_policy_version_id(practice_world) -> uuid.UUID:
    from confide.core.tenancy import tenant_context
    from confide.policy.models import PolicyVersion

    with tenant_context(practice_id=practice_world.practice.id):
        return PolicyVersion.objects.get(number=1).id


def _invitation(pw):
    """A pending invitation of the practice (to a front-desk role), made once per world."""
    made = getattr(pw, "_invitation", None)
    if made is None:
        from confide.accounts.invitations import issue_invitation

        made = pw._invitation = issue_invitation(practice=pw.practice, email=f"invited@{pw.practice.slug}.example.test", role=Role.FRONT_DESK, invited_by=pw.owner)
    return made


def _unmatched_text(pw, name):
    """A text from an unknown number waiting in the practice's queue (messaging inbound): a new
    one for each use, as filing or dismissing resolves it."""
    import datetime

    from confide.core.tenancy import tenant_context
    from confide.messaging.models import UnmatchedInbound
    from confide.vault.allowance import allow

    with tenant_context(practice_id=pw.practice.id):
        row = UnmatchedInbound(practice_id=pw.practice.id, from_blind="0" * 32, received_at=datetime.datetime.now(datetime.UTC))
        with allow({"contact.phone", "communications.messages"}, subjects={row.pk}):
            row.from_number, row.body = "+12125550187", "Route matrix text"
            row.save()
    return row.pk


# Issue 15, the inbox: a conversation of the chart's patient (with an inbound text and a file),
# and a message template of the practice, made once per world.
def _inbox_thread(pw):
    made = getattr(pw, "_inbox_message", None)
    if made is None:
        from confide.core.tenancy import tenant_context
        from confide.messaging.attachments import check_attachment
        from confide.messaging.services import receive_message
        from tests.records.uploads import pdf_upload

        patient = chart_world(pw).patient
        with tenant_context(practice_id=pw.practice.id):
            made = pw._inbox_message = receive_message(practice_id=pw.practice.id, patient_id=patient.id, channel="portal",
                                                       body="Route matrix question", attachments=(check_attachment(pdf_upload()),))  # fmt: skip
    return made


def _inbox_attachment(pw):
    from confide.core.tenancy import tenant_context
    from confide.messaging.models import Attachment

    message = _inbox_thread(pw)
    with tenant_context(practice_id=pw.practice.id):
        return Attachment.objects.get(message=message).pk


def _inbox_template(pw):
    made = getattr(pw, "_inbox_template", None)
    if made is None:
        from confide.core.tenancy import tenant_context
        from confide.messaging.models import MessageTemplate

        with tenant_context(practice_id=pw.practice.id):
            made = pw._inbox_template = MessageTemplate.objects.create(practice_id=pw.practice.id, name="Matrix", body="Your forms are ready.")
    return made.pk


def _campaign(pw):
    """A draft e-mail campaign of the practice (messaging, e-mail part), made once per world."""
    made = getattr(pw, "_campaign", None)
    if made is None:
        from confide.core.actors import StaffActor
        from confide.core.tenancy import tenant_context
        from confide.messaging.campaigns import create_campaign

        with tenant_context(practice_id=pw.practice.id):
            made = pw._campaign = create_campaign(StaffActor.from_membership(pw.memberships[Role.OWNER]), name="Route matrix news",
                                                  channel="email", body="Our new opening hours.")  # fmt: skip
    return made


def _unsubscribe_token(pw) -> str:
    """A validly signed one-click unsubscribe token of the practice (the route is public); made
    without touching the database (the public-page checks assert no writes around it)."""
    from django.core import signing

    from confide.messaging.unsubscribe import SALT

    return signing.dumps({"p": str(pw.practice.id), "s": str(uuid.UUID(int=7)), "c": "email", "b": "0" * 32}, salt=SALT, compress=True)


def _feed_token(pw):
    """The clinician's private calendar feed token (scheduling, feed part), made once per world.
    The row is written directly (no audit entry): the lookup runs inside the matrices' no-writes checks."""
    made = getattr(pw, "_feed_token", None)
    if made is None:
        from confide.core.tenancy import tenant_context
        from confide.scheduling.feed import _new_token
        from confide.scheduling.models import CalendarFeed

        made, hashed = _new_token(pw.practice.id)
        with tenant_context(practice_id=pw.practice.id):
            CalendarFeed.objects.create(practice=pw.practice, clinician=pw.memberships[Role.CLINICIAN], token_hash=hashed)
        pw._feed_token = made
    return made


def _directory_site(pw):
    """Directory part: a published website (with a logo) and the clinician's published profile
    (with a photo), made once per world; the public pages answer 404 without them."""
    made = getattr(pw, "_directory_profile", None)
    if made is None:
        import io

        from PIL import Image

        from confide.core.tenancy import tenant_context
        from confide.directory.models import Profile, Website

        buffer = io.BytesIO()
        Image.new("RGB", (2, 2), "#1f5f8b").save(buffer, format="PNG")
        png = buffer.getvalue()
        with tenant_context(practice_id=pw.practice.id):
            Website.objects.update_or_create(practice_id=pw.practice.id, defaults={"published": True, "logo": png, "logo_type": "image/png"})
            made = Profile.objects.create(practice_id=pw.practice.id, membership_id=pw.memberships[Role.CLINICIAN].id,
                                          display_name="Route Matrix Clinician", published=True, photo=png, photo_type="image/png")  # fmt: skip
        pw._directory_profile = made
    return made


def _appointment(pw):
    """An upcoming appointment of the practice that can still be moved, cancelled or marked (made
    when there is none), for the calendar's routes."""
    import datetime

    from confide.core.tenancy import tenant_context
    from confide.scheduling.models import Appointment, AppointmentType

    with tenant_context(practice_id=pw.practice.id):
        existing = Appointment.objects.filter(status__in=("booked", "confirmed")).order_by("starts_at").first()
        if existing:
            return existing.pk
        made = AppointmentType.objects.exists()
        taken = Appointment.objects.count()
    from tests.scheduling.world import book_at, scheduling_world

    if not made:
        sw = scheduling_world(pw)
    else:  # the world exists: book its patient again, a day later than the last one
        from confide.core.actors import StaffActor
        from confide.scheduling.services import book
        from tests.scheduling.world import at

        with tenant_context(practice_id=pw.practice.id):
            last = Appointment.objects.order_by("-starts_at").first()
        return book(StaffActor.from_membership(pw.memberships[Role.FRONT_DESK]), patient_id=last.patient_id,
                    clinician_id=last.clinician_id, appointment_type_id=last.appointment_type_id,
                    starts_at=at("2027-03-09 10:00") + datetime.timedelta(days=taken)).pk  # fmt: skip
    return book_at(sw, "2027-03-09 10:00").pk


def _waitlist_entry(pw):
    """An open waitlist entry of the practice, for the calendar's waitlist routes."""
    from confide.core.tenancy import tenant_context
    from confide.scheduling.models import WaitlistEntry

    _appointment(pw)  # the scheduling world (patient, types) exists
    with tenant_context(practice_id=pw.practice.id):
        existing = WaitlistEntry.objects.filter(is_open=True).first()
        if existing:
            return existing.pk
        patient_id = WaitlistEntry._meta.get_field("patient").related_model.objects.filter(is_active=True).values_list("pk", flat=True).first()
        return WaitlistEntry.objects.create(practice=pw.practice, patient_id=patient_id).pk


def _accounting_request(pw):
    """disc part: an accounting request about the chart's patient (the prepare route's target)."""
    from django.utils import timezone

    from confide.core.tenancy import tenant_context
    from confide.rights.models import RightsRequest

    with tenant_context(practice_id=pw.practice.id):
        made = RightsRequest.objects.create(
            practice_id=pw.practice.id, patient_id=chart_world(pw).patient.id, kind="accounting", status="received",
            received_at=timezone.now(), due_on=timezone.localdate(),
        )
    return made.pk


# --- queue part (issue 17): a rights request of the chart patient, with a letter kept
def _rights_request(pw, decided: bool = False):
    """A rights request (see) about the chart world's patient, open (or decided, for the appeal
    route), made once per world."""
    import datetime

    from django.utils import timezone

    from confide.core.tenancy import tenant_context
    from confide.rights.models import RightsRequest

    status = "done" if decided else "received"
    with tenant_context(practice_id=pw.practice.id):
        existing = RightsRequest.objects.filter(patient__isnull=False, kind="see", status=status).order_by("received_at").first()
        if existing:
            return existing
        now = timezone.now()
        return RightsRequest.objects.create(
            practice=pw.practice, patient_id=chart_world(pw).patient.id, kind="see", channel="phone", verification="staff",
            received_at=now, due_on=timezone.localdate(now) + datetime.timedelta(days=30), logged_by=pw.owner, status=status,
            decided_at=now if decided else None, decided_by=pw.users[Role.PRIVACY_OFFICER] if decided else None,
        )  # fmt: skip


def _rights_letter(pw):
    from confide.core.tenancy import tenant_context
    from confide.rights.letters import keep_letter
    from confide.rights.models import Letter

    row = _rights_request(pw)
    with tenant_context(practice_id=pw.practice.id):
        existing = Letter.objects.filter(request=row).first()
    if existing:
        return existing.pk
    return keep_letter(practice_id=pw.practice.id, request_row=row, kind="acknowledgement", template="rights/letters/acknowledgement.txt",
                       context={}).pk  # fmt: skip


# amend part ------------------------------------------------------------------------------------
def _correct_request(pw, name: str = ""):
    """The request a route of the amend part acts on: not started yet (start), with a denied
    amendment and the patient's statement of disagreement (rebuttal), else started."""
    if name == "rights:amendment-start":
        return _unstarted(pw)
    if name == "rights:amendment-rebuttal":
        return _disagreed(pw).request_id
    return _amendment(pw).request_id


def _unstarted(pw):
    made = getattr(pw, "_unstarted_request", None)
    if made is None:
        import datetime

        from django.utils import timezone

        from confide.core.tenancy import tenant_context
        from confide.rights.models import RightsRequest

        patient = chart_world(pw).patient
        with tenant_context(practice_id=pw.practice.id):
            now = timezone.now()
            made = pw._unstarted_request = RightsRequest.objects.create(
                practice_id=pw.practice.id, patient_id=patient.pk, kind="correct", received_at=now,
                due_on=timezone.localdate(now) + datetime.timedelta(days=60), verification="staff",
            ).pk  # fmt: skip
    return made


def _disagreed(pw):
    """A denied amendment with the patient's statement of disagreement (another patient's)."""
    made = getattr(pw, "_disagreed", None)
    if made is None:
        from confide.core.actors import StaffActor
        from confide.core.tenancy import tenant_context
        from confide.rights import amendments
        from confide.rights.services import check_open_request
        from tests.portal_world import actor_for, create_patient, link, make_portal_user
        from tests.rights.amend_helpers import officer_with_phone

        officer_with_phone(pw)
        patient = create_patient(pw, given_name="Dee", family_name="Sagree", email="")
        own = actor_for(link(make_portal_user(f"dee@{pw.practice.slug}.matrix.test"), patient))
        clinician = StaffActor.from_membership(pw.memberships[Role.CLINICIAN])
        req = check_open_request(actor=own, kind="correct", detail="Please fix it.")
        with tenant_context(practice_id=pw.practice.id):
            made = amendments.start_amendment(actor=clinician, request_id=req.pk, target="field:health_background", expected_version=1)
            amendments.deny_amendment(actor=clinician, request_id=req.pk, expected_version=2, basis="accurate_complete")
        amendments.file_disagreement(actor=own, amendment_id=made.pk, text="I disagree.")
        pw._disagreed = made
    return made


def _amendment(pw):
    """A `correct` request about the chart's patient, its amendment started (made once per world)."""
    made = getattr(pw, "_amendment", None)
    if made is None:
        import datetime

        from django.utils import timezone

        from confide.core.actors import StaffActor
        from confide.core.tenancy import tenant_context
        from confide.rights.amendments import start_amendment
        from confide.rights.models import RightsRequest

        patient = chart_world(pw).patient
        with tenant_context(practice_id=pw.practice.id):
            now = timezone.now()
            req = RightsRequest.objects.create(practice_id=pw.practice.id, patient_id=patient.pk, kind="correct", received_at=now,
                                               due_on=timezone.localdate(now) + datetime.timedelta(days=60), verification="staff")  # fmt: skip
            made = pw._amendment = start_amendment(actor=StaffActor.from_membership(pw.memberships[Role.CLINICIAN]), request_id=req.pk,
                                                   target="field:health_background", asked="Please fix the history", expected_version=1)  # fmt: skip
    return made


def _release(pw):
    """A records release link of the chart's patient: (link, token), made once per world."""
    made = getattr(pw, "_release", None)
    if made is None:
        from confide.core.actors import StaffActor
        from confide.core.tenancy import tenant_context
        from confide.rights.release import create_release

        with tenant_context(practice_id=pw.practice.id):
            made = pw._release = create_release(actor=StaffActor.from_membership(pw.memberships[Role.CLINICIAN]),
                                                patient_id=chart_world(pw).patient.id, recipient="Dr Example", basis="other_provider",
                                                categories=["health.medications"])  # fmt: skip
    return made


# end amend part


KWARG_SOURCES: dict[str, Callable[[object, str, Role], object]] = {
    # issue 17: a rights request of the practice: a verified deletion request for the deletion
    # routes (part retention), an accounting request for its prepare route (disc part), a correct
    # request for the amendment routes (amend part), a verified portal copy request for the copy's
    # routes (part "export"), else an open request to see the record
    # (decided, for the appeal route) with a letter (queue part).
    "request_id": lambda pw, name, role: (
        _deletion_request(pw).pk if name.startswith("rights:deletion")
        else _accounting_request(pw) if name == "rights:accounting-prepare"
        else _correct_request(pw, name) if name.startswith("rights:amendment")
        else _copy_request(pw).pk if name.startswith("rights:export")
        else _rights_request(pw, decided=name == "rights:request-appeal").pk
    ),
    "letter_id": lambda pw, name, role: _rights_letter(pw),
    # Scheduling, feed part: a clinician's private feed token.
    "feed_token": lambda pw, name, role: _feed_token(pw),
    # calendar part (issue 16): an upcoming appointment of the practice's clinician.
    "appointment_id": lambda pw, name, role: _appointment(pw),
    "entry_id": lambda pw, name, role: _waitlist_entry(pw),
    # messaging, inbound: a text from an unknown number in the practice's queue.
    "unmatched_id": lambda pw, name, role: _unmatched_text(pw, name),
    "thread_id": lambda pw, name, role: _inbox_thread(pw).thread_id,
    "attachment_id": lambda pw, name, role: _inbox_attachment(pw),
    "template_id": lambda pw, name, role: _inbox_template(pw),
    # Messaging, e-mail part (issue 15): a draft campaign; an unsubscribe link's token.
    "campaign_id": lambda pw, name, role: _campaign(pw).pk,
    "token": lambda pw, name, role: _unsubscribe_token(pw),
    # A portal record export: any id (the route is tried as a portal account; another's is a 404).
    "export_id": lambda pw, name, role: _copy_export_id(pw) if name.startswith("rights:") else uuid.UUID(int=0),
    # part "export": the staff routes' queued copy (the portal's export routes take any id:
    # another account's is a 404); its request is the `request_id` above for rights:export-*.
    "membership_id": lambda pw, name, role: pw.memberships[Role.FRONT_DESK].id,
    "invitation_id": lambda pw, name, role: _invitation(pw).pk,
    "submission_id": lambda pw, name, role: _consultation(pw).pk,
    # issue 16, part "booking": a pending website booking request of the practice.
    "booking_request_id": lambda pw, name, role: _booking_request(pw).pk,
    "opening_id": lambda pw, name, role: _break_glass_opening(pw),
    "version_id": lambda pw, name, role: _first_policy_version_id(pw),
    # The directory's public pages need a published website (and profile) to answer.
    "practice_slug": lambda pw, name, role: (_directory_site(pw), pw.practice.slug)[1] if name.startswith("directory:") else pw.practice.slug,
    "number": lambda pw, name, role: 1,  # version 1 of the practice's privacy notice exists from its creation
    # The chart (tests/records/chart_world.py): one patient with a full record, made on first use.
    "patient_id": lambda pw, name, role: chart_world(pw).patient.id,
    # Edit and sign need a draft; an addendum needs a signed note.
    "note_id": lambda pw, name, role: chart_world(pw).note(role, signed=name.endswith("addendum")).pk,
    "psychotherapy_note_id": lambda pw, name, role: chart_world(pw).psychotherapy_note(role, signed=name.endswith("addendum")).pk,
    "document_id": lambda pw, name, role: chart_world(pw).file("authorization" if name == "records:authorization-download" else "document").pk,
    # A parent's portal link to the chart's patient (the authorization document kept with it).
    "link_id": lambda pw, name, role: chart_world(pw).representative_link().pk,
    # A chart's photo, or a consultation's (intake:photo).
    # Directory part: a published profile of the practice's clinician.
    "profile_id": lambda pw, name, role: _directory_site(pw).pk,
    "photo_id": lambda pw, name, role: _photo_of(_consultation(pw)) if name.startswith("intake:") else chart_world(pw).file("photo").pk,
    # --- part retention: a verified deletion request about the chart's patient; a legal hold on it.
    "hold_id": lambda pw, name, role: _legal_hold(pw).pk,
    # --- end part retention
    # part "intake" (issue 17): a pending identity check of a request on the public form.
    "check_token": lambda pw, name, role: _identity_check_token(pw),
    # amend part: a correct request with its amendment started on the chart's patient; a records
    # release link of that patient (its id; its token, the public page's key).
    "amendment_id": lambda pw, name, role: _amendment(pw).pk,
    "release_id": lambda pw, name, role: _release(pw)[0].pk,
    "release_token": lambda pw, name, role: _release(pw)[1],
}


# --- part retention
def _deletion_request(pw):
    from tests.retention.conftest import delete_request

    return delete_request(chart_world(pw).patient)


def _legal_hold(pw):
    from django.utils import timezone

    from confide.retention.models import LegalHold

    patient = chart_world(pw).patient
    with tenant_context(practice_id=pw.practice.id):
        LegalHold.objects.filter(patient_id=patient.pk, released_at__isnull=True).update(released_at=timezone.now())
        return LegalHold.objects.create(practice_id=pw.practice.id, patient_id=patient.pk, reason="litigation", set_by=pw.owner, set_at=timezone.now())
# --- end part retention


def _identity_check_token(pw) -> str:
    """part "intake": a pending identity check (no identifiers typed) of a request in the practice."""
    import datetime
    import secrets

    from django.utils import timezone

    from confide.core.tenancy import tenant_context
    from confide.rights.models import IdentityCheck, RightsRequest

    with tenant_context(practice_id=pw.practice.id):
        made = RightsRequest.objects.create(practice_id=pw.practice.id, kind="see", status="verifying", channel="web_form",
                                            received_at=timezone.now(), due_on=timezone.localdate() + datetime.timedelta(days=30))
        token = secrets.token_urlsafe(32)
        IdentityCheck.objects.create(practice_id=pw.practice.id, request=made, token=token,
                                     expires_at=timezone.now() + datetime.timedelta(minutes=15))
    return token


def _walk(resolver: URLResolver, namespace: str | None, params: tuple[tuple[str, object], ...]) -> Iterator[tuple[str, URLPattern, dict]]:
    for entry in resolver.url_patterns:
        converters = dict(params)
        converters.update(getattr(entry.pattern, "converters", {}))
        for group in entry.pattern.regex.groupindex:
            converters.setdefault(group, None)
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, inner, tuple(converters.items()))
        elif isinstance(entry, URLPattern):
            if entry.name is None:
                # Unnamed routes cannot have a policy row: report them under a recognisable key.
                name = f"<unnamed {entry.pattern}>"
            else:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, entry, converters


def _routes(urlconf: str | None = None) -> list[tuple[str, URLPattern, dict]]:
    return list(_walk(get_resolver(urlconf), None, ()))


def all_routes(urlconf: str | None = None) -> Iterator[tuple[str, URLPattern]]:
    """(url_name, URLPattern) for every route, namespaces joined ("accounts:staff-list")."""
    for name, pattern, _converters in _routes(urlconf):
        yield name, pattern


def kwarg_converters(name: str) -> dict:
    """{kwarg name: converter instance (or None for regex groups)} for the named route."""
    for route_name, _pattern, converters in _routes():
        if route_name == name:
            return converters
    raise LookupError(f"no route named {name!r}")


def kwargs_for(name: str, practice_world, role: Role = Role.OWNER) -> dict:
    """URL kwargs for `name` that point at objects of `practice_world` (as `role` would use them)."""
    kwargs = {}
    for kwarg in kwarg_converters(name):
        if kwarg not in KWARG_SOURCES:
            pytest.fail(f"route {name!r} takes <{kwarg}>: add it to KWARG_SOURCES in tests/security/routes_helpers.py")
        kwargs[kwarg] = KWARG_SOURCES[kwarg](practice_world, name, role)
    return kwargs


def _random_value(kwarg: str, converter) -> object:
    if kwarg == "token":  # a well-signed unsubscribe token of a practice that does not exist
        from django.core import signing

        from confide.messaging.unsubscribe import SALT

        return signing.dumps({"p": str(uuid.uuid4()), "s": str(uuid.uuid4()), "c": "email", "b": "0" * 32}, salt=SALT, compress=True)
    if kwarg == "check_token":  # part "intake": a well-formed identity check token that names nothing
        import secrets

        return secrets.token_urlsafe(32)
    if kwarg == "feed_token":  # a well-formed feed token of a practice that does not exist
        return f"{uuid.uuid4().hex}.{'A' * 43}"
    if kwarg == "release_token":  # amend part: a well-formed release token of a practice that does not exist
        return f"{uuid.uuid4().hex}.{'A' * 43}"
    if isinstance(converter, UUIDConverter):
        return uuid.uuid4()
    if isinstance(converter, IntConverter):
        return random.randint(10**8, 10**9)
    if isinstance(converter, SlugConverter):
        return f"no-such-practice-{uuid.uuid4().hex[:12]}"
    pytest.fail(f"<{kwarg}> uses converter {converter!r}: teach random_kwargs_for how to make a missing id")


def random_kwargs_for(name: str) -> dict:
    """URL kwargs for `name` that point at nothing (random ids)."""
    kwargs = {}
    for kwarg, converter in kwarg_converters(name).items():
        if kwarg not in KWARG_SOURCES:
            pytest.fail(f"route {name!r} takes <{kwarg}>: add it to KWARG_SOURCES in tests/security/routes_helpers.py")
        kwargs[kwarg] = _random_value(kwarg, converter)
    return kwargs


def url_for(name: str, practice_world, role: Role = Role.OWNER) -> str:
    return reverse(name, kwargs=kwargs_for(name, practice_world, role))


# --- Selections of the policy table, for parametrize ------------------------------------------
def route_names(*, audiences: set[Audience] | None = None, tenant_scoped: bool | None = None, recent_auth: bool | None = None) -> list[str]:
    names = []
    for name, policy in sorted(ROUTE_POLICY.items()):
        if audiences is not None and policy.audience not in audiences:
            continue
        if tenant_scoped is not None and policy.tenant_scoped != tenant_scoped:
            continue
        if recent_auth is not None and policy.recent_auth != recent_auth:
            continue
        names.append(name)
    return names


NON_PUBLIC = {Audience.SIGNING_IN, Audience.ACCOUNT, Audience.STAFF}


def route_methods(names: list[str]) -> list[tuple[str, str]]:
    return [(name, method) for name in names for method in sorted(ROUTE_POLICY[name].methods)]


# --- Writes -------------------------------------------------------------------------------
# Reads are audited as well: a GET that shows a patient list or opens a chart appends these,
# and so does a refused reading (the door's access:denied); that is not a change the tests
# below look for. Every other entry (a sign-in, a role change, a failed re-authentication, ...) is.
READ_EVENTS = frozenset({
    AuditEvent.PATIENTS_LISTED.value, AuditEvent.CHART_OPENED.value, AuditEvent.INTAKE_OPENED.value, AuditEvent.ACCESS_DENIED.value,
    AuditEvent.INTAKE_LISTED.value, AuditEvent.RIGHTS_QUEUE_VIEWED.value, AuditEvent.ACCESS_REPORT_VIEWED.value,
    AuditEvent.UNMATCHED_VIEWED.value,
    AuditEvent.MESSAGE_READ.value,  # opening a conversation marks its unread messages read (issue 15)
    AuditEvent.BOOKING_REQUEST_LISTED.value, AuditEvent.BOOKING_REQUEST_OPENED.value,  # issue 16, part "booking"
    AuditEvent.RETENTION_VIEWED.value, AuditEvent.DELETION_PLAN_VIEWED.value,  # part retention
    AuditEvent.RIGHTS_REQUEST_VIEWED.value,  # queue part (issue 17): the request page
})  # fmt: skip

def snapshot() -> dict[str, list]:
    """Every row (all columns) of the tables a security test must not see change.

    Memberships and the chart's tables are tenant-owned: read them practice by practice, inside
    each practice's context, so the snapshot is complete under PostgreSQL row-level security
    too. Encrypted columns are compared as stored (ciphertext): nothing is decrypted."""
    from confide.accounts.models import Invitation, Membership, PortalLink, RecoveryCode, RecoveryCodeDevice, TOTPDevice, User
    from confide.audit.models import AuditEntry
    from confide.core.models import Practice
    from confide.core.tenancy import tenant_context

    def rows(queryset) -> list:
        return sorted((tuple(sorted(row.items())) for row in queryset.values()), key=repr)

    from confide.records.models import Addendum, Document, Patient, Photo, ProgressNote, PsychotherapyAddendum, PsychotherapyNote

    practices = rows(Practice.objects.all())
    tenant_models = {"Membership": Membership, "Invitation": Invitation, "Patient": Patient, "ProgressNote": ProgressNote, "Addendum": Addendum,
                     "PsychotherapyNote": PsychotherapyNote, "PsychotherapyAddendum": PsychotherapyAddendum,
                     "Document": Document, "Photo": Photo, "PortalLink": PortalLink}  # fmt: skip
    tenant_rows: dict[str, list] = {name: [] for name in tenant_models}
    for practice_id in Practice.objects.values_list("id", flat=True):
        with tenant_context(practice_id=practice_id):
            for name, model in tenant_models.items():
                tenant_rows[name] += rows(model.objects.all())
    return {
        "Practice": practices,
        **{name: sorted(found, key=repr) for name, found in tenant_rows.items()},
        "AuditEntry": rows(AuditEntry.objects.exclude(event__in=READ_EVENTS)),
        "TOTPDevice": rows(TOTPDevice.objects.all()),
        "RecoveryCodeDevice": rows(RecoveryCodeDevice.objects.all()),
        "RecoveryCode": rows(RecoveryCode.objects.all()),
        "User": rows(User.objects.all()),
    }


@contextmanager
def assert_no_writes() -> Iterator[None]:
    """Fail if any row of Practice/Membership/the chart/AuditEntry/TOTPDevice/RecoveryCode*/User was
    added, removed or changed inside the block (row counts alone miss an in-place role change)."""
    before = snapshot()
    yield
    after = snapshot()
    changed = {table: (len(before[table]), len(after[table])) for table in before if before[table] != after[table]}
    assert not changed, f"rows changed (table: (before, after) counts): {changed}"


# --- Response bodies ----------------------------------------------------------------------
_VOLATILE = [
    (re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"'), b'name="csrfmiddlewaretoken" value="CSRF"'),
    (re.compile(rb"\b[0-9a-f]{32}\b"), b"REQUEST-ID"),  # request ids (uuid4().hex)
]


def normalise(body: bytes) -> bytes:
    for pattern, replacement in _VOLATILE:
        body = pattern.sub(replacement, body)
    return body
