"""The route-policy table: every URL name, who may reach it, with which permission and methods.

Views do not describe their own access; they name their row with `@route("app:name")` and the
decorator applies it (methods, public/login), and `RoutePolicyMiddleware` enforces the rest
(MFA, practice membership, permission, fresh re-authentication). A URL without a row, a row
without a URL, or a view whose stamp differs from its row fails tests/security/test_route_policy.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from confide.core.permissions import Perm


class Audience(StrEnum):
    PUBLIC = "public"  # anyone, signed in or not
    SIGNING_IN = "signing-in"  # password checked, MFA may still be pending (verify, enrol, sign out)
    ACCOUNT = "account"  # signed in with MFA satisfied; no practice needed (own account, switcher)
    STAFF = "staff"  # signed in, MFA satisfied, active member of the current practice, has `perm`
    # The patient portal (/portal/): only portal accounts; a staff session is sent to the portal's
    # own sign-in, a portal session on a staff route gets a 404 (accounts/middleware.py).
    PORTAL_SIGNING_IN = "portal-signing-in"  # portal password checked, a second factor may be pending
    PORTAL = "portal"  # portal account signed in, second factor satisfied, a record it may act on


PORTAL_AUDIENCES = frozenset({Audience.PORTAL_SIGNING_IN, Audience.PORTAL})


@dataclass(frozen=True)
class RoutePolicy:
    audience: Audience
    perm: Perm | None
    tenant_scoped: bool  # the URL carries ids of practice-owned objects
    methods: frozenset[str]
    recent_auth: bool = False  # password + MFA re-checked within CONFIDE_RECENT_AUTH_MINUTES


def _p(audience: Audience, perm: Perm | None, tenant_scoped: bool, methods: str, recent_auth: bool = False) -> RoutePolicy:
    return RoutePolicy(audience, perm, tenant_scoped, frozenset(methods.split()), recent_auth)


A = Audience
ROUTE_POLICY: dict[str, RoutePolicy] = {
    # name                                audience       permission                   tenant  methods     recent auth
    "core:healthz":                    _p(A.PUBLIC,     None,                        False, "GET"),
    "core:dashboard":                  _p(A.STAFF,      Perm.DASHBOARD_VIEW,         False, "GET"),
    "accounts:login":                  _p(A.PUBLIC,     None,                        False, "GET POST"),
    "accounts:logout":                 _p(A.SIGNING_IN, None,                        False, "POST"),
    "accounts:mfa-verify":             _p(A.SIGNING_IN, None,                        False, "GET POST"),
    "accounts:mfa-enrol":              _p(A.SIGNING_IN, None,                        False, "GET POST"),
    # Password reset (accounts/reset.py): ask, open the e-mailed link (its token moves into the
    # session), choose a new password. Public: whoever uses them cannot sign in.
    "accounts:password-reset":         _p(A.PUBLIC,     None,                        False, "GET POST"),
    "accounts:password-reset-link":    _p(A.PUBLIC,     None,                        False, "GET"),
    "accounts:password-reset-new":     _p(A.PUBLIC,     None,                        False, "GET POST"),
    "accounts:reauth":                 _p(A.ACCOUNT,    None,                        False, "GET POST"),
    "accounts:security":               _p(A.ACCOUNT,    None,                        False, "GET"),
    "accounts:select-practice":        _p(A.ACCOUNT,    None,                        False, "GET"),
    "accounts:switch-practice":        _p(A.ACCOUNT,    None,                        False, "POST"),
    "accounts:practice-settings":      _p(A.STAFF,      Perm.PRACTICE_SETTINGS_EDIT, False, "GET POST", True),
    "accounts:recovery-codes-regenerate": _p(A.ACCOUNT, None,                        False, "POST", True),
    "accounts:mfa-replace":            _p(A.ACCOUNT,    None,                        False, "POST", True),
    "accounts:staff-list":             _p(A.STAFF,      Perm.STAFF_LIST,             False, "GET"),
    "accounts:staff-change-role":      _p(A.STAFF,      Perm.STAFF_CHANGE_ROLE,      True,  "POST", True),
    "accounts:staff-reset-mfa":        _p(A.STAFF,      Perm.STAFF_RESET_MFA,        True,  "POST", True),
    "accounts:security-events":        _p(A.STAFF,      Perm.SECURITY_EVENTS_VIEW,   False, "GET"),
    # Staff management (accounts/staff_views.py): granting access asks for a fresh confirmation,
    # withdrawing an invitation does not. The invitation link's pages are public (the token is the key).
    "accounts:staff-invite":           _p(A.STAFF,      Perm.STAFF_INVITE,           False, "POST", True),
    "accounts:invitation-revoke":      _p(A.STAFF,      Perm.STAFF_INVITE,           True,  "POST"),
    "accounts:invitation-resend":      _p(A.STAFF,      Perm.STAFF_INVITE,           True,  "POST", True),
    "accounts:staff-deactivate":       _p(A.STAFF,      Perm.STAFF_DEACTIVATE,       True,  "POST", True),
    "accounts:invitation":             _p(A.PUBLIC,     None,                        False, "GET"),
    "accounts:invitation-accept":      _p(A.PUBLIC,     None,                        False, "GET POST"),
    # The first-run page (site/views.py): 404 once any practice exists; a setup code from the server.
    "site:setup":                      _p(A.PUBLIC,     None,                        False, "GET POST"),
    # POST: a search stays out of the URL (the query is a name, a phone number, an address).
    "records:patient-list":            _p(A.STAFF,      Perm.CONTACT_READ,           False, "GET POST"),
    "records:patient-new":             _p(A.STAFF,      Perm.REGISTRATION_WRITE,     False, "GET POST"),
    # The chart's tabs admit whoever may look a patient up; the chart door then opens exactly
    # the tab's categories for the role's purpose, or refuses (403) with an access:denied entry
    # (confide/records/chart.py). The privacy tab is the access report: chart readers only.
    "records:chart":                   _p(A.STAFF,      Perm.CONTACT_READ,           True,  "GET"),
    "records:chart-clinical":          _p(A.STAFF,      Perm.CONTACT_READ,           True,  "GET"),
    "records:chart-notes":             _p(A.STAFF,      Perm.CONTACT_READ,           True,  "GET"),
    "records:chart-documents":         _p(A.STAFF,      Perm.CONTACT_READ,           True,  "GET"),
    "records:chart-consultations":     _p(A.STAFF,      Perm.CONTACT_READ,           True,  "GET"),
    "records:chart-privacy":           _p(A.STAFF,      Perm.CHART_READ,             True,  "GET"),
    # The author's own psychotherapy notes: their own door refuses every role that writes none.
    "records:chart-psychotherapy":     _p(A.STAFF,      Perm.CHART_WRITE,            True,  "GET"),
    # Break-the-glass from a refused tab: offered (and accepted) only where the door's rule allows it.
    "records:chart-break-glass":       _p(A.STAFF,      Perm.CHART_WRITE,            True,  "POST"),
    "records:patient-edit":            _p(A.STAFF,      Perm.REGISTRATION_WRITE,     True,  "GET POST"),
    # Portal access to the record (records/portal_access.py): invite, end access; POSTs name an action.
    "records:chart-portal":            _p(A.STAFF,      Perm.REGISTRATION_WRITE,     True,  "GET POST"),
    "records:patient-edit-health":     _p(A.STAFF,      Perm.CHART_WRITE,            True,  "GET POST"),
    "records:patient-edit-insurance":  _p(A.STAFF,      Perm.BILLING_WRITE,          True,  "GET POST"),
    "records:medication-add":          _p(A.STAFF,      Perm.CHART_WRITE,            True,  "POST"),
    "records:allergy-add":             _p(A.STAFF,      Perm.CHART_WRITE,            True,  "POST"),
    "records:condition-add":           _p(A.STAFF,      Perm.CHART_WRITE,            True,  "POST"),
    "records:item-status":             _p(A.STAFF,      Perm.CHART_WRITE,            True,  "POST"),
    "records:patient-merge":           _p(A.STAFF,      Perm.CHART_WRITE,            True,  "GET POST", True),
    "records:note-new":                _p(A.STAFF,      Perm.CHART_WRITE,            True,  "GET POST"),
    "records:note-edit":               _p(A.STAFF,      Perm.CHART_WRITE,            True,  "GET POST"),
    "records:note-sign":               _p(A.STAFF,      Perm.CHART_WRITE,            True,  "GET POST"),
    "records:note-addendum":           _p(A.STAFF,      Perm.CHART_WRITE,            True,  "GET POST"),
    "records:psychotherapy-new":       _p(A.STAFF,      Perm.CHART_WRITE,            True,  "POST"),
    "records:psychotherapy-sign":      _p(A.STAFF,      Perm.CHART_WRITE,            True,  "GET POST"),
    "records:psychotherapy-addendum":  _p(A.STAFF,      Perm.CHART_WRITE,            True,  "GET POST"),
    "records:file-upload":             _p(A.STAFF,      Perm.CHART_WRITE,            True,  "POST"),
    "records:document-download":       _p(A.STAFF,      Perm.CONTACT_READ,           True,  "GET"),
    "records:authorization-download":  _p(A.STAFF,      Perm.CONTACT_READ,           True,  "GET"),
    "records:portal-link-document":    _p(A.STAFF,      Perm.REGISTRATION_WRITE,     True,  "POST"),
    "records:photo-view":              _p(A.STAFF,      Perm.CONTACT_READ,           True,  "GET"),
    "records:photo-image":             _p(A.STAFF,      Perm.CONTACT_READ,           True,  "GET"),
    "audit:log":                       _p(A.STAFF,      Perm.AUDIT_LOG_VIEW,         False, "GET"),
    "audit:log-export":                _p(A.STAFF,      Perm.AUDIT_LOG_VIEW,         False, "GET", True),
    # "Who opened this record?": the audit viewer's patient finder (names only; POST, as a search).
    "records:audit-patient-finder":    _p(A.STAFF,      Perm.AUDIT_LOG_VIEW,         False, "GET POST"),
    "access:break-glass-report":       _p(A.STAFF,      Perm.BREAK_GLASS_REVIEW,     False, "GET"),
    "access:break-glass-reviewed":     _p(A.STAFF,      Perm.BREAK_GLASS_REVIEW,     True,  "POST"),
    "policy:notice":                   _p(A.PUBLIC,     None,                        True,  "GET"),
    "policy:notice-version":           _p(A.PUBLIC,     None,                        True,  "GET"),
    "intake:consult":                  _p(A.PUBLIC,     None,                        True,  "GET POST"),
    # The queue admits whoever may look a patient up; its door opens it for the roles whose grant
    # (or a grant the practice's declaration switches on: the front desk) holds it, else 403.
    "intake:queue":                    _p(A.STAFF,      Perm.CONTACT_READ,           False, "GET"),
    "intake:form":                     _p(A.STAFF,      Perm.INTAKE_CONFIGURE,       False, "GET POST"),
    "intake:detail":                   _p(A.STAFF,      Perm.INTAKE_REVIEW,          True,  "GET"),
    "intake:photo":                    _p(A.STAFF,      Perm.INTAKE_REVIEW,          True,  "GET"),
    "intake:accept":                   _p(A.STAFF,      Perm.INTAKE_REVIEW,          True,  "POST"),
    "intake:reject":                   _p(A.STAFF,      Perm.INTAKE_REVIEW,          True,  "POST"),
    # Preview is a POST to the settings page and writes nothing; publishing is its own route so
    # that it, and only it, asks for a fresh password and code.
    "policy:settings":                 _p(A.STAFF,      Perm.POLICY_EDIT,            False, "GET POST"),
    "policy:publish":                  _p(A.STAFF,      Perm.POLICY_EDIT,            False, "POST", True),
    # "I have read it" on the banner every member sees: anyone who may use the app at all.
    "policy:acknowledge":              _p(A.STAFF,      Perm.DASHBOARD_VIEW,         True,  "POST"),
    "consent:choices":                 _p(A.PUBLIC,     None,                        True,  "GET POST"),
    "consent:do-not-sell":             _p(A.PUBLIC,     None,                        True,  "GET POST"),
    "consent:limit-sensitive":         _p(A.PUBLIC,     None,                        True,  "GET POST"),
    "consent:collect":                 _p(A.PUBLIC,     None,                        True,  "POST"),
    # --- the patient portal (confide/portal/): every record-bearing page acts on the signed-in
    # account's current record through the chart door, never on an id from the URL.
    "portal:signin":                   _p(A.PUBLIC,     None,                        False, "GET POST"),
    "portal:signout":                  _p(A.PORTAL_SIGNING_IN, None,                 False, "POST"),
    "portal:mfa-verify":               _p(A.PORTAL_SIGNING_IN, None,                 False, "GET POST"),
    "portal:mfa-enrol":                _p(A.PORTAL_SIGNING_IN, None,                 False, "GET POST"),
    "portal:reauth":                   _p(A.PORTAL,     None,                        False, "GET POST"),
    "portal:home":                     _p(A.PORTAL,     None,                        False, "GET"),
    "portal:switch":                   _p(A.PORTAL,     None,                        False, "POST"),
    # The privacy centre (confide/portal/privacy.py): consent choices, "what we hold", "who opened
    # my record" (page, CSV, PDF) and the rights-request form, all on the current record.
    "portal:privacy":                  _p(A.PORTAL,     None,                        False, "GET"),
    "portal:privacy-choice":           _p(A.PORTAL,     None,                        False, "POST"),
    "portal:access-csv":               _p(A.PORTAL,     None,                        False, "GET"),
    "portal:access-pdf":               _p(A.PORTAL,     None,                        False, "GET"),
    "portal:rights-request":           _p(A.PORTAL,     None,                        False, "POST"),
    # part "export": the copy's progress and its download (an export of the current record, else 404).
    "portal:rights-export-status":     _p(A.PORTAL,     None,                        True,  "GET"),
    "portal:rights-export-download":   _p(A.PORTAL,     None,                        True,  "GET"),
    "portal:acknowledge-notice":       _p(A.PORTAL,     None,                        False, "POST"),
    # twilio part: the console outbox page (confide/messaging/outbox_views.py; 404 unless the
    # console SMS adapter is configured).
    "messaging:outbox":                _p(A.STAFF,      Perm.MESSAGING_CONFIGURE,    False, "GET"),
    # The privacy officer's queue of rights requests (confide/rights/).
    "rights:queue":                    _p(A.STAFF,      Perm.RIGHTS_QUEUE_VIEW,      False, "GET"),
    # disc part: the accounting of disclosures (confide/disclosures/views.py): a patient's
    # disclosures and accounting (HTML, PDF, JSON), recording one, producing a compelled package;
    # preparing the accounting a rights request asked for (confide/rights/accounting_views.py);
    # the portal's "Disclosures of your record" PDF (current record only).
    "disclosures:patient":             _p(A.STAFF,      Perm.DISCLOSURES_RECORD,     True,  "GET"),
    "disclosures:report":              _p(A.STAFF,      Perm.DISCLOSURES_RECORD,     True,  "GET"),
    "disclosures:record":              _p(A.STAFF,      Perm.DISCLOSURES_RECORD,     True,  "GET POST"),
    "disclosures:compelled":           _p(A.STAFF,      Perm.DISCLOSURES_COMPELLED,  True,  "GET POST"),
    "rights:accounting-prepare":       _p(A.STAFF,      Perm.RIGHTS_QUEUE_VIEW,      True,  "POST"),
    "portal:disclosures-pdf":          _p(A.PORTAL,     None,                        False, "GET"),
    # --- part retention: a deletion request's plan and execution; the retention schedule and legal holds.
    "rights:deletion":                 _p(A.STAFF,      Perm.DELETION_EXECUTE,       True,  "GET"),
    "rights:deletion-execute":         _p(A.STAFF,      Perm.DELETION_EXECUTE,       True,  "POST", True),
    "retention:schedule":              _p(A.STAFF,      Perm.RETENTION_VIEW,         False, "GET"),
    "retention:hold-set":              _p(A.STAFF,      Perm.LEGAL_HOLD_SET,         False, "POST"),
    "retention:hold-release":          _p(A.STAFF,      Perm.LEGAL_HOLD_SET,         True,  "POST"),
    # --- end part retention
    # --- part "intake" (issue 17): staff log a request; the public form and its code page (the
    # token names an identity check: tenant-scoped)
    "rights:log":                      _p(A.STAFF,      Perm.RIGHTS_REQUEST_LOG,     False, "GET POST"),
    "rights:public-request":           _p(A.PUBLIC,     None,                        True,  "GET POST"),
    "rights:public-verify":            _p(A.PUBLIC,     None,                        True,  "GET POST"),
    # --- end part "intake"
    # --- queue part (issue 17): one request (GET; its actions POST), a kept letter, and the
    # portal's appeal of a decided request (the record is the account's current one).
    "rights:request":                  _p(A.STAFF,      Perm.RIGHTS_QUEUE_VIEW,      True,  "GET"),
    "rights:request-extend":           _p(A.STAFF,      Perm.RIGHTS_REQUEST_DECIDE,  True,  "POST"),
    "rights:request-close":            _p(A.STAFF,      Perm.RIGHTS_REQUEST_DECIDE,  True,  "POST"),
    "rights:request-appeal":           _p(A.STAFF,      Perm.RIGHTS_REQUEST_DECIDE,  True,  "POST"),
    "rights:letter":                   _p(A.STAFF,      Perm.RIGHTS_QUEUE_VIEW,      True,  "GET"),
    "portal:rights-appeal":            _p(A.PORTAL,     None,                        True,  "POST"),
    "portal:rights-letter":            _p(A.PORTAL,     None,                        True,  "GET"),
    # --- end queue part
    # amend part: a correct request's amendment (the page admits any member; the service shows
    # content to AMENDMENT_DECIDE, statuses to the privacy officer, 403 to others), records
    # release links (created and revoked by clinicians and owners; the link itself is public, its
    # token is the key and names its practice), the patient's statement of disagreement.
    "rights:amendment":                _p(A.STAFF,      Perm.DASHBOARD_VIEW,         True,  "GET"),
    "rights:amendment-start":          _p(A.STAFF,      Perm.AMENDMENT_DECIDE,       True,  "POST"),
    "rights:amendment-accept":         _p(A.STAFF,      Perm.AMENDMENT_DECIDE,       True,  "POST"),
    "rights:amendment-deny":           _p(A.STAFF,      Perm.AMENDMENT_DECIDE,       True,  "POST"),
    "rights:amendment-rebuttal":       _p(A.STAFF,      Perm.AMENDMENT_DECIDE,       True,  "POST"),
    "rights:release-new":              _p(A.STAFF,      Perm.AMENDMENT_DECIDE,       True,  "GET POST"),
    "rights:release-revoke":           _p(A.STAFF,      Perm.AMENDMENT_DECIDE,       True,  "POST"),
    "rights:release-open":             _p(A.PUBLIC,     None,                        True,  "GET"),
    "portal:amendment-disagree":       _p(A.PORTAL,     None,                        True,  "POST"),
    # end amend part
    # part "export": a see/copy request's copy (start it, psychotherapy authorization, its progress part).
    "rights:export-start":             _p(A.STAFF,      Perm.RIGHTS_QUEUE_VIEW,      True,  "POST"),
    "rights:export-authorize":         _p(A.STAFF,      Perm.RIGHTS_QUEUE_VIEW,      True,  "POST"),
    "rights:export-status":            _p(A.STAFF,      Perm.RIGHTS_QUEUE_VIEW,      True,  "GET"),
    # "My record" (portal/record.py) and its downloads (portal/exports.py): the record is always the
    # account's current one; a document or an export id is looked up within it (else 404).
    "portal:record":                   _p(A.PORTAL,     None,                        False, "GET"),
    "portal:record-document":          _p(A.PORTAL,     None,                        True,  "GET"),
    "portal:record-export":            _p(A.PORTAL,     None,                        False, "POST"),
    "portal:record-export-status":     _p(A.PORTAL,     None,                        True,  "GET"),
    "portal:record-export-file":       _p(A.PORTAL,     None,                        True,  "GET"),
    # Passkeys (portal/passkey_views.py, accounts/passkeys.py): the account's list, the JSON
    # endpoints of adding one (options, the answer), rename, remove (after a fresh confirmation);
    # signing in with one is public (the passkey is the key), and is the second factor after a password.
    "portal:passkeys":                 _p(A.PORTAL,     None,                        False, "GET"),
    "portal:passkey-options":          _p(A.PORTAL,     None,                        False, "POST"),
    "portal:passkey-add":              _p(A.PORTAL,     None,                        False, "POST"),
    "portal:passkey-rename":           _p(A.PORTAL,     None,                        False, "POST"),
    "portal:passkey-remove":           _p(A.PORTAL,     None,                        False, "GET POST", True),
    "portal:passkey-signin-options":   _p(A.PUBLIC,     None,                        False, "POST"),
    "portal:passkey-signin":           _p(A.PUBLIC,     None,                        False, "POST"),
    # portal accounts (portal/account_views.py): the invitation link and the reset pages are
    # public (the token is the key); removing a second factor and closing the account ask for a
    # fresh confirmation (GET shows what will happen, POST does it).
    "portal:invitation":               _p(A.PUBLIC,     None,                        False, "GET"),
    "portal:invitation-accept":        _p(A.PUBLIC,     None,                        False, "GET POST"),
    "portal:account":                  _p(A.PORTAL,     None,                        False, "GET"),
    "portal:password-change":          _p(A.PORTAL,     None,                        False, "POST"),
    "portal:mfa-remove":               _p(A.PORTAL,     None,                        False, "GET POST", True),
    "portal:recovery-codes":           _p(A.PORTAL,     None,                        False, "POST", True),
    "portal:deactivate":               _p(A.PORTAL,     None,                        False, "GET POST", True),
    "portal:closed":                   _p(A.PUBLIC,     None,                        False, "GET"),
    "portal:password-reset":           _p(A.PUBLIC,     None,                        False, "GET POST"),
    "portal:password-reset-link":      _p(A.PUBLIC,     None,                        False, "GET"),
    "portal:password-reset-new":       _p(A.PUBLIC,     None,                        False, "GET POST"),
    # --- messaging, inbound (issue 15 items 4-6): Twilio's webhooks are public POSTs, CSRF-exempt,
    # authenticated by their signature alone; the queue of texts no single patient matches reads
    # bodies (audited; POST: a patient search to file one under); filing and dismissing are POSTs.
    "messaging:hook-sms":              _p(A.PUBLIC,     None,                        False, "POST"),
    "messaging:hook-sms-status":       _p(A.PUBLIC,     None,                        False, "POST"),
    "messaging:unmatched":             _p(A.STAFF,      Perm.MESSAGES_VIEW,          False, "GET POST"),
    "messaging:unmatched-file":        _p(A.STAFF,      Perm.MESSAGES_SEND,          True,  "POST"),
    "messaging:unmatched-dismiss":     _p(A.STAFF,      Perm.MESSAGES_SEND,          True,  "POST"),
    # Issue 15, the inbox (messaging/views.py): conversations with patients, assignment, replies
    # through the send gate, the practice's templates; the portal's messages tab (portal/views.py).
    "messaging:inbox":                 _p(A.STAFF,      Perm.MESSAGES_VIEW,          False, "GET"),
    "messaging:thread":                _p(A.STAFF,      Perm.MESSAGES_VIEW,          True,  "GET"),
    "messaging:thread-assign":         _p(A.STAFF,      Perm.MESSAGES_SEND,          True,  "POST"),
    "messaging:reply":                 _p(A.STAFF,      Perm.MESSAGES_SEND,          True,  "POST"),
    "messaging:attachment":            _p(A.STAFF,      Perm.MESSAGES_VIEW,          True,  "GET"),
    "messaging:templates":             _p(A.STAFF,      Perm.MESSAGING_CONFIGURE,    False, "GET"),
    "messaging:template-new":          _p(A.STAFF,      Perm.MESSAGING_CONFIGURE,    False, "GET POST"),
    "messaging:template-edit":         _p(A.STAFF,      Perm.MESSAGING_CONFIGURE,    True,  "GET POST"),
    "messaging:template-delete":       _p(A.STAFF,      Perm.MESSAGING_CONFIGURE,    True,  "POST"),
    # Issue 15 follow-up (messaging/views.py): the way out of an urgent flag: an emergency marked
    # handled, a free-text "stop" kept or undone.
    "messaging:thread-handled":        _p(A.STAFF,      Perm.MESSAGES_SEND,          True,  "POST"),
    "messaging:thread-opt-out-review": _p(A.STAFF,      Perm.MESSAGES_SEND,          True,  "POST"),
    "portal:messages":                 _p(A.PORTAL,     None,                        False, "GET"),
    "portal:message-send":             _p(A.PORTAL,     None,                        False, "POST"),
    "portal:message-attachment":       _p(A.PORTAL,     None,                        True,  "GET"),
    # Messaging, e-mail part (issue 15: campaigns, one-click unsubscribe, notification settings).
    # The unsubscribe link is public and CSRF-exempt: mailbox providers POST it with no cookies
    # (RFC 8058); its signed token is the authentication, and only a POST unsubscribes.
    "messaging:campaign-list":         _p(A.STAFF,      Perm.MESSAGING_CONFIGURE,    False, "GET POST"),
    "messaging:campaign-detail":       _p(A.STAFF,      Perm.MESSAGING_CONFIGURE,    True,  "GET"),
    "messaging:campaign-send":         _p(A.STAFF,      Perm.MESSAGING_CONFIGURE,    True,  "POST"),
    "messaging:campaign-progress":     _p(A.STAFF,      Perm.MESSAGING_CONFIGURE,    True,  "GET"),
    "messaging:unsubscribe":           _p(A.PUBLIC,     None,                        True,  "GET POST"),
    # consent part: CONSENT_RECORD (a superset of MESSAGES_SEND's holders, adding the privacy
    # officer), the permission preferences.set_preferences and the consent section ask for.
    "messaging:chart-notifications":   _p(A.STAFF,      Perm.CONSENT_RECORD,         True,  "GET POST"),
    "portal:notifications":            _p(A.PORTAL,     None,                        False, "GET POST"),
    # Messaging, consent part: staff record a patient's agreement to texts/e-mail (by phone, on paper).
    "messaging:chart-consent":         _p(A.STAFF,      Perm.CONSENT_RECORD,         True,  "POST"),
    # Scheduling, feed part: the clinician's own private feed (create, rotate, revoke) and .ics
    # import of busy time; the feed itself is public, its token is the key (names its practice).
    "scheduling:feed":                 _p(A.STAFF,      Perm.SCHEDULE_VIEW,          False, "GET POST"),
    "scheduling:feed-import":          _p(A.STAFF,      Perm.SCHEDULE_VIEW,          False, "POST"),
    "scheduling:feed-ics":             _p(A.PUBLIC,     None,                        True,  "GET"),
    "portal:appointments":             _p(A.PORTAL,     None,                        False, "GET"),
    "portal:appointment-book":         _p(A.PORTAL,     None,                        False, "POST"),
    "portal:appointment-cancel":       _p(A.PORTAL,     None,                        False, "POST"),
    # --- part "reminders" (issue 16): the monthly attendance report, counts only (page, ?format=csv);
    # for those who run the calendar (owner, front desk), not every role that sees it.
    "scheduling:attendance-report":    _p(A.STAFF,      Perm.SCHEDULE_CONFIGURE,     False, "GET"),
    # Directory part (issue 16: profiles, the website, refer-a-colleague). A practitioner edits and
    # publishes only their own profile; the owner themes the website and may take a profile off it.
    "directory:profile":               _p(A.STAFF,      Perm.PROFILE_EDIT,           False, "GET POST"),
    "directory:profile-sensitive":     _p(A.STAFF,      Perm.PROFILE_EDIT,           False, "POST"),
    "directory:profile-publish":       _p(A.STAFF,      Perm.PROFILE_EDIT,           False, "POST"),
    "directory:profile-unpublish":     _p(A.STAFF,      Perm.PROFILE_EDIT,           False, "POST"),
    "directory:website":               _p(A.STAFF,      Perm.WEBSITE_EDIT,           False, "GET POST"),
    "directory:website-unpublish-profile": _p(A.STAFF,  Perm.WEBSITE_EDIT,           True,  "POST"),
    "directory:refer":                 _p(A.STAFF,      Perm.COLLEAGUE_REFER,        False, "GET POST"),
    # The practice's website: 404 while it is not published; profiles only while published.
    "directory:home":                  _p(A.PUBLIC,     None,                        True,  "GET"),
    "directory:theme":                 _p(A.PUBLIC,     None,                        True,  "GET"),
    "directory:logo":                  _p(A.PUBLIC,     None,                        True,  "GET"),
    "directory:team":                  _p(A.PUBLIC,     None,                        True,  "GET"),
    "directory:practitioner":          _p(A.PUBLIC,     None,                        True,  "GET"),
    "directory:photo":                 _p(A.PUBLIC,     None,                        True,  "GET"),
    "directory:services":              _p(A.PUBLIC,     None,                        True,  "GET"),
    "directory:locations":             _p(A.PUBLIC,     None,                        True,  "GET"),
    # A referred colleague's decline link: the signed token (in the query) is the key; POST deletes.
    "directory:referral-decline":      _p(A.PUBLIC,     None,                        True,  "GET POST"),
    # issue 16, part "booking": the public booking page and the staff review of its requests.
    "directory:book":                  _p(A.PUBLIC,     None,                        True,  "GET POST"),
    "directory:booking-requests":      _p(A.STAFF,      Perm.BOOKING_REQUESTS_REVIEW, False, "GET"),
    "directory:booking-request":       _p(A.STAFF,      Perm.BOOKING_REQUESTS_REVIEW, True,  "GET"),
    "directory:booking-accept":        _p(A.STAFF,      Perm.BOOKING_REQUESTS_REVIEW, True,  "POST"),
    "directory:booking-decline":       _p(A.STAFF,      Perm.BOOKING_REQUESTS_REVIEW, True,  "POST"),
    # google part (issue 16 item 4): a member's own Google Calendar link (read-only): the page,
    # connect (POST → Google), Google's redirect back (GET, state + code), disconnect (POST).
    "scheduling:google":               _p(A.STAFF,      Perm.SCHEDULE_VIEW,          False, "GET"),
    "scheduling:google-connect":       _p(A.STAFF,      Perm.SCHEDULE_VIEW,          False, "POST"),
    "scheduling:google-callback":      _p(A.STAFF,      Perm.SCHEDULE_VIEW,          False, "GET"),
    "scheduling:google-disconnect":    _p(A.STAFF,      Perm.SCHEDULE_VIEW,          False, "POST"),
    # --- calendar part (issue 16 items 1-2, scheduling/views.py): the calendar, today's list, a
    # clinician's agenda, booking and one appointment's changes, the set-up screens.
    "scheduling:calendar":             _p(A.STAFF,      Perm.SCHEDULE_VIEW,          False, "GET"),
    "scheduling:today":                _p(A.STAFF,      Perm.SCHEDULE_VIEW,          False, "GET"),
    "scheduling:agenda":               _p(A.STAFF,      Perm.SCHEDULE_VIEW,          False, "GET"),
    "scheduling:book":                 _p(A.STAFF,      Perm.APPOINTMENTS_BOOK,      False, "GET POST"),
    "scheduling:settings":             _p(A.STAFF,      Perm.SCHEDULE_CONFIGURE,     False, "GET POST"),
    "scheduling:waitlist":             _p(A.STAFF,      Perm.SCHEDULE_VIEW,          False, "GET POST"),
    "scheduling:waitlist-close":       _p(A.STAFF,      Perm.APPOINTMENTS_BOOK,      True,  "POST"),
    "scheduling:appointment":          _p(A.STAFF,      Perm.SCHEDULE_VIEW,          True,  "GET"),
    "scheduling:appointment-move":     _p(A.STAFF,      Perm.APPOINTMENTS_BOOK,      True,  "POST"),
    "scheduling:appointment-cancel":   _p(A.STAFF,      Perm.APPOINTMENTS_BOOK,      True,  "POST"),
    "scheduling:appointment-status":   _p(A.STAFF,      Perm.APPOINTMENTS_BOOK,      True,  "POST"),
}  # fmt: skip
