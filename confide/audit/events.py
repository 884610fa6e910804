"""Every kind of audit entry, named `<package>:<resource>:<action>`."""

from enum import StrEnum, unique


@unique
class AuditEvent(StrEnum):
    # accounts (moved here from the foundation's security-event table)
    SIGNIN_SUCCEEDED = "accounts:signin:succeeded"
    SIGNIN_FAILED = "accounts:signin:failed"
    SIGNIN_LOCKED_OUT = "accounts:signin:locked-out"
    SIGNED_OUT = "accounts:signin:signed-out"
    SESSION_IDLE_EXPIRED = "accounts:session:idle-expired"
    SESSION_CAP_REACHED = "accounts:session:cap-reached"  # the absolute limit after sign-in (ACC6)
    MFA_VERIFIED = "accounts:mfa:verified"
    MFA_FAILED = "accounts:mfa:failed"
    MFA_ENROLLED = "accounts:mfa:enrolled"
    MFA_RECOVERY_CODE_USED = "accounts:mfa:recovery-code-used"
    MFA_RECOVERY_CODES_REGENERATED = "accounts:mfa:recovery-codes-regenerated"
    MFA_RESET = "accounts:mfa:reset"
    # passkeys of portal accounts (detail: passkey_id; a failure's reason code, never the credential)
    PASSKEY_ADDED = "accounts:passkey:added"
    PASSKEY_REMOVED = "accounts:passkey:removed"
    PASSKEY_SIGNIN = "accounts:passkey:signed-in"  # detail: step "signin" (both factors) or "second-factor"
    PASSKEY_SIGNIN_FAILED = "accounts:passkey:signin-failed"  # detail: reason (challenge, unknown, verification, sign-count, ...)
    PASSWORD_RESET_REQUESTED = "accounts:password:reset-requested"  # known address: user_id; unknown: identifier_hash only
    PASSWORD_RESET = "accounts:password:reset"  # a reset link used: the new password is set
    REAUTH_SUCCEEDED = "accounts:reauth:succeeded"
    REAUTH_FAILED = "accounts:reauth:failed"
    ROLE_CHANGED = "accounts:membership:role-changed"
    PRACTICE_SWITCHED = "accounts:practice:switched"
    ACCESS_REVOKED_MID_SESSION = "accounts:membership:revoked-mid-session"
    PRACTICE_SETTINGS_CHANGED = "core:practice:settings-changed"
    PRACTICE_CREATED = "core:practice:created"  # `confide practice create` or the first-run page; detail: how
    # invitations (detail: invitation_id, role; never the address or the token)
    INVITATION_SENT = "accounts:invitation:sent"
    INVITATION_RESENT = "accounts:invitation:resent"  # a new link; the old one stops working
    INVITATION_REVOKED = "accounts:invitation:revoked"
    INVITATION_ACCEPTED = "accounts:invitation:accepted"  # detail: membership_id, new_account
    MEMBER_DEACTIVATED = "accounts:membership:deactivated"  # detail: membership_id, sessions_ended
    # the patient portal's accounts (detail: ids, the link kind, a reason code; never an address or a token)
    PORTAL_INVITATION_SENT = "accounts:portal-invitation:sent"  # subject: the record; detail: invitation_id, kind, replaced
    PORTAL_INVITATION_REVOKED = "accounts:portal-invitation:revoked"
    PORTAL_INVITATION_ACCEPTED = "accounts:portal-invitation:accepted"  # detail: invitation_id, link_id, kind, account (new, existing, reactivated)
    PORTAL_INVITATION_REFUSED = "accounts:portal-invitation:refused"  # detail: reason (unknown, expired, used, revoked, other-account, staff-session, …)
    PORTAL_LINK_ENDED = "accounts:portal-link:ended"  # detail: link_id, kind, reason
    PASSWORD_CHANGED = "accounts:password:changed"  # from the account page, with the old password
    MFA_REMOVED = "accounts:mfa:removed"  # a portal account removed its authenticator (after re-authentication)
    PORTAL_ACCOUNT_DEACTIVATED = "accounts:portal-account:deactivated"  # detail: links_ended
    # the log itself
    CHAIN_STARTED = "audit:chain:started"  # a chain's genesis entry: seq 1 of a new practice's chain (detail {} ), or, for a practice older than genesis entries, appended by audit 0004 (detail: existing_entries)
    LOG_EXPORTED = "audit:log:exported"  # the compliance export (`confide audit export`); detail: counts
    # vault
    SUBJECT_SHREDDED = "vault:subject:shredded"
    KEK_ROTATED = "vault:kek:rotated"
    SUBJECT_KEY_ROTATED = "vault:subject-key:rotated"
    # the chart door
    CHART_OPENED = "records:chart:opened"
    CHART_CHANGED = "records:chart:changed"
    PATIENT_CREATED = "records:patient:created"
    PATIENTS_LISTED = "records:patients:listed"  # one entry per list shown; resource_ids name the patients
    NOTE_CREATED = "records:note:created"
    NOTE_UPDATED = "records:note:updated"
    NOTE_SIGNED = "records:note:signed"  # detail: the content hash
    NOTE_ADDENDUM_SIGNED = "records:note:addendum-signed"
    FILE_ADDED = "records:file:added"
    INTAKE_RECEIVED = "records:intake:received"
    INTAKE_REFUSED = "records:intake:refused"  # age rule, honeypot: a reason code, no ids of a person
    INTAKE_OPENED = "records:intake:opened"
    INTAKE_LISTED = "records:intake:listed"  # the queue shown: one entry, resource_ids name every consultation in it
    INTAKE_ACCEPTED = "records:intake:accepted"
    INTAKE_REJECTED = "records:intake:rejected"
    INTAKE_FORM_CHANGED = "records:intake-form:changed"
    PATIENTS_MERGED = "records:patients:merged"  # subject: the chart kept; resource_ids: the duplicate, the merge; detail: counts
    PATIENTS_MERGE_UNDONE = "records:patients:merge-undone"  # the same ids; what came from the duplicate went back
    PATIENTS_MERGE_FINAL = "records:patients:merge-final"  # the same ids; the duplicate's key is shredded
    CHART_EXPORTED = "records:chart:exported"  # a portable copy left the door (RTS2); detail: resource counts
    # The portal's "Download my record" (portal/exports.py): resource_ids name the export; detail: its format.
    RECORD_EXPORT_REQUESTED = "portal:export:requested"
    RECORD_EXPORT_DOWNLOADED = "portal:export:downloaded"
    RECORD_EXPORT_DELETED = "portal:export:deleted"  # the clean-up removed an expired export's file
    ACCESS_DENIED = "access:denied"
    BREAK_GLASS = "access:break-glass"
    BREAK_GLASS_REVIEWED = "access:break-glass:reviewed"  # the privacy officer marked a flagged opening reviewed; resource_ids: its entry
    # policy
    POLICY_PUBLISHED = "policy:version:published"
    POLICY_EGRESS_ALLOWED = "policy:egress:allowed"
    POLICY_EGRESS_REFUSED = "policy:egress:refused"
    # the consent ledger (detail: topic, action, method, channel, subject kind, policy version, conflict)
    CONSENT_GRANTED = "consent:granted"
    CONSENT_WITHDRAWN = "consent:withdrawn"
    CONSENT_DECLINED = "consent:declined"  # asked, and said no (nothing was granted)
    CONSENT_SIGNAL_RECORDED = "consent:signal-recorded"  # a browser signal (Sec-GPC, DNT) honoured for a visitor
    # the patient portal's privacy centre and the rights requests it opens (ids only)
    ACCESS_REPORT_VIEWED = "portal:access-report:viewed"  # "who opened my record"; detail: format, the date filter, row count
    RIGHTS_REQUEST_OPENED = "rights:request:opened"  # resource_ids: the request; detail: its kind
    RIGHTS_QUEUE_VIEWED = "rights:queue:viewed"  # the privacy officer's list of open requests; resource_ids: those shown
    RIGHTS_LETTER_SENT = "rights:letter:sent"  # resource_ids: the request, the letter; detail: kind, channel, status
    DISCLOSURE_RECORDED = "disclosures:disclosure:recorded"  # resource_ids: the disclosure; detail: basis, source, compelled
    # --- part retention: the retention engine, legal holds, a deletion's execution (ids, counts, dates only)
    RECORD_CLOSED = "retention:record:closed"  # the practice closed the account; subject: the patient
    RECORD_ARCHIVED = "retention:record:archived"  # out of the active database; detail: reason, retain_until
    RECORD_DESTROYED = "retention:record:destroyed"  # key shredded and rows deleted; detail: counts per table
    RETENTION_RUN = "retention:run:completed"  # detail: archived, held, destroyed (counts); resource_ids: the records
    RETENTION_VIEWED = "retention:plan:viewed"  # the dry-run view; detail: counts
    LEGAL_HOLD_SET = "retention:hold:set"  # resource_ids: the hold; detail: reason code
    LEGAL_HOLD_RELEASED = "retention:hold:released"  # resource_ids: the hold
    DELETION_PLAN_VIEWED = "retention:deletion:plan-viewed"  # resource_ids: the request
    DELETION_STARTED = "retention:deletion:started"  # resource_ids: the request, the run
    DELETION_STEP = "retention:deletion:step"  # detail: step, counts
    DELETION_REFUSED = "retention:deletion:refused"  # detail: code (legal-hold, not-verified, …)
    # --- end part retention
    # --- part "intake" (issue 17): requests arriving by the public form, staff, the operator; identity checks
    RIGHTS_REQUEST_RECEIVED = "rights:request:received"  # resource_ids: the request; detail: kind, channel, due_on
    RIGHTS_CODE_SENT = "rights:identity:code-sent"  # resource_ids: the request, the check; detail: to (file|agent); never the code
    RIGHTS_IDENTITY_CHECKED = "rights:identity:checked"  # resource_ids: request, check; outcome; detail: result code
    RIGHTS_REQUEST_REFUSED = "rights:request:refused"  # the public form: honeypot (no ids, nothing kept)
    # --- end part "intake"
    # --- queue part (issue 17): the request page, its decisions, the daily sweep (ids, kinds, dates only)
    RIGHTS_REQUEST_VIEWED = "rights:request:viewed"  # the request page; resource_ids: the request
    RIGHTS_REQUEST_EXTENDED = "rights:request:extended"  # detail: reason code, the new due date
    RIGHTS_REQUEST_CLOSED = "rights:request:closed"  # detail: outcome, denial basis code, kind
    RIGHTS_OPT_OUT_APPLIED = "rights:request:opt-out-applied"  # an opt-out request took effect in the ledger; detail: topic
    RIGHTS_SWEEP_ALERTED = "rights:sweep:alerted"  # the daily overdue alert; detail: day, counts; resource_ids: the requests counted
    # --- end queue part
    # amend part: amendments (RTS3) and records release links (DSC1); ids and codes only
    AMENDMENT_STARTED = "rights:amendment:started"  # resource_ids: the request, the amendment; detail: target model, category
    AMENDMENT_DECIDED = "rights:amendment:decided"  # resource_ids: request, amendment (and addendum); detail: outcome, basis
    AMENDMENT_DISAGREEMENT_FILED = "rights:amendment:disagreement"  # resource_ids: amendment, disagreement
    AMENDMENT_REBUTTAL_WRITTEN = "rights:amendment:rebuttal"  # resource_ids: amendment, rebuttal, letter
    RELEASE_CREATED = "rights:release:created"  # resource_ids: link, disclosure; detail: categories, expiry
    RELEASE_REVOKED = "rights:release:revoked"  # resource_ids: the link
    RELEASE_OPENED = "rights:release:opened"  # resource_ids: the link; categories opened
    # part "export"
    RIGHTS_EXPORT_QUEUED = "rights:export:queued"  # resource_ids: the request, the export
    RIGHTS_EXPORT_MADE = "rights:export:made"  # resource_ids: the request, the export; categories; detail: counts, psychotherapy_notes
    RIGHTS_EXPORT_FAILED = "rights:export:failed"  # resource_ids: the request, the export; detail: the error's type
    RIGHTS_EXPORT_DOWNLOADED = "rights:export:downloaded"  # resource_ids: the request, the export
    RIGHTS_EXPORT_DELETED = "rights:export:deleted"  # resource_ids: the request, the export (its file, past the link's time)
    RIGHTS_FEE_SET = "rights:fee:set"  # detail: the copy fee in cents
    RIGHTS_PSYCHOTHERAPY_AUTHORIZATION = "rights:psychotherapy:authorization"  # resource_ids: the request; detail: authorized
    # end part "export"
    # messaging (ids, channel, kind, topic, outcome; never a body, a number or an address)
    MESSAGE_QUEUED = "messaging:message:queued"  # resource_ids: message, thread; detail: channel, kind, topic
    MESSAGE_SENT = "messaging:message:sent"  # detail: channel, kind, topic, carried (body|notice), provider
    MESSAGE_DEFERRED = "messaging:message:deferred"  # detail: code (quiet-hours, subject-cap, rate-…), until
    MESSAGE_REFUSED = "messaging:message:refused"  # detail: code (consent-sms, opted-out, content-photo, egress, …)
    MESSAGE_FAILED = "messaging:message:failed"  # detail: provider error code
    MESSAGE_RECEIVED = "messaging:message:received"  # an inbound text, portal message or e-mail; detail: channel
    MESSAGE_READ = "messaging:message:read"  # staff opened a thread's unread messages; resource_ids: the messages
    THREAD_ASSIGNED = "messaging:thread:assigned"  # detail: assigned_to (a user id) or none
    OPT_OUT_CHANGED = "messaging:opt-out:changed"  # detail: channel, opted_out, source; never the number
    WEBHOOK_REJECTED = "messaging:webhook:rejected"  # detail: hook, reason (signature, replay, malformed)
    # messaging, inbound (issue 15 items 4-6): keywords, the emergency rule, the unmatched queue
    KEYWORD_RECEIVED = "messaging:keyword:received"  # detail: keyword (opt-out, opt-in, help, free-text), matched, reply
    THREAD_FLAGGED = "messaging:thread:flagged"  # resource_ids: thread, message; detail: reason (emergency, crisis, opt-out-review)
    THREAD_URGENT_CLEARED = "messaging:thread:urgent-cleared"  # resource_ids: thread; detail: reason (the flag cleared)
    UNMATCHED_RECEIVED = "messaging:unmatched:received"  # a text no single patient matches; detail: candidates, urgent
    UNMATCHED_VIEWED = "messaging:unmatched:viewed"  # staff read the queue's bodies; resource_ids: the rows shown
    UNMATCHED_FILED = "messaging:unmatched:filed"  # resource_ids: the row, the message it became; subject: the patient
    UNMATCHED_DISMISSED = "messaging:unmatched:dismissed"  # resource_ids: the row
    # messaging, e-mail part: campaigns and notification preferences
    CAMPAIGN_STARTED = "messaging:campaign:started"  # resource_ids: campaign; detail: channel, audience (a count)
    PREFERENCES_CHANGED = "messaging:preferences:changed"  # subject: the patient; detail: {topic: [channels]}
    # scheduling (ids and codes: never a name, a reason typed, or a Google event)
    APPOINTMENT_BOOKED = "scheduling:appointment:booked"  # subject: the patient; detail: status, source
    APPOINTMENT_CHANGED = "scheduling:appointment:changed"  # detail: change (moved|status), from, to
    APPOINTMENT_CANCELLED = "scheduling:appointment:cancelled"  # detail: reason (a code), by_patient
    # scheduling, feed part: the private iCalendar feed and .ics imports (fetches are counted on
    # the feed's row, not logged one by one: see confide/scheduling/feed.py)
    CALENDAR_FEED_CREATED = "scheduling:feed:created"  # resource_ids: the feed; detail: via (page|cli)
    CALENDAR_FEED_ROTATED = "scheduling:feed:rotated"  # resource_ids: the feed; detail: via
    CALENDAR_FEED_REVOKED = "scheduling:feed:revoked"  # resource_ids: the feed
    FEED_INITIALS_CHANGED = "scheduling:feed:initials-changed"  # the practice's switch; detail: on (true|false)
    BLOCKED_TIME_IMPORTED = "scheduling:blocked-time:imported"  # detail: blocks (a count), replaced (a count)
    # directory (issue 16 part "directory"): profile ids, field names and codes; never a name or an address
    PROFILE_UPDATED = "directory:profile:updated"  # resource_ids: profile; fields_changed: the fields
    PROFILE_PUBLISHED = "directory:profile:published"  # resource_ids: profile, the consent event
    PROFILE_UNPUBLISHED = "directory:profile:unpublished"  # resource_ids: profile; detail: by (self|owner)
    WEBSITE_UPDATED = "directory:website:updated"  # resource_ids: website; fields_changed: the fields
    REFERRAL_SENT = "directory:referral:sent"  # resource_ids: referral
    REFERRAL_REFUSED = "directory:referral:refused"  # detail: reason (declined|already-referred)
    REFERRAL_DECLINED = "directory:referral:declined"  # the colleague declined; resource_ids: referral (deleted)
    REFERRALS_PURGED = "directory:referral:purged"  # detail: count (older than 30 days)
    # booking requests from the website (issue 16 item 8, part "booking"): ids and codes only
    BOOKING_REQUEST_RECEIVED = "directory:booking:received"  # subject: the request; detail: guardian
    BOOKING_REQUEST_REFUSED = "directory:booking:refused"  # detail: reason (honeypot, age); no ids of a person
    BOOKING_REQUEST_LISTED = "directory:booking:listed"  # resource_ids: every request shown
    BOOKING_REQUEST_OPENED = "directory:booking:opened"  # subject: the request
    BOOKING_REQUEST_ACCEPTED = "directory:booking:accepted"  # subject: the patient; resource_ids: request, appointment
    BOOKING_REQUEST_DECLINED = "directory:booking:declined"  # subject: the request; detail: reason (a code), told
    # google part (issue 16): a clinician's Google Calendar link; never an event, a title or a token
    GOOGLE_CONNECTED = "scheduling:google:connected"  # resource_ids: the connection; detail: membership_id, scopes
    GOOGLE_REVOKED = "scheduling:google:revoked"  # resource_ids: the connection; detail: membership_id, reason (a code); actor: who (none: Google)
    GOOGLE_SCOPE_REFUSED = "scheduling:google:scope-refused"  # detail: membership_id, granted (scope names), google_confirmed
    # calendar part: the waitlist (subject: the patient; detail: codes only)
    WAITLIST_ADDED = "scheduling:waitlist:added"  # detail: preference (a code), any_clinician
    WAITLIST_CLOSED = "scheduling:waitlist:closed"  # detail: outcome (booked|removed)


