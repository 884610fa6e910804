"""Roles and permissions: one table, snapshot-tested (tests/security/test_permissions_table.py).

A permission names `<package>:<resource>:<action>`. Later packages add their members here and
grant them in ROLE_PERMISSIONS so every change to who-may-do-what is one visible diff.
"""

from __future__ import annotations

from enum import StrEnum, unique

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    CLINICIAN = "clinician", "Clinician"
    FRONT_DESK = "front_desk", "Front desk"
    BILLING = "billing", "Billing"
    PRIVACY_OFFICER = "privacy_officer", "Privacy officer"


@unique
class Perm(StrEnum):
    DASHBOARD_VIEW = "core:dashboard:view"
    STAFF_LIST = "accounts:staff:list"
    STAFF_CHANGE_ROLE = "accounts:staff:change-role"
    STAFF_RESET_MFA = "accounts:staff:reset-mfa"
    STAFF_INVITE = "accounts:staff:invite"  # invite by e-mail with a role; revoke or resend invitations
    STAFF_DEACTIVATE = "accounts:staff:deactivate"  # end a member's access (their sessions end with it)
    SECURITY_EVENTS_VIEW = "accounts:security-events:view"
    PRACTICE_SETTINGS_EDIT = "core:practice-settings:edit"
    # Chart permissions: granted now so the role table is whole; the records issue adds the views.
    CHART_READ = "records:chart:read"
    CHART_WRITE = "records:chart:write"
    CONTACT_READ = "records:contact:read"
    BILLING_READ = "billing:invoice:read"
    AUDIT_LOG_VIEW = "audit:log:view"
    BREAK_GLASS_REVIEW = "access:break-glass:review"
    POLICY_EDIT = "policy:declaration:edit"
    REGISTRATION_WRITE = "records:registration:write"  # who a patient is and how to reach them
    BILLING_WRITE = "billing:insurance:write"
    INTAKE_REVIEW = "records:intake:review"  # read online consultations, accept or reject them
    INTAKE_CONFIGURE = "records:intake:configure"  # the questions and authorization text
    # Record a patient's consent choice made by phone, on paper, or imported (the staff member is recorded too).
    CONSENT_RECORD = "consent:patient:record"
    # The privacy officer's queue of patients' rights requests (see, copy, correct, delete, restrict).
    RIGHTS_QUEUE_VIEW = "rights:request:view"
    # part "intake": log a rights request received by e-mail, phone, letter or in person.
    RIGHTS_REQUEST_LOG = "rights:request:log"
    # queue part (issue 17): extend a request's deadline, close it with an outcome, log an appeal.
    RIGHTS_REQUEST_DECIDE = "rights:request:decide"
    # amend part: decide a request to correct the record, write a rebuttal, create or revoke a
    # records release link (clinical: owner and clinician; the privacy officer sees status only).
    AMENDMENT_DECIDE = "rights:amendment:decide"
    # The inbox: read and answer patients' messages, assign conversations (messaging/).
    MESSAGES_VIEW = "messaging:thread:view"
    MESSAGES_SEND = "messaging:message:send"
    # Message templates, campaigns to patients who opted in, the development outbox.
    MESSAGING_CONFIGURE = "messaging:settings:edit"
    # The calendar (scheduling/): see it (names and times only), book/move/cancel/mark, and set
    # it up (locations, rooms, appointment types, working hours, reminders, the time zone).
    SCHEDULE_VIEW = "scheduling:calendar:view"
    APPOINTMENTS_BOOK = "scheduling:appointment:book"
    SCHEDULE_CONFIGURE = "scheduling:settings:edit"
    # The practice's public face (directory/): a practitioner's own profile, the website's
    # pages and theme, the booking requests from the website, referring a colleague.
    PROFILE_EDIT = "directory:profile:edit"
    WEBSITE_EDIT = "directory:website:edit"
    BOOKING_REQUESTS_REVIEW = "directory:booking:review"
    COLLEAGUE_REFER = "directory:referral:send"
    # disc part: the accounting of disclosures (confide/disclosures/): record a disclosure made
    # outside treatment, payment and operations (a paper release, a call to public health) and
    # read a patient's accounting; produce a package the law compels (owner only).
    DISCLOSURES_RECORD = "disclosures:disclosure:record"
    DISCLOSURES_COMPELLED = "disclosures:compelled:produce"
    # --- part retention
    RETENTION_VIEW = "retention:schedule:view"
    LEGAL_HOLD_SET = "retention:hold:set"
    DELETION_EXECUTE = "retention:deletion:execute"
    # --- end part retention


