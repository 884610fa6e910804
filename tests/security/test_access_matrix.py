"""Who can reach what: anonymous visitors, another practice, each role, stale re-auth, CSRF.

Driven by ROUTE_POLICY and the URLconf walker, so a new route is exercised here automatically."""

from __future__ import annotations

import datetime
import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from confide.accounts.models import Membership, TOTPDevice
from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.middleware import SESSION_AUTH_FRESH_AT, SESSION_PRACTICE
from confide.core.permissions import ROLE_PERMISSIONS, Perm, Role, role_has
from confide.core.routes import ROUTE_POLICY, Audience
from confide.core.tenancy import tenant_context
from tests.conftest import CANARIES, sign_in
from tests.factories import MembershipFactory
from tests.records.chart_world import NOTE_CONTENT, chart_world
from tests.records.uploads import pdf_upload
from tests.security.routes_helpers import _rights_request  # queue part (issue 17)
from tests.security.routes_helpers import (
    NON_PUBLIC,
    assert_no_writes,
    kwargs_for,
    normalise,
    random_kwargs_for,
    route_methods,
    route_names,
    snapshot,
    url_for,
)

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _assert_no_canary(response) -> None:
    body = response.content.decode(errors="replace")
    leaked = [key for key, value in CANARIES.items() if value in body]
    assert not leaked, f"canary values {leaked} in the response body"


