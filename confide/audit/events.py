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
    ACCESS_DENIED = "access:denied"
    BREAK_GLASS = "access:break-glass"
    # policy
    POLICY_PUBLISHED = "policy:version:published"
    POLICY_EGRESS_ALLOWED = "policy:egress:allowed"
    POLICY_EGRESS_REFUSED = "policy:egress:refused"
    # the consent ledger (detail: topic, action, method, channel, subject kind, policy version, conflict)
    CONSENT_GRANTED = "consent:granted"
    CONSENT_WITHDRAWN = "consent:withdrawn"
    CONSENT_DECLINED = "consent:declined"  # asked, and said no (nothing was granted)
    CONSENT_SIGNAL_RECORDED = "consent:signal-recorded"  # a browser signal (Sec-GPC, DNT) honoured for a visitor