_EVERY_ROLE = frozenset({Perm.DASHBOARD_VIEW})

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.OWNER: _EVERY_ROLE
    | {
        Perm.STAFF_LIST,
        Perm.STAFF_CHANGE_ROLE,
        Perm.STAFF_RESET_MFA,
        Perm.STAFF_INVITE,
        Perm.STAFF_DEACTIVATE,
        Perm.SECURITY_EVENTS_VIEW,
        Perm.PRACTICE_SETTINGS_EDIT,
        Perm.CHART_READ,
        Perm.CHART_WRITE,
        Perm.CONTACT_READ,
        Perm.BILLING_READ,
        Perm.AUDIT_LOG_VIEW,
        # The owner answers for the practice and may be its privacy officer too (one role per
        # membership), so they review break-the-glass openings as well.
        Perm.BREAK_GLASS_REVIEW,
        Perm.POLICY_EDIT,
        Perm.REGISTRATION_WRITE,
        Perm.BILLING_WRITE,
        Perm.INTAKE_REVIEW,
        Perm.INTAKE_CONFIGURE,
        Perm.CONSENT_RECORD,
        Perm.RIGHTS_QUEUE_VIEW,
        Perm.RIGHTS_REQUEST_DECIDE,  # queue part
        Perm.MESSAGES_VIEW,
        Perm.MESSAGES_SEND,
        Perm.MESSAGING_CONFIGURE,
        Perm.SCHEDULE_VIEW,
        Perm.APPOINTMENTS_BOOK,
        Perm.SCHEDULE_CONFIGURE,
        Perm.PROFILE_EDIT,
        Perm.WEBSITE_EDIT,
        Perm.BOOKING_REQUESTS_REVIEW,
        Perm.COLLEAGUE_REFER,
        # disc part
        Perm.DISCLOSURES_RECORD,
        Perm.DISCLOSURES_COMPELLED,
        Perm.RETENTION_VIEW, Perm.LEGAL_HOLD_SET, Perm.DELETION_EXECUTE,  # part retention
        Perm.RIGHTS_REQUEST_LOG,  # part "intake"
        Perm.AMENDMENT_DECIDE,  # amend part
    },
    # Consent is recorded by whoever takes the patient's call or form: clinicians, the front
    # desk, the privacy officer (who answers consent questions). Billing does not.
    Role.CLINICIAN: _EVERY_ROLE
    | {Perm.CHART_READ, Perm.CHART_WRITE, Perm.CONTACT_READ, Perm.REGISTRATION_WRITE, Perm.INTAKE_REVIEW, Perm.CONSENT_RECORD,
       Perm.MESSAGES_VIEW, Perm.MESSAGES_SEND, Perm.SCHEDULE_VIEW, Perm.APPOINTMENTS_BOOK, Perm.PROFILE_EDIT,
       Perm.BOOKING_REQUESTS_REVIEW, Perm.COLLEAGUE_REFER,
       Perm.AMENDMENT_DECIDE},  # amend part
    # The front desk lives in the inbox: answers, assigns, keeps the templates.
    Role.FRONT_DESK: _EVERY_ROLE | {Perm.CONTACT_READ, Perm.REGISTRATION_WRITE, Perm.CONSENT_RECORD, Perm.MESSAGES_VIEW,
                                    Perm.MESSAGES_SEND, Perm.MESSAGING_CONFIGURE, Perm.SCHEDULE_VIEW,
                                    Perm.APPOINTMENTS_BOOK, Perm.SCHEDULE_CONFIGURE, Perm.BOOKING_REQUESTS_REVIEW,
                                    Perm.RIGHTS_REQUEST_LOG},  # part "intake": RIGHTS_REQUEST_LOG
    Role.BILLING: _EVERY_ROLE | {Perm.CONTACT_READ, Perm.BILLING_READ, Perm.BILLING_WRITE},
    Role.PRIVACY_OFFICER: _EVERY_ROLE
    | {
        Perm.STAFF_LIST,
        Perm.SECURITY_EVENTS_VIEW,
        Perm.CHART_READ,
        Perm.AUDIT_LOG_VIEW,
        Perm.BREAK_GLASS_REVIEW,
        Perm.POLICY_EDIT,
        Perm.CONSENT_RECORD,
        Perm.RIGHTS_QUEUE_VIEW,
        # disc part
        Perm.DISCLOSURES_RECORD,
        Perm.RETENTION_VIEW, Perm.LEGAL_HOLD_SET, Perm.DELETION_EXECUTE,  # part retention
        Perm.RIGHTS_REQUEST_LOG,  # part "intake"
        Perm.RIGHTS_REQUEST_DECIDE,  # queue part
    },
}

# Permissions that let a role see any PHI at all; holders must enrol in MFA (ACC2).
PHI_PERMISSIONS = frozenset({
    Perm.CHART_READ, Perm.CHART_WRITE, Perm.CONTACT_READ, Perm.BILLING_READ, Perm.REGISTRATION_WRITE, Perm.BILLING_WRITE,
    Perm.INTAKE_REVIEW, Perm.MESSAGES_VIEW, Perm.MESSAGES_SEND, Perm.SCHEDULE_VIEW, Perm.APPOINTMENTS_BOOK,
    Perm.BOOKING_REQUESTS_REVIEW,
    # disc part: the accounting names recipients and what was disclosed
    Perm.DISCLOSURES_RECORD, Perm.DISCLOSURES_COMPELLED,
})  # fmt: skip


def role_has(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(Role(role), frozenset())


def role_sees_phi(role: str) -> bool:
    return bool(ROLE_PERMISSIONS[Role(role)] & PHI_PERMISSIONS)