def payload_for(name: str, method: str, practice_world, role: Role = Role.OWNER) -> dict:
    """A valid body that, where possible, changes nothing (the matrix tests access, not effects).
    Where nothing harmless exists (adding, signing, uploading), a valid one: those routes are
    EFFECTFUL below."""
    if method != "POST":
        return {}
    if name == "accounts:staff-change-role":
        with tenant_context(practice_id=practice_world.practice.id):
            target = Membership.objects.get(id=kwargs_for(name, practice_world)["membership_id"])
        return {"role": target.role}
    if name == "accounts:staff-invite":
        return {"email": f"matrix-{role.value}@{practice_world.practice.slug}.example.test", "role": Role.FRONT_DESK.value}
    if name == "accounts:practice-settings":
        practice = practice_world.practice
        return {"name": practice.name, "mfa_required": "on" if practice.mfa_required else "", "idle_timeout_minutes": str(practice.idle_timeout_minutes)}
    if name == "intake:form":
        from confide.records.intake import current_form, form_definition_toml

        with tenant_context(practice_id=practice_world.practice.id):
            text = form_definition_toml(current_form(practice_world.practice.id))
        return {"definition": text.replace("How long has this been going on?", "Since when?")}  # a new version: effectful
    # Scheduling, feed part: turning off a feed the user does not have changes nothing; an
    # import of a calendar without events is effectful (it replaces the earlier import: none).
    if name == "scheduling:feed":
        return {"action": "revoke"}
    if name == "scheduling:feed-import":
        from django.core.files.uploadedfile import SimpleUploadedFile

        return {"calendar_file": SimpleUploadedFile("empty.ics", b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//m//EN\r\nEND:VCALENDAR\r\n", "text/calendar")}
    if name == "policy:settings":  # a Preview of the override in force: it writes nothing
        return {"override_toml": "", "effective_at": "", "summary": "", "action": "preview"}
    if name == "rights:export-authorize":  # part "export": the request's current version (a stale one is 409)
        from confide.rights.models import RightsRequest

        with tenant_context(practice_id=practice_world.practice.id):
            row = RightsRequest.objects.get(pk=kwargs_for(name, practice_world)["request_id"])
        return {"version": row.version, "authorized": "0"}
    if name == "policy:publish":  # there is no publication that changes nothing: see EFFECTFUL
        effective = (timezone.now() + datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
        return {"override_toml": '[contacts.privacy_officer]\nname = "Matrix Check"\n', "effective_at": effective, "summary": "Named the privacy officer."}
    chart = chart_world(practice_world)
    # The record's own values with a reason: "nothing changed" (200), nothing written.
    editable = {"records:patient-edit": "registration", "records:patient-edit-health": "health", "records:patient-edit-insurance": "insurance"}
    if name in editable:
        writer = role if role in _WRITERS[editable[name]] else Role.OWNER
        return chart.edit_form_data(editable[name], writer)
    if name == "records:note-edit":
        return {"template": "soap", **NOTE_CONTENT}  # the draft's own content: "nothing changed"
    bodies = {
        "records:patient-new": lambda: {"given_name": "Route", "family_name": "Matrix"},
        "records:medication-add": lambda: {"medication-name": "Route matrix", "medication-kind": "otc", "medication-status": "active"},
        "records:allergy-add": lambda: {"allergy-substance": "latex", "allergy-category": "environment", "allergy-criticality": "low"},
        "records:condition-add": lambda: {"condition-name": "Route matrix", "condition-status": "active"},
        "records:item-status": lambda: chart.status_data("medications", chart.medication_id, "stopped"),
        "records:note-new": lambda: {"template": "free", "text": "Route matrix."},
        "records:note-sign": lambda: {"confirm": "yes"},
        "records:note-addendum": lambda: {"text": "Route matrix addendum."},
        "records:psychotherapy-new": lambda: {"psychotherapy-text": "Route matrix."},
        "records:psychotherapy-sign": lambda: {"confirm": "yes"},
        "records:psychotherapy-addendum": lambda: {"text": "Route matrix addendum."},
        "records:file-upload": lambda: {"kind": "document", "title": "Route matrix", "file": pdf_upload()},
        "records:portal-link-document": lambda: {"title": "Route matrix", "file": pdf_upload()},
        "records:patient-merge": lambda: {"q": "Route matrix"},  # a search for the chart to keep: reads only
        "records:audit-patient-finder": lambda: {"q": "Route Matrix"},  # a search: finds nobody, writes nothing
        "records:chart-break-glass": lambda: {"tab": "notes", "reason": "Route matrix: an emergency reason."},
        "records:chart-portal": lambda: {"action": "invite", "email": f"matrix-{role.value}@{practice_world.practice.slug}.example.test"},
        "messaging:unmatched": lambda: {"item": "", "q": ""},  # nothing chosen: the page again, nothing written
        "messaging:unmatched-file": lambda: {"patient_id": str(chart.patient.id)},
        # Issue 15, the inbox: a portal reply (it is sent: effectful); a template's own values back.
        "messaging:reply": lambda: {"channel": "portal", "body": "Route matrix reply."},
        "messaging:template-new": lambda: {"name": f"Matrix {role.value}", "body": "Your forms are ready."},
        "messaging:template-edit": lambda: {"name": "Matrix", "body": "Your forms are ready."},
        # Messaging, e-mail part: a new draft campaign; the settings as they are (nothing changes).
        "messaging:campaign-list": lambda: {"name": "Route matrix", "channel": "email", "body": "Route matrix news."},
        "messaging:chart-notifications": lambda: {f"{t}:{c}": "on" for t in ("new_messages", "reminders", "billing", "news") for c in ("portal", "sms", "email")},
        # Messaging, consent part: the patient agreed to texts by phone (a ledger event: effectful).
        "messaging:chart-consent": lambda: _consent_grant(practice_world, chart.patient.id),
        # Directory part: removing an attribute never entered, the website's own values (nothing
        # written); a referral (one e-mail: effectful).
        "directory:profile-sensitive": lambda: {"kind": "religion", "action": "remove"},
        "directory:website": lambda: _website_as_it_is(practice_world),
        "directory:refer": lambda: {"name": "Route Matrix", "email": f"matrix-{role.value}@{practice_world.practice.slug}.example.test"},
        # Issue 16, part "booking": accept into a new chart, decline with a reason code (both effectful).
        "directory:booking-accept": lambda: {"merge_into": ""},
        "directory:booking-decline": lambda: {"reason": "time_unavailable"},
        # disc part: a disclosure recorded by hand, a compelled package produced (both effectful);
        # preparing the accounting of a fresh request (version 1; effectful: it closes it).
        "disclosures:record": lambda: {"disclosed_on": _today(), "recipient": "Route Matrix", "description": "Matrix",
                                       "purpose": "Matrix", "basis": "public_health"},
        "disclosures:compelled": lambda: {"basis": "court_order", "reference": "Matrix 1", "disclosed_on": _today(),
                                          "recipient": "Route Matrix", "categories": "health.allergies"},
        "rights:accounting-prepare": lambda: {"version": "1"},
        # --- part retention: executing a deletion (the request's first version), a legal hold on
        # the chart's patient, releasing one (all effectful).
        "rights:deletion-execute": lambda: {"version": "1"},
        "retention:hold-set": lambda: {"patient": str(chart.patient.id), "reason": "litigation"},
        # --- end part retention
        # queue part (issue 17): extend, close (withdrawn: no letter) and log an appeal (all effectful)
        "rights:request-extend": lambda: {"version": _rights_request(practice_world).version, "reason": "volume"},
        "rights:request-close": lambda: {"version": _rights_request(practice_world).version, "outcome": "withdrawn"},
        "rights:request-appeal": lambda: {"state": "CO"},
        # amend part (the request's stage comes from KWARG_SOURCES: not started / started / disagreed)
        "rights:amendment-start": lambda: {"target": "field:health_background", "version": "1", "asked": "Route matrix."},
        "rights:amendment-accept": lambda: {"text": "Route matrix amendment.", "version": "2"},
        "rights:amendment-deny": lambda: _deny_body(practice_world),
        "rights:amendment-rebuttal": lambda: {"text": "Route matrix rebuttal."},
        "rights:release-new": lambda: {"recipient": "Route Matrix", "basis": "other_provider", "categories": "health.medications", "days": "14"},
    }
    if name.startswith("scheduling:"):
        return _calendar_body(name, practice_world, role)
    if name == "rights:log":  # issue 17, part "intake": logging a request takes effect (EFFECTFUL)
        return {"q": "x", "patient": str(chart_world(practice_world).patient.id), "kind": "copy", "channel": "phone", "evidence": "id_seen"}
    return bodies[name]() if name in bodies else {}


def _today() -> str:  # disc part
    from django.utils import timezone

    return timezone.localdate().isoformat()
def _deny_body(practice_world) -> dict:
    """amend part: a denial needs the privacy officer's phone in the declaration (M6)."""
    from tests.rights.amend_helpers import officer_with_phone

    officer_with_phone(practice_world)
    return {"basis": "accurate_complete", "version": "2"}


def _website_as_it_is(practice_world) -> dict:
    from confide.directory.services import website_of

    site = website_of(practice_world.practice.id)
    return {"tagline": site.tagline, "about": site.about, "primary_colour": site.primary_colour, "published": "1" if site.published else ""}
# --- calendar part (issue 16): valid bodies for the calendar's POSTs (each takes effect: booked,
# moved, cancelled, marked, listed, set; see EFFECTFUL). A role books at its own hour.
def _calendar_body(name: str, practice_world, role: Role) -> dict:
    from confide.scheduling.models import Appointment
    from tests.security.routes_helpers import _appointment

    with tenant_context(practice_id=practice_world.practice.id):
        appointment = Appointment.objects.get(pk=_appointment(practice_world))
    hour = 8 + list(Role).index(role)
    return {
        "scheduling:book": {"patient": str(appointment.patient_id), "clinician": str(appointment.clinician_id),
                            "appointment_type": str(appointment.appointment_type_id), "date": "2027-04-06", "time": f"{hour:02d}:00"},
        "scheduling:appointment-move": {"version": appointment.version, "date": "2027-04-07", "time": f"{hour:02d}:00", "minutes": 50,
                                        "clinician": str(appointment.clinician_id), "scope": "one"},
        "scheduling:appointment-cancel": {"version": appointment.version, "reason": "other", "scope": "one"},
        "scheduling:appointment-status": {"version": appointment.version, "status": "confirmed"},
        "scheduling:settings": {"form": "zone", "time_zone": "America/Chicago"},
        "scheduling:waitlist": {"patient": str(appointment.patient_id), "preference": "any"},
    }.get(name, {})  # fmt: skip


def _consent_grant(practice_world, patient_id) -> dict:
    from confide.consent.services import Subject, current_states
    from confide.consent.topics import Topic

    state = current_states(Subject.patient(practice_world.practice.id, patient_id))[Topic.SMS_TEXTS]
    action = "withdraw" if state.granted else "grant"  # whatever the form would offer now
    return {"topic": "sms_texts", "action": action, "how": "phone", "words": "May we text you? [Yes.]", "seen": str(state.last_event_id or "")}


# Who may write each edit form (their own values are what they post back).
_WRITERS = {
    "registration": {Role.OWNER, Role.CLINICIAN, Role.FRONT_DESK},
    "health": {Role.OWNER, Role.CLINICIAN},
    "insurance": {Role.OWNER, Role.BILLING},
}
# POST routes with no harmless valid body: an allowed role's request takes effect.
EFFECTFUL = frozenset({
    "accounts:staff-reset-mfa", "accounts:staff-invite", "accounts:invitation-revoke", "accounts:invitation-resend",
    "accounts:staff-deactivate", "records:patient-new", "records:medication-add", "records:allergy-add", "records:condition-add",
    "records:item-status", "records:note-new", "records:note-sign", "records:note-addendum", "records:psychotherapy-new",
    "records:psychotherapy-sign", "records:psychotherapy-addendum", "records:file-upload", "records:portal-link-document",
    "policy:publish", "intake:accept", "intake:reject", "intake:form", "access:break-glass-reviewed", "records:chart-portal",
    "messaging:unmatched-file", "messaging:unmatched-dismiss",
    "messaging:reply",
    "messaging:campaign-list", "messaging:campaign-send",
    "messaging:chart-consent",
    "scheduling:feed-import",  # scheduling, feed part
    "directory:profile-publish", "directory:profile-unpublish", "directory:website-unpublish-profile", "directory:refer",
    "directory:booking-accept", "directory:booking-decline",  # issue 16, part "booking"
    # calendar part (issue 16)
    "scheduling:book", "scheduling:appointment-move", "scheduling:appointment-cancel", "scheduling:appointment-status",
    "scheduling:settings", "scheduling:waitlist", "scheduling:waitlist-close",
    # disc part
    "disclosures:record", "disclosures:compelled", "rights:accounting-prepare",
    "rights:deletion-execute", "retention:hold-set", "retention:hold-release",  # part retention
    "rights:log",  # issue 17, part "intake": a logged request
    "rights:request-extend", "rights:request-close", "rights:request-appeal",  # queue part (issue 17)
    # amend part: every amendment step decides or writes; a release link is a disclosure; revoking ends one
    "rights:amendment-start", "rights:amendment-accept", "rights:amendment-deny", "rights:amendment-rebuttal",
    "rights:release-new", "rights:release-revoke",
    "rights:export-authorize",  # part "export": recording (or taking back) the authorization raises the request's version
})  # fmt: skip
# Routes whose permission admits a role that the chart door then refuses, because the role's
# grant (access/policy.py CATEGORY_GRANTS) lacks what the route shows: 403 from the door, with
# an access:denied entry. (ACC3: the front desk and billing never see anything clinical.)
REFUSED_BY_THE_DOOR: dict[str, set[Role]] = {
    "records:chart-clinical": {Role.FRONT_DESK, Role.BILLING},
    "records:chart-notes": {Role.FRONT_DESK, Role.BILLING},
    "records:chart-documents": {Role.FRONT_DESK, Role.BILLING},
    "records:document-download": {Role.FRONT_DESK, Role.BILLING},
    # A guardian's authorization (contact.guardian): registration's, not billing's.
    "records:authorization-download": {Role.BILLING},
    "records:photo-view": {Role.FRONT_DESK, Role.BILLING},
    "records:photo-image": {Role.FRONT_DESK, Role.BILLING},
    "records:chart-consultations": {Role.FRONT_DESK, Role.BILLING},
    # The queue's door: the front desk only where its practice's declaration says so (off here).
    "intake:queue": {Role.FRONT_DESK, Role.BILLING},
    # Break-the-glass is accepted only where a refused tab offers it (records/chart.py
    # break_glass_offered); with today's grants no tab is refused to a role that may break it.
    "records:chart-break-glass": {Role.OWNER, Role.CLINICIAN},
}


def _send(client: Client, method: str, url: str, data: dict):
    """Form-encoded, or multipart when the body carries a file."""
    if any(hasattr(value, "read") for value in data.values()):
        return client.post(url, data) if method == "POST" else client.generic(method, url)
    return client.generic(method, url, data=_encode(data), content_type=_FORM)


# --- (a) anonymous --------------------------------------------------------------------------
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(("name", "method"), route_methods(route_names(audiences=NON_PUBLIC)))
def test_anonymous_is_sent_to_sign_in_and_nothing_changes(world, name, method, htmx):
    client = Client()
    url = url_for(name, world.a)
    headers = {"HX-Request": "true"} if htmx else {}
    with assert_no_writes():
        response = client.generic(method, url, headers=headers)
    login = reverse(settings.LOGIN_URL)
    if htmx:
        assert response.status_code == 401
        assert response["HX-Redirect"].startswith(f"{login}?next=")
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(f"{login}?next=")
    _assert_no_canary(response)


# --- (b) another practice ---------------------------------------------------------------------
@pytest.mark.parametrize(("name", "method"), route_methods(route_names(tenant_scoped=True, audiences={Audience.STAFF})))
def test_another_practice_gets_the_same_404_as_a_missing_id(world, name, method):
    client = sign_in(Client(), world.b.owner, world.b.practice)  # the most privileged user of B
    other_url, missing_url, own_url = url_for(name, world.a), reverse(name, kwargs=random_kwargs_for(name)), url_for(name, world.b)
    other_data, missing_data = payload_for(name, method, world.b), payload_for(name, method, world.b)
    with assert_no_writes():
        other = _send(client, method, other_url, other_data)
        missing = _send(client, method, missing_url, missing_data)
    assert other.status_code == missing.status_code == 404
    assert normalise(other.content) == normalise(missing.content)
    _assert_no_canary(other)
    # The same request aimed at B's own object is not a 404: the test is not passing vacuously.
    own = _send(client, method, own_url, payload_for(name, method, world.b))
    # (a route whose door refuses the owner — break-the-glass, offered nowhere today — is a 403)
    assert own.status_code in ((403,) if Role.OWNER in REFUSED_BY_THE_DOOR.get(name, set()) else (200, 302)), own.status_code


# Public pages of a practice (/p/<practice_slug>/…): the slug picks the practice, so "another
# practice" is another slug; what must hold is that an unknown slug or id is a plain 404 that
# reveals nothing, and that a page shows only its own practice.
PUBLIC_PRACTICE_ROUTES = route_methods(route_names(tenant_scoped=True, audiences={Audience.PUBLIC}))
# amend part: a records release link shows a patient's record to its recipient; each opening is
# a chart opening by the release job, audited (DSC1). A wrong token still writes nothing.
AUDITED_PUBLIC_READS = frozenset({"rights:release-open"})


def test_public_practice_routes_are_only_reads_or_posts():
    assert all(method in {"GET", "POST"} for _, method in PUBLIC_PRACTICE_ROUTES)


@pytest.mark.parametrize(("name", "method"), [rm for rm in PUBLIC_PRACTICE_ROUTES if rm[1] == "GET"])
def test_public_practice_pages_answer_for_their_practice_and_404_for_an_unknown_one(world, name, method):
    client = Client()
    if name in AUDITED_PUBLIC_READS:  # amend part: its opening is audited (and counted): it writes
        own_url = url_for(name, world.a)
        own = client.get(own_url)
        with assert_no_writes():
            missing = client.get(reverse(name, kwargs=random_kwargs_for(name)))
    else:
        with assert_no_writes():
            own = client.get(url_for(name, world.a))
            missing = client.get(reverse(name, kwargs=random_kwargs_for(name)))
    assert own.status_code == 200
    assert missing.status_code == 404
    _assert_no_canary(own)
    _assert_no_canary(missing)
    body = own.content.decode(errors="replace")
    if own["Content-Type"].startswith("text/html"):  # the website's stylesheet and images name nobody
        assert world.a.practice.name in body
    assert world.b.practice.name not in body


_FORM = "application/x-www-form-urlencoded"


def _encode(data: dict) -> str:
    from urllib.parse import urlencode

    return urlencode(data)


# --- (c) each role in its own practice ---------------------------------------------------------
STAFF_ROUTE_METHODS = route_methods(route_names(audiences={Audience.STAFF}))


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
@pytest.mark.parametrize(("name", "method"), STAFF_ROUTE_METHODS)
def test_role_matrix(world, name, method, role):
    policy = ROUTE_POLICY[name]
    user = world.a.user(role)
    client = sign_in(Client(), user, world.a.practice)
    kwargs = kwargs_for(name, world.a, role)
    if kwargs.get("membership_id") == world.a.memberships[role].id:
        kwargs["membership_id"] = world.a.memberships[Role.BILLING if role is not Role.BILLING else Role.CLINICIAN].id
    url = reverse(name, kwargs=kwargs)
    holds = policy.perm in ROLE_PERMISSIONS[role]
    refused_by_door = holds and role in REFUSED_BY_THE_DOOR.get(name, set())
    allowed = holds and not refused_by_door
    effectful = allowed and name in EFFECTFUL
    data = payload_for(name, method, world.a, role)
    before, denied_before = snapshot(), AuditEntry.objects.filter(event=AuditEvent.ACCESS_DENIED).count()
    response = _send(client, method, url, data)
    if allowed:
        assert response.status_code < 400, f"{role} holds {policy.perm} but got {response.status_code} on {method} {name}"
    else:
        assert response.status_code == 403, f"{role} lacks {policy.perm} but got {response.status_code} on {method} {name}"
    if refused_by_door:
        assert AuditEntry.objects.filter(event=AuditEvent.ACCESS_DENIED).count() == denied_before + 1, f"the door did not record refusing {role} on {name}"
    if not effectful:
        assert snapshot() == before, f"{method} {name} as {role} changed rows"


def test_the_effectful_publish_really_published_for_the_privacy_officer(world):
    from confide.policy.services import latest_version

    client = sign_in(Client(), world.a.user(Role.PRIVACY_OFFICER), world.a.practice)
    response = client.post(url_for("policy:publish", world.a), payload_for("policy:publish", "POST", world.a))
    assert response.status_code == 302
    assert latest_version(world.a.practice.id).number == 2


def test_the_door_refusals_in_the_matrix_are_what_the_chart_says():
    """REFUSED_BY_THE_DOOR, written out above, agrees with confide/records/chart.py's tabs."""
    from confide.records import chart

    for tab in chart.TABS.values():
        refused = {role for role in Role if role_has(role, tab.perm) and not chart.tab_allowed(role, tab)}
        assert refused == REFUSED_BY_THE_DOOR.get(tab.route, set()), tab.route


def test_the_effectful_route_really_took_effect_for_the_owner(world):
    """Guards the role matrix against a reset-MFA that 'succeeds' with a redirect but does nothing."""
    client = sign_in(Client(), world.a.owner, world.a.practice)
    target = world.a.user(Role.FRONT_DESK)
    assert TOTPDevice.objects.filter(user=target).exists()
    client.post(url_for("accounts:staff-reset-mfa", world.a))
    assert not TOTPDevice.objects.filter(user=target).exists()


def test_every_staff_permission_is_held_by_someone_and_refused_to_someone():
    """Otherwise a row of the matrix would be all-allowed or all-forbidden by accident."""
    for name in route_names(audiences={Audience.STAFF}):
        holders = {role for role in Role if ROUTE_POLICY[name].perm in ROLE_PERMISSIONS[role]}
        assert Role.OWNER in holders, name
        if ROUTE_POLICY[name].perm is not Perm.DASHBOARD_VIEW:  # the one permission every role holds
            assert holders != set(Role), f"{name}: every role holds {ROUTE_POLICY[name].perm}"


# --- Recent re-authentication -------------------------------------------------------------------
@pytest.mark.parametrize("staleness", ["old", "never"])
# Staff routes; a portal route's fresh confirmation is the portal's (portal:reauth), tested with
# each portal page (e.g. tests/portal/test_view_passkeys.py).
@pytest.mark.parametrize(("name", "method"), route_methods(route_names(recent_auth=True, audiences=NON_PUBLIC)))
def test_stale_reauth_asks_to_confirm_and_nothing_changes(world, name, method, staleness):
    client = sign_in(Client(), world.a.owner, world.a.practice)  # the owner holds every permission
    session = client.session
    if staleness == "old":
        session[SESSION_AUTH_FRESH_AT] = int(time.time()) - settings.CONFIDE_RECENT_AUTH_MINUTES * 60 - 60
    else:
        del session[SESSION_AUTH_FRESH_AT]
    session.save()
    url, data = url_for(name, world.a), payload_for(name, method, world.a)
    with assert_no_writes():
        response = _send(client, method, url, data)
    if method == "POST":  # asked on the spot, what was sent kept for after (accounts.views.confirm_in_place)
        assert response.status_code == 200
        assert 'data-testid="confirm-in-place"' in response.content.decode()
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(f"{reverse('accounts:reauth')}?next=")


@pytest.mark.parametrize("name", route_names(audiences=NON_PUBLIC))
def test_methods_outside_the_row_are_refused(world, name):
    client = sign_in(Client(), world.a.owner, world.a.practice)
    allowed = ROUTE_POLICY[name].methods | ({"HEAD"} if "GET" in ROUTE_POLICY[name].methods else set())
    url = url_for(name, world.a)
    for method in sorted(set(ALL_METHODS) - allowed):
        with assert_no_writes():
            response = client.generic(method, url)
        assert response.status_code == 405, f"{method} {name}: {response.status_code}"


# --- (d) CSRF ------------------------------------------------------------------------------
def _csrf_client(user, practice) -> Client:
    client = sign_in(Client(enforce_csrf_checks=True), user, practice)
    assert client.get(reverse("core:dashboard")).status_code == 200  # sets the csrftoken cookie
    return client


@pytest.fixture
def two_practice_owner(world):
    """Practice A's owner, also a member of practice B (so a switch would change something)."""
    with tenant_context(practice_id=world.b.practice.id):
        MembershipFactory(user=world.a.owner, practice=world.b.practice, role=Role.FRONT_DESK)
    return world.a.owner


def _csrf_cases(world):
    target = world.a.memberships[Role.FRONT_DESK]
    return {
        "staff-change-role": (reverse("accounts:staff-change-role", args=[target.id]), {"role": Role.BILLING.value}),
        "switch-practice": (reverse("accounts:switch-practice"), {"practice_id": str(world.b.practice.id)}),
        "logout": (reverse("accounts:logout"), {}),
        "practice-settings": (reverse("accounts:practice-settings"), {"name": "Renamed", "mfa_required": "on", "idle_timeout_minutes": "30"}),
        "staff-reset-mfa": (reverse("accounts:staff-reset-mfa", args=[target.id]), {}),
    }


@pytest.mark.parametrize("case", ["staff-change-role", "switch-practice", "logout", "practice-settings", "staff-reset-mfa"])
def test_post_without_csrf_token_is_refused_and_changes_nothing(world, two_practice_owner, case):
    url, data = _csrf_cases(world)[case]
    client = _csrf_client(two_practice_owner, world.a.practice)
    with assert_no_writes():
        response = client.post(url, data)
    assert response.status_code == 403
    session = client.session
    assert session.get("_auth_user_id") == str(two_practice_owner.pk), "signed out by a forged POST"
    assert session.get(SESSION_PRACTICE) == str(world.a.practice.id), "practice switched by a forged POST"

    # Control: the same POST with the token goes through (so the 403 above was the CSRF check).
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    accepted = client.post(url, {**data, "csrfmiddlewaretoken": token})
    assert accepted.status_code in (200, 302)