# What each event is called on screen and in the CSV export, for people (STYLE: "Opened the
# chart", not `records:chart:opened`). Every event has one: tests/audit/test_event_labels.py.
EVENT_LABELS: dict[str, str] = {
    AuditEvent.SIGNIN_SUCCEEDED: "Signed in",
    AuditEvent.SIGNIN_FAILED: "Failed sign-in",
    AuditEvent.SIGNIN_LOCKED_OUT: "Locked out after failed sign-ins",
    AuditEvent.SIGNED_OUT: "Signed out",
    AuditEvent.SESSION_IDLE_EXPIRED: "Signed out after inactivity",
    AuditEvent.SESSION_CAP_REACHED: "Signed out at the session time limit",
    AuditEvent.MFA_VERIFIED: "Entered a sign-in code",
    AuditEvent.MFA_FAILED: "Failed sign-in code",
    AuditEvent.MFA_ENROLLED: "Set up an authenticator",
    AuditEvent.MFA_RECOVERY_CODE_USED: "Used a recovery code",
    AuditEvent.MFA_RECOVERY_CODES_REGENERATED: "Made new recovery codes",
    AuditEvent.MFA_RESET: "Reset an authenticator",
    AuditEvent.PASSKEY_ADDED: "Added a passkey",
    AuditEvent.PASSKEY_REMOVED: "Removed a passkey",
    AuditEvent.PASSKEY_SIGNIN: "Signed in with a passkey",
    AuditEvent.PASSKEY_SIGNIN_FAILED: "Failed passkey sign-in",
    AuditEvent.REAUTH_SUCCEEDED: "Confirmed password and code",
    AuditEvent.REAUTH_FAILED: "Failed to confirm password and code",
    AuditEvent.ROLE_CHANGED: "Changed a role",
    AuditEvent.PRACTICE_SWITCHED: "Switched practice",
    AuditEvent.ACCESS_REVOKED_MID_SESSION: "Signed out when access was removed",
    AuditEvent.PRACTICE_SETTINGS_CHANGED: "Changed practice settings",
    AuditEvent.PASSWORD_RESET_REQUESTED: "Asked for a password reset link",
    AuditEvent.PASSWORD_RESET: "Reset a password with an e-mailed link",
    AuditEvent.PRACTICE_CREATED: "Created the practice",
    AuditEvent.INVITATION_SENT: "Invited someone to the practice",
    AuditEvent.INVITATION_RESENT: "Sent an invitation again",
    AuditEvent.INVITATION_REVOKED: "Withdrew an invitation",
    AuditEvent.INVITATION_ACCEPTED: "Accepted an invitation",
    AuditEvent.MEMBER_DEACTIVATED: "Removed a member's access",
    AuditEvent.PORTAL_INVITATION_SENT: "Invited someone to the patient portal",
    AuditEvent.PORTAL_INVITATION_REVOKED: "Withdrew a portal invitation",
    AuditEvent.PORTAL_INVITATION_ACCEPTED: "Accepted a portal invitation",
    AuditEvent.PORTAL_INVITATION_REFUSED: "Refused a portal invitation link",
    AuditEvent.PORTAL_LINK_ENDED: "Ended someone's portal access to a record",
    AuditEvent.PASSWORD_CHANGED: "Changed a password",
    AuditEvent.MFA_REMOVED: "Removed an authenticator",
    AuditEvent.PORTAL_ACCOUNT_DEACTIVATED: "Closed a portal account",
    AuditEvent.CHAIN_STARTED: "Started the audit log",
    AuditEvent.LOG_EXPORTED: "Exported the audit log",
    AuditEvent.SUBJECT_SHREDDED: "Erased a record",
    AuditEvent.KEK_ROTATED: "Rotated the practice's key",
    AuditEvent.SUBJECT_KEY_ROTATED: "Rotated a record's key",
    AuditEvent.CHART_OPENED: "Opened the chart",
    AuditEvent.CHART_CHANGED: "Changed the record",
    AuditEvent.PATIENT_CREATED: "Registered a patient",
    AuditEvent.PATIENTS_LISTED: "Listed patients",
    AuditEvent.PATIENTS_MERGED: "Merged two charts of one patient",
    AuditEvent.PATIENTS_MERGE_UNDONE: "Undid a merge of two charts",
    AuditEvent.PATIENTS_MERGE_FINAL: "Made a merge of two charts final",
    AuditEvent.NOTE_CREATED: "Started a note",
    AuditEvent.NOTE_UPDATED: "Edited a draft note",
    AuditEvent.NOTE_SIGNED: "Signed a note",
    AuditEvent.NOTE_ADDENDUM_SIGNED: "Signed an addendum",
    AuditEvent.FILE_ADDED: "Added a file",
    AuditEvent.INTAKE_RECEIVED: "Received an online consultation",
    AuditEvent.INTAKE_REFUSED: "Refused an online consultation",
    AuditEvent.INTAKE_OPENED: "Opened an online consultation",
    AuditEvent.INTAKE_LISTED: "Listed the consultations waiting",
    AuditEvent.INTAKE_ACCEPTED: "Accepted an online consultation",
    AuditEvent.INTAKE_REJECTED: "Rejected an online consultation",
    AuditEvent.INTAKE_FORM_CHANGED: "Changed the consultation form",
    AuditEvent.CHART_EXPORTED: "Exported a patient's copy",
    AuditEvent.RECORD_EXPORT_REQUESTED: "Asked for a copy of the record",
    AuditEvent.RECORD_EXPORT_DOWNLOADED: "Downloaded a copy of the record",
    AuditEvent.RECORD_EXPORT_DELETED: "Deleted an expired copy of the record",
    AuditEvent.ACCESS_DENIED: "Was refused access",
    AuditEvent.BREAK_GLASS: "Broke the glass",
    AuditEvent.BREAK_GLASS_REVIEWED: "Reviewed a break-the-glass opening",
    AuditEvent.POLICY_PUBLISHED: "Published the privacy policy",
    AuditEvent.POLICY_EGRESS_ALLOWED: "Sent data to a processor",
    AuditEvent.POLICY_EGRESS_REFUSED: "Stopped data going to a processor",
    AuditEvent.CONSENT_GRANTED: "Consent given",
    AuditEvent.CONSENT_WITHDRAWN: "Consent withdrawn",
    AuditEvent.CONSENT_DECLINED: "Consent declined",
    AuditEvent.CONSENT_SIGNAL_RECORDED: "Browser privacy signal honoured",
    AuditEvent.ACCESS_REPORT_VIEWED: "Looked at who opened the record",
    AuditEvent.RIGHTS_REQUEST_OPENED: "Made a privacy request",
    AuditEvent.RIGHTS_QUEUE_VIEWED: "Looked at the privacy requests",
    AuditEvent.RIGHTS_LETTER_SENT: "Sent a letter about a privacy request",
    AuditEvent.DISCLOSURE_RECORDED: "Recorded a disclosure of the record",
    # --- part retention
    AuditEvent.RECORD_CLOSED: "Closed a patient's account",
    AuditEvent.RECORD_ARCHIVED: "Moved a record out of the active database into the archive",
    AuditEvent.RECORD_DESTROYED: "Destroyed a record at the end of its retention period",
    AuditEvent.RETENTION_RUN: "Ran the retention schedule",
    AuditEvent.RETENTION_VIEWED: "Looked at what the retention schedule will do",
    AuditEvent.LEGAL_HOLD_SET: "Put a record on legal hold",
    AuditEvent.LEGAL_HOLD_RELEASED: "Released a legal hold",
    AuditEvent.DELETION_PLAN_VIEWED: "Looked at a deletion plan",
    AuditEvent.DELETION_STARTED: "Started a deletion",
    AuditEvent.DELETION_STEP: "Carried out a step of a deletion",
    AuditEvent.DELETION_REFUSED: "Did not carry out a deletion",
    # --- end part retention
    # --- part "intake"
    AuditEvent.RIGHTS_REQUEST_RECEIVED: "Received a privacy request",
    AuditEvent.RIGHTS_CODE_SENT: "Sent a code to confirm who made a privacy request",
    AuditEvent.RIGHTS_IDENTITY_CHECKED: "Checked who made a privacy request",
    AuditEvent.RIGHTS_REQUEST_REFUSED: "Refused an automated privacy request form",
    # --- end part "intake"
    # --- queue part (issue 17)
    AuditEvent.RIGHTS_REQUEST_VIEWED: "Opened a privacy request",
    AuditEvent.RIGHTS_REQUEST_EXTENDED: "Extended the deadline of a privacy request",
    AuditEvent.RIGHTS_REQUEST_CLOSED: "Closed a privacy request",
    AuditEvent.RIGHTS_OPT_OUT_APPLIED: "Applied an opt-out request",
    AuditEvent.RIGHTS_SWEEP_ALERTED: "Alerted the privacy officer to due privacy requests",
    # --- end queue part
    # amend part
    AuditEvent.AMENDMENT_STARTED: "Started reviewing a request to correct the record",
    AuditEvent.AMENDMENT_DECIDED: "Decided a request to correct the record",
    AuditEvent.AMENDMENT_DISAGREEMENT_FILED: "Filed a statement of disagreement",
    AuditEvent.AMENDMENT_REBUTTAL_WRITTEN: "Wrote a rebuttal to a statement of disagreement",
    AuditEvent.RELEASE_CREATED: "Created a records release link",
    AuditEvent.RELEASE_REVOKED: "Revoked a records release link",
    AuditEvent.RELEASE_OPENED: "A records release link was opened",
    # part "export"
    AuditEvent.RIGHTS_EXPORT_QUEUED: "Queued a copy of the record for a privacy request",
    AuditEvent.RIGHTS_EXPORT_MADE: "Prepared a copy of the record for a privacy request",
    AuditEvent.RIGHTS_EXPORT_FAILED: "Could not prepare a copy of the record",
    AuditEvent.RIGHTS_EXPORT_DOWNLOADED: "Downloaded the copy of the record",
    AuditEvent.RIGHTS_EXPORT_DELETED: "Deleted an expired copy made for a privacy request",
    AuditEvent.RIGHTS_FEE_SET: "Set the fee for copies of the record",
    AuditEvent.RIGHTS_PSYCHOTHERAPY_AUTHORIZATION: "Recorded the patient's authorization to include psychotherapy notes in a copy",
    # end part "export"
    AuditEvent.APPOINTMENT_BOOKED: "Booked an appointment",
    AuditEvent.APPOINTMENT_CHANGED: "Changed an appointment",
    AuditEvent.APPOINTMENT_CANCELLED: "Cancelled an appointment",
    AuditEvent.CALENDAR_FEED_CREATED: "Created a private calendar feed",
    AuditEvent.CALENDAR_FEED_ROTATED: "Replaced a private calendar feed's address",
    AuditEvent.CALENDAR_FEED_REVOKED: "Turned off a private calendar feed",
    AuditEvent.FEED_INITIALS_CHANGED: "Changed whether calendar feeds show patients' initials",
    AuditEvent.BLOCKED_TIME_IMPORTED: "Imported busy times from a calendar file",
    AuditEvent.PROFILE_UPDATED: "Edited a practitioner profile",
    AuditEvent.PROFILE_PUBLISHED: "Published a practitioner profile",
    AuditEvent.PROFILE_UNPUBLISHED: "Took a practitioner profile off the website",
    AuditEvent.WEBSITE_UPDATED: "Changed the practice website",
    AuditEvent.REFERRAL_SENT: "Referred a colleague",
    AuditEvent.REFERRAL_REFUSED: "Did not send a referral",
    AuditEvent.REFERRAL_DECLINED: "A referred colleague declined contact",
    AuditEvent.REFERRALS_PURGED: "Deleted expired referrals",
    AuditEvent.BOOKING_REQUEST_RECEIVED: "Received a booking request",
    AuditEvent.BOOKING_REQUEST_REFUSED: "Refused a booking request",
    AuditEvent.BOOKING_REQUEST_LISTED: "Listed the booking requests waiting",
    AuditEvent.BOOKING_REQUEST_OPENED: "Opened a booking request",
    AuditEvent.BOOKING_REQUEST_ACCEPTED: "Accepted a booking request",
    AuditEvent.BOOKING_REQUEST_DECLINED: "Declined a booking request",
    AuditEvent.GOOGLE_CONNECTED: "Connected Google Calendar (read-only)",
    AuditEvent.GOOGLE_REVOKED: "Google Calendar access ended",
    AuditEvent.GOOGLE_SCOPE_REFUSED: "Refused a Google Calendar connection with the wrong permissions",
    AuditEvent.WAITLIST_ADDED: "Put a patient on the waitlist",
    AuditEvent.WAITLIST_CLOSED: "Took a patient off the waitlist",
    AuditEvent.MESSAGE_QUEUED: "Wrote a message",
    AuditEvent.MESSAGE_SENT: "Sent a message",
    AuditEvent.MESSAGE_DEFERRED: "Held a message for the allowed hours",
    AuditEvent.MESSAGE_REFUSED: "Did not send a message",
    AuditEvent.MESSAGE_FAILED: "A message could not be delivered",
    AuditEvent.MESSAGE_RECEIVED: "Received a message",
    AuditEvent.MESSAGE_READ: "Read messages",
    AuditEvent.THREAD_ASSIGNED: "Assigned a conversation",
    AuditEvent.OPT_OUT_CHANGED: "Changed a text or e-mail opt-out",
    AuditEvent.WEBHOOK_REJECTED: "Rejected a provider callback",
    AuditEvent.KEYWORD_RECEIVED: "Answered a STOP, START or HELP text",
    AuditEvent.THREAD_FLAGGED: "Flagged a conversation for staff",
    AuditEvent.THREAD_URGENT_CLEARED: "Marked an urgent conversation as handled",
    AuditEvent.UNMATCHED_RECEIVED: "Received a text from an unknown number",
    AuditEvent.UNMATCHED_VIEWED: "Read texts from unknown numbers",
    AuditEvent.UNMATCHED_FILED: "Filed a text under a patient",
    AuditEvent.UNMATCHED_DISMISSED: "Dismissed a text from an unknown number",
    AuditEvent.CAMPAIGN_STARTED: "Started sending a campaign",
    AuditEvent.PREFERENCES_CHANGED: "Changed notification preferences",
}

