""""How your information is protected": the notice's statements about what the software does,
each tied to the promises it keeps and to the mechanism that makes it true (POL3).

The declaration below is the single place these sentences come from. Each `Protection` names:

* `promises`: the promise IDs of ../shared/PROMISES.md it states. A statement the software
  keeps by itself may cite only promises the privacy map (docs/privacy.md, its table) lists
  as kept, and every promise listed there has at least one such statement
  (tests/policy/test_protections.py);
* `mechanism`: the code (or the test suite) that makes it true, so a reader can check it;
* `when`: a condition on this practice (a setting, a processor in use) under which it is true;
  a statement whose mechanism is off for the practice is not shown;
* `capability`: for what the software does not yet do by itself. While the capability's flag
  in `CAPABILITIES` is off, the notice shows `meanwhile` (how the practice's staff fulfil it,
  and whom to ask) and the policy settings page lists it under "Handled by your staff" with
  what the staff must do; when a later release does it in code, its flag goes on and the
  statement switches to `text`, the automated form.

Sentences may use {officer} (how to reach the privacy officer), {access_days},
{recordings}, {backups} and {notice_days}, filled from the practice's declaration in force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from confide.policy.schema import Declaration, period_text


@dataclass(frozen=True)
class Capability:
    label: str  # what it is, for the privacy officer
    automated: bool  # does the software do it by itself yet?
    staff_task: str  # while it does not: what the practice's staff must do instead


# One flag per capability: turned on by the release that builds it, which also keeps the
# promises its statements cite (the privacy map gains their rows).
CAPABILITIES: dict[str, Capability] = {
    # On since issue 17: requests arrive by the portal, the public form, staff and the operator,
    # are verified, tracked to their deadlines and answered by the software (confide/rights/).
    "rights_requests": Capability(
        "Requests to see, copy, correct or delete a record, for a list of disclosures, and appeals",
        True,
        "Answer the requests patients make in the portal (the Privacy requests page lists them with their due dates), and "
        "take others by e-mail, phone or at the desk; check who is asking (or their authority to act for the patient); "
        "answer within the deadlines the notice gives under Your rights; keep a record of each request and answer.",
    ),
    # On since issue 14: the portal's privacy page lists who opened the record (confide/portal/privacy.py).
    "access_report": Capability(
        "Telling a patient who opened their record",
        True,
        "When a patient asks, read the chart's Privacy tab (or the audit log, filtered by the patient) and send them "
        "who opened the record, when and why, within 30 days.",
    ),
    # On since issue 17: the retention engine archives, holds and destroys (confide/retention/).
    "retention_engine": Capability(
        "Archiving and destroying records when their retention period ends",
        True,
        "At least monthly, check closed accounts against the retention periods in the notice; when a period ends, "
        "export what must be archived and destroy the rest with the command confide keys shred.",
    ),
    "recordings": Capability(
        "Telehealth session recordings",
        False,
        "Record a session only with the patient's recorded agreement, keep the recording encrypted outside Confide, "
        "and delete it when the period in the notice ends.",
    ),
    "backups": Capability(
        "Daily encrypted backups, deleted after the period in the notice",
        False,
        "Make sure whoever runs the server takes an encrypted backup every day, keeps the keyring apart from it, "
        "and deletes backups after the period in the notice (docs/operations.md, Backups).",
    ),
    # On since issue 15: STOP and its synonyms, one-click unsubscribe, the portal's settings and
    # staff's record all stop messages before the next send (confide/messaging/).
    "messaging_opt_outs": Capability(
        "Stopping messages when a patient asks (STOP, unsubscribe links)",
        True,
        "When a patient asks to stop messages, record it at once (the command confide consent record) and send them "
        "nothing of that kind again.",
    ),
}


@dataclass(frozen=True)
class Facts:
    """What the conditions read, computed once per notice."""

    declaration: Declaration
    mfa_required: bool
    https: bool

    def processor_in_use(self, processor_id: str) -> bool:
        processor = self.declaration.processor(processor_id)
        return processor is not None and processor.in_use

    @property
    def patients_emailed(self) -> bool:
        """Material-change notices reach patients by e-mail only through a business associate with an agreement."""
        email = self.declaration.processor("email")
        return email is not None and email.in_use and email.baa_on_file


# The conditions a statement may name, with what each reads (for docs/privacy.md).
CONDITIONS: dict[str, tuple[str, Callable[[Facts], bool]]] = {
    "always": ("always", lambda f: True),
    "mfa_required": ("the practice requires a second factor (Practice settings)", lambda f: f.mfa_required),
    "https": ("the server runs with CONFIDE_HTTPS on (the default)", lambda f: f.https),
    "patients_emailed": ("the email processor is in use with a Business Associate Agreement on file", lambda f: f.patients_emailed),
    "patients_not_emailed": ("the email processor is not in use, or has no agreement on file", lambda f: not f.patients_emailed),
    "messages_sent": ("the email or sms processor is in use", lambda f: f.processor_in_use("email") or f.processor_in_use("sms")),
}


@dataclass(frozen=True)
class Protection:
    id: str
    promises: tuple[str, ...]
    mechanism: tuple[str, ...]  # paths in this repository
    text: str  # what the notice says when the software does it
    when: str = "always"
    capability: str | None = None
    meanwhile: str = ""  # what it says while the capability is handled by staff


PROTECTIONS: tuple[Protection, ...] = (
    Protection(
        "access-logged", ("AUD1",), ("confide/access/door.py", "confide/audit/chain.py"),
        "Every time anyone at the practice opens your record, the software records who it was, which parts of the record, "
        "when, from where and for what purpose. That record names you only by a number.",
    ),
    Protection(
        "who-opened", ("AUD1",), ("confide/audit/reports.py", "confide/portal/privacy.py"),
        "You can see who has opened your record, and when and why, in the patient portal, and download that list. A "
        "parent or guardian who uses the portal for a child sees it for the child's record.",
        capability="access_report",
        meanwhile="You may ask who has opened your record: ask {officer}, and we send you who opened it, when and why, "
                  "from that log within {access_days} days.",
    ),  # fmt: skip
    Protection(
        "log-tamper-evident", ("AUD2",), ("confide/audit/chain.py", "confide/audit/checkpoints.py"),
        "That log is chained with cryptographic hashes and sealed outside the database, so no entry can be changed, "
        "removed or added afterwards without it being detected.",
    ),
    Protection(
        "staff-accounts", ("ACC1", "ACC6", "AUD3"), ("confide/settings.py", "confide/accounts/lockout.py", "confide/accounts/services.py"),
        "Each member of staff signs in with their own account; passwords are stored only as Argon2 hashes, repeated wrong "
        "passwords lock the account, idle sessions end, and every sign-in, permission change, export and key operation is logged.",
    ),
    Protection(
        "second-factor", ("ACC2",), ("confide/accounts/services.py", "confide/accounts/middleware.py"),
        "Staff who can see health information must also confirm each sign-in with a code from an authenticator app.",
        when="mfa_required",
    ),
    Protection(
        "portal-accounts", ("ACC5",), ("confide/accounts/portal_invitations.py", "confide/accounts/portal_accounts.py"),
        "If we invite you to the patient portal, you choose your own password. You can change it on your account page, "
        "add a second sign-in step, and close your portal account at any time. Closing it does not delete your record.",
    ),
    Protection(
        "minimum-necessary", ("ACC3",), ("confide/access/policy.py", "confide/core/permissions.py", "confide/records/chart.py"),
        "Each member of staff sees only the parts of your record their role needs for the task: the front desk never sees "
        "clinical information, billing never sees notes or photos, and every refused attempt is recorded.",
    ),
    Protection(
        "practice-only", ("ACC4",), ("confide/core/tenancy.py", "confide/core/rls.py"),
        "Your record can be reached only by this practice's staff: the database itself refuses it to anyone working for "
        "another practice on the same software.",
    ),
    Protection(
        "encrypted", ("SEC1",), ("confide/vault/fields.py", "confide/vault/files.py", "confide/vault/kms.py"),
        "Your information is encrypted with AES-256 in our database and files, under a key of your own, and the keys that "
        "protect those keys are kept outside the database.",
    ),
    Protection(
        "tls", ("SEC1",), ("confide/settings.py",),
        "Every connection to these pages is encrypted (HTTPS only).",
        when="https",
    ),
    Protection(
        "destroyed-everywhere", ("SEC2", "RTS4", "RET2", "RET3"), ("confide/vault/keys.py", "confide/vault/tombstones.py"),
        "When information of yours is to be destroyed (at your request where the law allows, or when its time is up), we "
        "destroy the key it is encrypted under: it can no longer be read anywhere, not even from a backup restored later.",
    ),
    Protection(
        "signed-notes", ("REC3",), ("confide/records/notes.py", "confide/records/models.py"),
        "Once your clinician signs a note it is locked: it can never be changed, only added to by a dated addendum linked to it.",
    ),
    Protection(
        "changes-with-reason", ("REC4",), ("confide/access/door.py", "confide/records/services.py"),
        "Your record is changed only at your request, to correct an error, or for a change that alters nothing of substance, "
        "and each change is recorded with its reason.",
    ),
    Protection(
        "declared-categories", ("REC1",), ("confide/policy/reachability.py", "confide/records/models.py"),
        "Your record holds only the kinds of information listed under What we collect: every protected field of it is "
        "declared under one of them, and the software checks that it is.",
    ),
    Protection(
        "consultation-authorized", ("REC2",), ("confide/records/intake.py",),
        "An online consultation keeps your answers only once you have authorized it; the authorization is recorded, and "
        "staff review the consultation before it becomes part of a record.",
    ),
    # issue 16, part "booking"
    Protection(
        "booking-authorized", ("CON1",), ("confide/directory/booking.py",),
        "Asking for an appointment on the practice's website takes only your name, date of birth, a way to reach you and, "
        "if you wish, the reason; it is kept only once you have authorized it, the authorization is recorded, and it is "
        "deleted if the practice does not book the appointment.",
    ),
    Protection(
        "portable-copy", ("RTS2",), ("confide/records/fhir.py",),
        "Your details, health lists and signed notes can be given to you as a machine-readable file in FHIR, the standard "
        "other health systems read; psychotherapy notes only with your written authorization.",
    ),
    Protection(
        "choices-recorded", ("CON1", "CON2"), ("confide/consent/services.py", "confide/consent/state.py"),
        "Every choice you make is recorded with when and how you made it and which version of this notice applied; "
        "withdrawing is as easy as agreeing, and what applies now is always worked out from that record.",
    ),
    Protection(
        "no-penalty", ("CON3",), ("confide/consent/services.py", "confide/access/door.py"),
        "Saying no to anything optional stops exactly that, and changes nothing else: not the pages you see, not your care.",
    ),
    Protection(
        "technical-apart", ("TRK1",), ("confide/consent/evidence.py", "confide/consent/models.py"),
        "Technical details of your visits (network address, browser) are kept apart from your health record; for visitors "
        "who are not patients we keep only the first part of the network address and the browser's family.",
    ),
    Protection(
        "no-tracking", ("TRK2",), ("confide/consent/analytics.py", "confide/templates/public/base.html"),
        "Nothing on these pages tracks you: usage statistics, where the practice counts them at all, start only after you allow them.",
    ),
    Protection(
        "browser-signals", ("TRK3",), ("confide/consent/middleware.py", "confide/consent/signals.py"),
        "Global Privacy Control and Do Not Track signals from your browser are honoured on every page, as described under "
        "Browser privacy signals below.",
    ),
    Protection(
        "one-click-opt-outs", ("RTS5",), ("confide/consent/views.py",),
        "You can opt out of sale or sharing, and limit the use of sensitive information, with one click and without an "
        "account, from the links at the bottom of every page.",
    ),
    Protection(
        "notice-from-settings", ("POL1", "POL3"), ("confide/policy/notice.py", "confide/policy/models.py"),
        "This notice is generated from the same settings the software enforces, and every earlier version stays readable "
        "exactly as it was.",
    ),
    Protection(
        "material-changes-emailed", ("POL2",), ("confide/policy/materiality.py", "confide/records/policy_notices.py"),
        "Before a material change applies, we e-mail you and announce it at the top of this notice, at least "
        "{notice_days} days ahead. Whether a change is material is worked out by the software from the change itself, "
        "not left to us alone.",
        when="patients_emailed",
    ),
    Protection(
        "material-changes-announced", ("POL2",), ("confide/policy/materiality.py", "confide/policy/acknowledgements.py"),
        "Before a material change applies, we announce it at the top of this notice at least {notice_days} days ahead. "
        "Whether a change is material is worked out by the software from the change itself, not left to us alone.",
        when="patients_not_emailed",
    ),
    Protection(
        "portal-choices", ("CON1", "AI2"), ("confide/portal/privacy.py", "confide/access/consent.py"),
        "In the patient portal you can turn each optional use of your information on or off in one step, AI assistance "
        "included, and see every choice you made and when.",
    ),
    Protection(
        "what-we-hold", ("RTS1",), ("confide/portal/privacy.py", "confide/policy/default.toml"),
        "The patient portal shows what we hold about you: each kind of information with how much of it your record holds, "
        "why we use it, which services receive it, and how long we keep it.",
    ),
    Protection(
        "material-changes-in-portal", ("POL2",), ("confide/policy/acknowledgements.py", "confide/templates/portal/home.html"),
        "When a material change is coming, the patient portal shows it to you until you tell us you have read it.",
    ),
    Protection(
        "security-tests", ("SEC3",), ("tests/security", ".ci/run"),
        "These protections are tested automatically every time the software changes: every page is tried by every kind of "
        "user, from another practice, and with hostile input.",
    ),
    # --- what the software does not yet do by itself -------------------------------------------------
    Protection(
        "rights-requests", ("RTS1", "RTS3", "RTS6", "RTS7", "DSC1"),
        ("confide/rights/intake.py", "confide/rights/decisions.py", "confide/rights/deadlines.py", "confide/rights/export.py",
         "confide/rights/amendments.py", "confide/disclosures/report.py"),
        "You can ask to see, copy, correct or delete your information, for a list of its disclosures, or appeal a decision, in "
        "the patient portal, on our website's privacy request form, or by telling our staff; someone you authorise in writing "
        "can ask for you. The software tracks each request to the earliest deadline the law gives, sends you each letter, "
        "and keeps a copy with the request. A copy of your information is a file you download, with your health record in "
        "FHIR, the standard other health systems read. If we decline to correct something, you can file a statement of "
        "disagreement, and it goes with that part of your record whenever we disclose it.",
        capability="rights_requests",
        meanwhile="Requests to see, copy, correct or delete your information, for a list of disclosures, or to appeal a "
                  "decision are handled by our staff: make one on the Privacy page of the patient portal, or ask {officer}. "
                  "We answer within the times given under Your rights below, and a request for a copy of your record "
                  "within {access_days} days.",
    ),  # fmt: skip
    Protection(
        "identity-check", ("ACC7",), ("confide/rights/intake.py",),
        "When you ask without signing in, we check it is you by matching your name and date of birth to our record and "
        "sending a one-time code to the contact details we already hold. What you typed to be checked is used for nothing "
        "else and is deleted as soon as the check ends.",
        capability="rights_requests",
        meanwhile="When you ask without signing in, our staff check it is you before acting on your request.",
    ),  # fmt: skip
    Protection(
        "parents-requests", ("MIN3",), ("confide/portal/record.py", "confide/rights/intake.py", "confide/retention/deletion.py"),
        "A parent or guardian who represents a minor can read the minor's record in the patient portal, ask for it to be "
        "deleted, and stop uses of it, except the parts the law leaves to the minor.",
        capability="rights_requests",
        meanwhile="A parent or guardian who represents a minor can read the minor's record in the patient portal; to ask for "
                  "its deletion or to stop a use of it, ask {officer}.",
    ),  # fmt: skip
    Protection(
        "copy-fee", ("RTS10",), ("confide/rights/export.py", "confide/rights/models.py"),
        "A copy of your information is free unless we set a fee, which is shown before you ask and never more than the cost "
        "of making it: at most $6.50 for an electronic copy.",
        capability="rights_requests",
        meanwhile="If we charge for a copy of your information, the fee is never more than the cost of making it.",
    ),  # fmt: skip
    Protection(
        "shine-the-light", ("RTS8",), ("confide/rights/decisions.py", "confide/policy/schema.py"),
        "Once a year you can ask which of your information we shared with others for their own marketing. The answer is "
        "none: the software has no way to share it for that. You get the answer within 30 days.",
        capability="rights_requests",
        meanwhile="Once a year you can ask {officer} which of your information we shared with others for their own marketing.",
    ),  # fmt: skip
    Protection(
        "operator-routing", ("RTS9",), ("confide/rights/intake.py", "confide/rights/management/commands/rights.py"),
        "If your request reaches the company that runs this software instead of us, it comes to our privacy queue with the "
        "date it first arrived, and the deadlines run from that date.",
        capability="rights_requests",
        meanwhile="If your request reaches the company that runs this software instead of us, it is passed on to {officer}.",
    ),  # fmt: skip
    Protection(
        "compelled-disclosure", ("DSC2",), ("confide/disclosures/staff.py", "confide/rights/disclosure_notices.py"),
        "If the law makes us disclose your information (a court order, a subpoena), the disclosure is recorded with it and "
        "you are told, unless the law or the order forbids telling you; then you are told when that ends, if it does.",
        capability="rights_requests",
        meanwhile="If the law makes us disclose your information, we tell you unless the law or the order forbids it.",
    ),  # fmt: skip
    Protection(
        "retention-archive", ("RET1", "RET2"), ("confide/retention/engine.py", "confide/retention/deletion.py", "confide/vault/keys.py"),
        "When a period above ends, the software moves the record out of the active system or destroys it, without anyone "
        "having to remember to.",
        capability="retention_engine",
        meanwhile="Moving records out of the active system when their period above ends, and destroying them later, is "
                  "done by our staff for now, checked by our privacy officer.",
    ),  # fmt: skip
    Protection(
        "recordings", ("TEL2", "RET3"), ("confide/policy/default.toml",),
        "Telehealth sessions are recorded only with your agreement, and recordings are destroyed automatically after {recordings}.",
        capability="recordings",
        meanwhile="This software does not record sessions. If we record a telehealth session, only with your agreement, "
                  "we delete the recording ourselves after {recordings}.",
    ),  # fmt: skip
    Protection(
        "backups", ("SEC2",), ("docs/operations.md",),
        "The software backs up your information daily, encrypted, and deletes each backup after {backups}.",
        capability="backups",
        meanwhile="Whoever runs our server takes an encrypted backup daily and deletes each one after {backups}; the "
                  "software does not do this by itself yet.",
    ),  # fmt: skip
    Protection(
        "stop-messages", ("MSG3",),
        ("confide/messaging/inbound.py", "confide/messaging/keywords.py", "confide/messaging/unsubscribe.py", "confide/messaging/gate.py"),
        "Reply STOP to any text from us, use the link in any marketing e-mail, change your choices in the patient portal, "
        "or ask our staff: it applies before the next message.",
        when="messages_sent",
        capability="messaging_opt_outs",
        meanwhile="To stop messages from us, tell {officer}; we record it at once and send you nothing of that "
                  "kind again.",
    ),  # fmt: skip
    Protection(
        "messages-two-way", ("MSG1",), ("confide/messaging/services.py", "confide/messaging/tasks.py", "confide/messaging/models.py"),
        "You and the practice can write to each other in the patient portal and by text message; each message we send is "
        "followed until it is delivered, with the time of each step, and is never sent twice.",
    ),
    Protection(
        "marketing-opt-in", ("MSG2",), ("confide/messaging/gate.py", "confide/messaging/campaigns.py"),
        "We send news and offers only if you agreed to them for that channel (text or e-mail); agreeing to reminders "
        "never counts as agreeing to offers.",
        when="messages_sent",
    ),
    Protection(
        "message-content", ("MSG4",), ("confide/messaging/gate.py",),
        "Our e-mails and texts never contain photos or payment details, and carry health details only if you asked for "
        "them by that channel; otherwise they only say that a secure message waits for you in the patient portal.",
        when="messages_sent",
    ),
    Protection(
        "emergency-reply", ("MSG5",), ("confide/messaging/inbound.py", "confide/access/door.py"),
        "Your messages stay between you and the practice. If a message you send us sounds like an emergency, you get an "
        "immediate reply telling you to call 911 (and 988 in a crisis), and our staff see it flagged as urgent.",
    ),
    Protection(
        "notification-choices", ("MSG6",), ("confide/messaging/preferences.py", "confide/messaging/gate.py"),
        "In the patient portal you choose which notifications you get (new messages, reminders, bills, news) and by "
        "which channel.",
    ),
    Protection(
        "signed-callbacks", ("MSG7",), ("confide/messaging/webhook_views.py", "confide/messaging/inbound.py"),
        "Texts and delivery reports reach us only with our text-message provider's signature; forged or repeated ones "
        "are refused and nothing of them is kept.",
        when="messages_sent",
    ),
    Protection(
        "declared-processors", ("PRC1",), ("confide/policy/egress.py", "confide/messaging/gate.py"),
        "Your information goes to an outside service only if it is listed under Who receives it, for the purposes listed "
        "there, and health information only to services that have signed a Business Associate Agreement with us.",
    ),
    # Directory part (issue 16): profiles published only by the practitioner, sensitive attributes
    # only as entered, a referred colleague's contact data used once and deleted.
    Protection(
        "profiles-by-choice", ("DIR1",), ("confide/directory/services.py", "confide/consent/topics.py"),
        "A practitioner's profile appears on the practice's website only after the practitioner publishes it "
        "themselves (their choice is recorded); they can take it off at any time, and it is off at once.",
    ),
    Protection(
        "sensitive-profile-attributes", ("DIR2",), ("confide/directory/models.py", "confide/directory/services.py"),
        "A practitioner's race, ethnicity, sexual orientation or religion is kept only if they enter it for their "
        "public profile, and is deleted at once when they remove it.",
    ),
    Protection(
        "colleague-referrals", ("DIR3",), ("confide/directory/services.py", "confide/directory/tasks.py"),
        "If a colleague refers you to us, you get one e-mail saying who referred you, with a link to decline; your "
        "name and address are used for nothing else, never for news or offers, and are deleted after 30 days or at "
        "once when you decline.",
    ),
    # Issue 16, the calendar: appointments with names and times only, double booking refused by
    # the database; reminders with the practice's name and the time only, through the send gate.
    Protection(
        "appointments", ("SCH1",), ("confide/scheduling/services.py", "confide/scheduling/views.py"),
        "Your appointments are kept in the practice's calendar, where staff who book them see your name and the time, "
        "never your health information; the calendar itself refuses to give the same time to two people.",
    ),
    Protection(
        "appointment-reminders", ("SCH1",), ("confide/scheduling/reminders.py", "confide/messaging/gate.py"),
        "Appointment reminders by text or e-mail say only our name and the date and time of your appointment, never whom "
        "you see or what for; they follow your choices and the hours texts may arrive, and never come after the "
        "appointment has started.",
        when="messages_sent",
    ),
    # google part (issue 16): a clinician's own Google Calendar, read-only; the last sentence is
    # the Limited Use statement Google's API Services User Data Policy asks for.
    Protection(
        "google-calendar", ("SCH2", "SCH3"), ("confide/scheduling/google.py",),
        "A clinician may link their own Google Calendar so their Google events show as busy times in our calendar: we ask "
        "Google only to view their events, show them while a calendar page is open, and never store them or use them for "
        "anything else. Disconnecting it, or the clinician leaving the practice, stops all access and removes every "
        "displayed event at once, and the access is revoked at Google. Our use and transfer of information received from "
        "Google APIs adheres to the Google API Services User Data Policy, including the Limited Use requirements.",
    ),
)


@dataclass(frozen=True)
class Statement:
    """A protection as this practice's notice says it."""

    id: str
    text: str
    promises: tuple[str, ...]
    handled_by_staff: bool
    capability: Capability | None = None


def _officer(declaration: Declaration) -> str:
    officer = declaration.contacts.privacy_officer
    if not officer.is_named:
        return "our privacy officer (the front desk will put you in touch)"
    return f"our privacy officer, {officer.name}, at {officer.email or officer.phone}"


def _values(declaration: Declaration) -> dict[str, str]:
    periods = {r.id: period_text(r.period) for r in declaration.retention}
    return {
        "officer": _officer(declaration),
        "access_days": str(declaration.regimes.hipaa.access.respond_days),
        "recordings": periods.get("telehealth-recordings", "the period above"),
        "backups": periods.get("backups", "the period above"),
        "notice_days": str(settings.CONFIDE_POLICY_MATERIAL_NOTICE_DAYS),
    }


def statements(declaration: Declaration, *, mfa_required: bool) -> list[Statement]:
    """The statements that hold for a practice with this declaration, in declaration order."""
    facts = Facts(declaration=declaration, mfa_required=mfa_required, https=settings.HTTPS)
    values = _values(declaration)
    out = []
    for p in PROTECTIONS:
        if not CONDITIONS[p.when][1](facts):
            continue
        capability = CAPABILITIES[p.capability] if p.capability else None
        by_staff = capability is not None and not capability.automated
        text = p.meanwhile if by_staff else p.text
        out.append(Statement(p.id, text.format(**values), p.promises, by_staff, capability))
    return out


def coverage_problems(kept: set[str]) -> list[str]:
    """What is wrong with the declaration against the promises the privacy map says are kept:
    a kept promise with no sentence the software keeps, or such a sentence citing a promise
    that is not kept (a staff-handled sentence may cite one: that is why staff handle it)."""
    problems = []
    by_software = [p for p in PROTECTIONS if p.capability is None or CAPABILITIES[p.capability].automated]
    cited = {promise for p in by_software for promise in p.promises}
    problems += [f"kept promise {promise} has no sentence in the notice" for promise in sorted(kept - cited)]
    for p in by_software:
        problems += [f"{p.id} cites {promise}, which the privacy map does not list as kept" for promise in p.promises if promise not in kept]
    for p in PROTECTIONS:
        if p.when not in CONDITIONS:
            problems.append(f"{p.id}: unknown condition {p.when!r}")
        if p.capability is not None and (p.capability not in CAPABILITIES or not p.meanwhile):
            problems.append(f"{p.id}: a capability needs an entry in CAPABILITIES and a `meanwhile` sentence")
    return problems


__all__ = ["CAPABILITIES", "CONDITIONS", "PROTECTIONS", "Capability", "Protection", "Statement", "coverage_problems", "statements"]