# Events that are a failure or a refusal by their nature: `chain.record` writes this outcome
# when its caller left the default "ok" (a failed sign-in code is not "ok"), and the viewer
# shows it for entries written before it did.
FAILURE_OUTCOMES: dict[str, str] = {
    AuditEvent.SIGNIN_FAILED: "failed",
    AuditEvent.SIGNIN_LOCKED_OUT: "refused",
    AuditEvent.MFA_FAILED: "failed",
    AuditEvent.PASSKEY_SIGNIN_FAILED: "failed",
    AuditEvent.REAUTH_FAILED: "failed",
    AuditEvent.ACCESS_DENIED: "denied",
    AuditEvent.INTAKE_REFUSED: "refused",
    AuditEvent.BOOKING_REQUEST_REFUSED: "refused",
    AuditEvent.PORTAL_INVITATION_REFUSED: "refused",
    AuditEvent.POLICY_EGRESS_REFUSED: "denied",
    AuditEvent.MESSAGE_REFUSED: "refused",
    AuditEvent.MESSAGE_FAILED: "failed",
    AuditEvent.WEBHOOK_REJECTED: "refused",
    AuditEvent.REFERRAL_REFUSED: "refused",
    AuditEvent.GOOGLE_SCOPE_REFUSED: "refused",
    AuditEvent.DELETION_REFUSED: "refused",  # part retention
}

OUTCOME_LABELS = {"ok": "Done", "failed": "Failed", "denied": "Refused", "refused": "Refused"}


def event_label(event: str) -> str:
    """The event in words; an unknown name (an entry older than a rename) as it is stored."""
    return EVENT_LABELS.get(event, event)


def outcome_of(event: str, outcome: str) -> str:
    """The outcome an entry stands for: its own, or its event's failure for an old "ok"."""
    return FAILURE_OUTCOMES.get(event, outcome) if outcome == "ok" else outcome


def outcome_label(event: str, outcome: str) -> str:
    value = outcome_of(event, outcome)
    return OUTCOME_LABELS.get(value, value.capitalize())
