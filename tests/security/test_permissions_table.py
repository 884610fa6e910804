"""Snapshots of who-may-do-what. A change to a role, a permission or a route's access policy
must show up as a diff of this file, reviewed on purpose — never as a side effect."""

from __future__ import annotations

from confide.core.permissions import PHI_PERMISSIONS, ROLE_PERMISSIONS, Perm, Role
from confide.core.routes import ROUTE_POLICY

EXPECTED_PERMS = [
    "core:dashboard:view",
    "accounts:staff:list",
    "accounts:staff:change-role",
    "accounts:staff:reset-mfa",
    "accounts:staff:invite",
    "accounts:staff:deactivate",
    "accounts:security-events:view",
    "core:practice-settings:edit",
    "records:chart:read",
    "records:chart:write",
    "records:contact:read",
    "billing:invoice:read",
    "audit:log:view",
    "access:break-glass:review",
    "policy:declaration:edit",
    "records:registration:write",
    "billing:insurance:write",
    "records:intake:review",
    "records:intake:configure",
    "consent:patient:record",
    "rights:request:view",
    "rights:request:log",  # issue 17, part "intake"
    "messaging:thread:view",
    "messaging:message:send",
    "messaging:settings:edit",
    "scheduling:calendar:view",
    "scheduling:appointment:book",
    "scheduling:settings:edit",
    "directory:profile:edit",
    "directory:website:edit",
    "directory:booking:review",
    "directory:referral:send",
    # disc part
    "disclosures:disclosure:record",
    "disclosures:compelled:produce",
    # --- part retention
    "retention:schedule:view",
    "retention:hold:set",
    "retention:deletion:execute",
    # --- end part retention
]

EXPECTED_ROLE_PERMISSIONS = {
    "owner": [
        "access:break-glass:review",
        "accounts:security-events:view",
        "accounts:staff:change-role",
        "accounts:staff:deactivate",
        "accounts:staff:invite",
        "accounts:staff:list",
        "accounts:staff:reset-mfa",
        "audit:log:view",
        "billing:insurance:write",
        "billing:invoice:read",
        "consent:patient:record",
        "core:dashboard:view",
        "core:practice-settings:edit",
        "directory:booking:review",
        "directory:profile:edit",
        "directory:referral:send",
        "directory:website:edit",
        "disclosures:compelled:produce",
        "disclosures:disclosure:record",
        "messaging:message:send",
        "messaging:settings:edit",
        "messaging:thread:view",
        "policy:declaration:edit",
        "records:chart:read",
        "records:chart:write",
        "records:contact:read",
        "records:intake:configure",
        "records:intake:review",
        "records:registration:write",
        "retention:deletion:execute",  # part retention
        "retention:hold:set",  # part retention
        "retention:schedule:view",  # part retention
        "rights:request:log",  # part "intake"
        "rights:request:view",
        "scheduling:appointment:book",
        "scheduling:calendar:view",
        "scheduling:settings:edit",
    ],
    "clinician": [
        "consent:patient:record",
        "core:dashboard:view",
        "directory:booking:review",
        "directory:profile:edit",
        "directory:referral:send",
        "messaging:message:send",
        "messaging:thread:view",
        "records:chart:read",
        "records:chart:write",
        "records:contact:read",
        "records:intake:review",
        "records:registration:write",
        "scheduling:appointment:book",
        "scheduling:calendar:view",
    ],
    "front_desk": [
        "consent:patient:record",
        "core:dashboard:view",
        "directory:booking:review",
        "messaging:message:send",
        "messaging:settings:edit",
        "messaging:thread:view",
        "records:contact:read",
        "records:registration:write",
        "rights:request:log",  # part "intake"
        "scheduling:appointment:book",
        "scheduling:calendar:view",
        "scheduling:settings:edit",
    ],
    "billing": [
        "billing:insurance:write",
        "billing:invoice:read",
        "core:dashboard:view",
        "records:contact:read",
    ],
    "privacy_officer": [
        "access:break-glass:review",
        "accounts:security-events:view",
        "accounts:staff:list",
        "audit:log:view",
        "consent:patient:record",
        "core:dashboard:view",
        "disclosures:disclosure:record",
        "policy:declaration:edit",
        "records:chart:read",
        "retention:deletion:execute",  # part retention
        "retention:hold:set",  # part retention
        "retention:schedule:view",  # part retention
        "rights:request:log",  # part "intake"
        "rights:request:view",
    ],
}

EXPECTED_PHI_PERMISSIONS = [
    "billing:insurance:write", "billing:invoice:read", "directory:booking:review",
    "disclosures:compelled:produce", "disclosures:disclosure:record", "messaging:message:send",
    "messaging:thread:view", "records:chart:read", "records:chart:write", "records:contact:read",
    "records:intake:review", "records:registration:write", "scheduling:appointment:book", "scheduling:calendar:view",
]

# name -> (audience, perm, tenant_scoped, sorted methods, recent_auth)
EXPECTED_ROUTE_POLICY = {
    "core:healthz":                       ("public",     None,                            False, ["GET"],         False),
    "core:dashboard":                     ("staff",      "core:dashboard:view",           False, ["GET"],         False),
    "accounts:select-practice":               ("account",    None,                            False, ["GET"],         False),
    "accounts:switch-practice":               ("account",    None,                            False, ["POST"],        False),
    "accounts:practice-settings":             ("staff",      "core:practice-settings:edit",   False, ["GET", "POST"], True),
    "accounts:login":                     ("public",     None,                            False, ["GET", "POST"], False),
    "accounts:logout":                    ("signing-in", None,                            False, ["POST"],        False),
    "accounts:mfa-verify":                ("signing-in", None,                            False, ["GET", "POST"], False),
    "accounts:mfa-enrol":                 ("signing-in", None,                            False, ["GET", "POST"], False),
    "accounts:reauth":                    ("account",    None,                            False, ["GET", "POST"], False),
    "accounts:security":                  ("account",    None,                            False, ["GET"],         False),
    "accounts:recovery-codes-regenerate": ("account",    None,                            False, ["POST"],        True),
    "accounts:mfa-replace":               ("account",    None,                            False, ["POST"],        True),
    "accounts:staff-list":                ("staff",      "accounts:staff:list",           False, ["GET"],         False),
    "accounts:staff-change-role":         ("staff",      "accounts:staff:change-role",    True,  ["POST"],        True),
    "accounts:staff-reset-mfa":           ("staff",      "accounts:staff:reset-mfa",      True,  ["POST"],        True),
    "accounts:security-events":           ("staff",      "accounts:security-events:view", False, ["GET"],         False),
    "accounts:staff-invite":              ("staff",      "accounts:staff:invite",         False, ["POST"],        True),
    "accounts:invitation-revoke":         ("staff",      "accounts:staff:invite",         True,  ["POST"],        False),
    "accounts:invitation-resend":         ("staff",      "accounts:staff:invite",         True,  ["POST"],        True),
    "accounts:staff-deactivate":          ("staff",      "accounts:staff:deactivate",     True,  ["POST"],        True),
    "accounts:invitation":                ("public",     None,                            False, ["GET"],         False),
    "accounts:invitation-accept":         ("public",     None,                            False, ["GET", "POST"], False),
    "accounts:password-reset":            ("public",     None,                            False, ["GET", "POST"], False),
    "accounts:password-reset-link":       ("public",     None,                            False, ["GET"], False),
    "accounts:password-reset-new":        ("public",     None,                            False, ["GET", "POST"], False),
    "site:setup":                         ("public",     None,                            False, ["GET", "POST"], False),
    "records:patient-list":               ("staff",      "records:contact:read",          False, ["GET", "POST"], False),
    "records:patient-new":                ("staff",      "records:registration:write",    False, ["GET", "POST"], False),
    "records:chart":                      ("staff",      "records:contact:read",          True,  ["GET"],         False),
    "records:chart-clinical":             ("staff",      "records:contact:read",          True,  ["GET"],         False),
    "records:chart-notes":                ("staff",      "records:contact:read",          True,  ["GET"],         False),
    "records:chart-documents":            ("staff",      "records:contact:read",          True,  ["GET"],         False),
    "records:chart-consultations":        ("staff",      "records:contact:read",          True,  ["GET"],         False),
    "records:chart-privacy":              ("staff",      "records:chart:read",            True,  ["GET"],         False),
    "records:patient-edit":               ("staff",      "records:registration:write",    True,  ["GET", "POST"], False),
    "records:patient-merge":              ("staff",      "records:chart:write",           True,  ["GET", "POST"], True),
    "records:chart-psychotherapy":        ("staff",      "records:chart:write",           True,  ["GET"], False),
    "records:chart-break-glass":          ("staff",      "records:chart:write",           True,  ["POST"], False),
    "records:audit-patient-finder":       ("staff",      "audit:log:view",                False, ["GET", "POST"], False),
    "access:break-glass-reviewed":        ("staff",      "access:break-glass:review",     True,  ["POST"], False),
    "records:chart-portal":               ("staff",      "records:registration:write",    True,  ["GET", "POST"], False),
    "records:patient-edit-health":        ("staff",      "records:chart:write",           True,  ["GET", "POST"], False),
    "records:patient-edit-insurance":     ("staff",      "billing:insurance:write",       True,  ["GET", "POST"], False),
    "records:medication-add":             ("staff",      "records:chart:write",           True,  ["POST"],        False),
    "records:allergy-add":                ("staff",      "records:chart:write",           True,  ["POST"],        False),
    "records:condition-add":              ("staff",      "records:chart:write",           True,  ["POST"],        False),
    "records:item-status":                ("staff",      "records:chart:write",           True,  ["POST"],        False),
    "records:note-new":                   ("staff",      "records:chart:write",           True,  ["GET", "POST"], False),
    "records:note-edit":                  ("staff",      "records:chart:write",           True,  ["GET", "POST"], False),
    "records:note-sign":                  ("staff",      "records:chart:write",           True,  ["GET", "POST"], False),
    "records:note-addendum":              ("staff",      "records:chart:write",           True,  ["GET", "POST"], False),
    "records:psychotherapy-new":          ("staff",      "records:chart:write",           True,  ["POST"],        False),
    "records:psychotherapy-sign":         ("staff",      "records:chart:write",           True,  ["GET", "POST"], False),
    "records:psychotherapy-addendum":     ("staff",      "records:chart:write",           True,  ["GET", "POST"], False),
    "records:file-upload":                ("staff",      "records:chart:write",           True,  ["POST"],        False),
    "records:document-download":          ("staff",      "records:contact:read",          True,  ["GET"],         False),
    "records:authorization-download":     ("staff",      "records:contact:read",          True,  ["GET"],         False),
    "records:portal-link-document":       ("staff",      "records:registration:write",    True,  ["POST"],        False),
    "records:photo-view":                 ("staff",      "records:contact:read",          True,  ["GET"],         False),
    "records:photo-image":                ("staff",      "records:contact:read",          True,  ["GET"],         False),
    "audit:log":                          ("staff",      "audit:log:view",                False, ["GET"],         False),
    "audit:log-export":                   ("staff",      "audit:log:view",                False, ["GET"],         True),
    "access:break-glass-report":          ("staff",      "access:break-glass:review",     False, ["GET"],         False),
    "policy:notice":                      ("public",     None,                            True,  ["GET"],         False),
    "policy:notice-version":              ("public",     None,                            True,  ["GET"],         False),
    "intake:consult":                     ("public",     None,                            True,  ["GET", "POST"], False),
    "intake:queue":                       ("staff",      "records:contact:read",          False, ["GET"],         False),
    "intake:form":                        ("staff",      "records:intake:configure",      False, ["GET", "POST"], False),
    "intake:detail":                      ("staff",      "records:intake:review",         True,  ["GET"],         False),
    "intake:photo":                       ("staff",      "records:intake:review",         True,  ["GET"],         False),
    "intake:accept":                      ("staff",      "records:intake:review",         True,  ["POST"],        False),
    "intake:reject":                      ("staff",      "records:intake:review",         True,  ["POST"],        False),
    "policy:settings":                    ("staff",      "policy:declaration:edit",       False, ["GET", "POST"], False),
    "policy:publish":                     ("staff",      "policy:declaration:edit",       False, ["POST"],        True),
    "policy:acknowledge":                 ("staff",      "core:dashboard:view",           True,  ["POST"],        False),
    "consent:choices":                    ("public",     None,                            True,  ["GET", "POST"], False),
    "consent:do-not-sell":                ("public",     None,                            True,  ["GET", "POST"], False),
    "consent:limit-sensitive":            ("public",     None,                            True,  ["GET", "POST"], False),
    "consent:collect":                    ("public",     None,                            True,  ["POST"],        False),
    "portal:signin":                      ("public",     None,                            False, ["GET", "POST"], False),
    "portal:signout":                     ("portal-signing-in", None,                     False, ["POST"],        False),
    "portal:mfa-verify":                  ("portal-signing-in", None,                     False, ["GET", "POST"], False),
    "portal:mfa-enrol":                   ("portal-signing-in", None,                     False, ["GET", "POST"], False),
    "portal:reauth":                      ("portal",     None,                            False, ["GET", "POST"], False),
    "portal:home":                        ("portal",     None,                            False, ["GET"],         False),
    "portal:switch":                      ("portal",     None,                            False, ["POST"],        False),
    "portal:privacy":                     ("portal",     None,                            False, ["GET"],         False),
    "portal:privacy-choice":              ("portal",     None,                            False, ["POST"],        False),
    "portal:access-csv":                  ("portal",     None,                            False, ["GET"],         False),
    "portal:access-pdf":                  ("portal",     None,                            False, ["GET"],         False),
    "portal:rights-request":              ("portal",     None,                            False, ["POST"],        False),
    "portal:acknowledge-notice":          ("portal",     None,                            False, ["POST"],        False),
    # twilio part: the console outbox page
    "messaging:outbox":                   ("staff",      "messaging:settings:edit",       False, ["GET"],         False),
    "rights:queue":                       ("staff",      "rights:request:view",           False, ["GET"],         False),
    # disc part
    "disclosures:patient":                ("staff",      "disclosures:disclosure:record", True,  ["GET"],         False),
    "disclosures:report":                 ("staff",      "disclosures:disclosure:record", True,  ["GET"],         False),
    "disclosures:record":                 ("staff",      "disclosures:disclosure:record", True,  ["GET", "POST"], False),
    "disclosures:compelled":              ("staff",      "disclosures:compelled:produce", True,  ["GET", "POST"], False),
    "rights:accounting-prepare":          ("staff",      "rights:request:view",           True,  ["POST"],        False),
    "portal:disclosures-pdf":             ("portal",     None,                            False, ["GET"],         False),
    # --- part retention
    "rights:deletion":                    ("staff",      "retention:deletion:execute",    True,  ["GET"],         False),
    "rights:deletion-execute":            ("staff",      "retention:deletion:execute",    True,  ["POST"],        True),
    "retention:schedule":                 ("staff",      "retention:schedule:view",       False, ["GET"],         False),
    "retention:hold-set":                 ("staff",      "retention:hold:set",            False, ["POST"],        False),
    "retention:hold-release":             ("staff",      "retention:hold:set",            True,  ["POST"],        False),
    # --- end part retention
    # issue 17, part "intake": staff log a request; the public form and its code page
    "rights:log":                         ("staff",      "rights:request:log",            False, ["GET", "POST"], False),
    "rights:public-request":              ("public",     None,                            True,  ["GET", "POST"], False),
    "rights:public-verify":               ("public",     None,                            True,  ["GET", "POST"], False),
    "portal:record":                      ("portal",     None,                            False, ["GET"],         False),
    "portal:record-document":             ("portal",     None,                            True,  ["GET"],         False),
    "portal:record-export":               ("portal",     None,                            False, ["POST"],        False),
    "portal:record-export-status":        ("portal",     None,                            True,  ["GET"],         False),
    "portal:record-export-file":          ("portal",     None,                            True,  ["GET"],         False),
    "portal:passkeys":                    ("portal",     None,                            False, ["GET"],         False),
    "portal:passkey-options":             ("portal",     None,                            False, ["POST"],        False),
    "portal:passkey-add":                 ("portal",     None,                            False, ["POST"],        False),
    "portal:passkey-rename":              ("portal",     None,                            False, ["POST"],        False),
    "portal:passkey-remove":              ("portal",     None,                            False, ["GET", "POST"], True),
    "portal:passkey-signin-options":      ("public",     None,                            False, ["POST"],        False),
    "portal:passkey-signin":              ("public",     None,                            False, ["POST"],        False),
    "portal:invitation":                  ("public",     None,                            False, ["GET"],         False),
    "portal:invitation-accept":           ("public",     None,                            False, ["GET", "POST"], False),
    "portal:account":                     ("portal",     None,                            False, ["GET"],         False),
    "portal:password-change":             ("portal",     None,                            False, ["POST"],        False),
    "portal:mfa-remove":                  ("portal",     None,                            False, ["GET", "POST"], True),
    "portal:recovery-codes":              ("portal",     None,                            False, ["POST"],        True),
    "portal:deactivate":                  ("portal",     None,                            False, ["GET", "POST"], True),
    "portal:closed":                      ("public",     None,                            False, ["GET"],         False),
    "portal:password-reset":              ("public",     None,                            False, ["GET", "POST"], False),
    "portal:password-reset-link":         ("public",     None,                            False, ["GET"],         False),
    "portal:password-reset-new":          ("public",     None,                            False, ["GET", "POST"], False),
    # messaging, inbound (issue 15 items 4-6)
    "messaging:hook-sms":                 ("public",     None,                            False, ["POST"],        False),
    "messaging:hook-sms-status":          ("public",     None,                            False, ["POST"],        False),
    "messaging:unmatched":                ("staff",      "messaging:thread:view",         False, ["GET", "POST"], False),
    "messaging:unmatched-file":           ("staff",      "messaging:message:send",        True,  ["POST"],        False),
    "messaging:unmatched-dismiss":        ("staff",      "messaging:message:send",        True,  ["POST"],        False),
    # Issue 15, the inbox and the portal's messages tab.
    "messaging:inbox":                    ("staff",      "messaging:thread:view",         False, ["GET"],         False),
    "messaging:thread":                   ("staff",      "messaging:thread:view",         True,  ["GET"],         False),
    "messaging:thread-assign":            ("staff",      "messaging:message:send",        True,  ["POST"],        False),
    "messaging:reply":                    ("staff",      "messaging:message:send",        True,  ["POST"],        False),
    "messaging:attachment":               ("staff",      "messaging:thread:view",         True,  ["GET"],         False),
    "messaging:templates":                ("staff",      "messaging:settings:edit",       False, ["GET"],         False),
    "messaging:template-new":             ("staff",      "messaging:settings:edit",       False, ["GET", "POST"], False),
    "messaging:template-edit":            ("staff",      "messaging:settings:edit",       True,  ["GET", "POST"], False),
    "messaging:template-delete":          ("staff",      "messaging:settings:edit",       True,  ["POST"],        False),
    # Issue 15 follow-up: the way out of an urgent flag.
    "messaging:thread-handled":           ("staff",      "messaging:message:send",        True,  ["POST"],        False),
    "messaging:thread-opt-out-review":    ("staff",      "messaging:message:send",        True,  ["POST"],        False),
    "portal:messages":                    ("portal",     None,                            False, ["GET"],         False),
    "portal:message-send":                ("portal",     None,                            False, ["POST"],        False),
    "portal:message-attachment":          ("portal",     None,                            True,  ["GET"],         False),
    # Messaging, e-mail part (issue 15): campaigns, one-click unsubscribe, notification settings
    "messaging:campaign-list":            ("staff",      "messaging:settings:edit",       False, ["GET", "POST"], False),
    "messaging:campaign-detail":          ("staff",      "messaging:settings:edit",       True,  ["GET"],         False),
    "messaging:campaign-send":            ("staff",      "messaging:settings:edit",       True,  ["POST"],        False),
    "messaging:campaign-progress":        ("staff",      "messaging:settings:edit",       True,  ["GET"],         False),
    "messaging:unsubscribe":              ("public",     None,                            True,  ["GET", "POST"], False),
    "messaging:chart-notifications":      ("staff",      "consent:patient:record",        True,  ["GET", "POST"], False),
    "portal:notifications":               ("portal",     None,                            False, ["GET", "POST"], False),
    # Messaging, consent part
    "messaging:chart-consent":            ("staff",      "consent:patient:record",        True,  ["POST"],        False),
    # Scheduling, feed part
    "scheduling:feed":                    ("staff",      "scheduling:calendar:view",      False, ["GET", "POST"], False),
    "scheduling:feed-import":             ("staff",      "scheduling:calendar:view",      False, ["POST"],        False),
    "scheduling:feed-ics":                ("public",     None,                            True,  ["GET"],         False),
    "portal:appointments":                ("portal",     None,                            False, ["GET"],         False),
    "portal:appointment-book":            ("portal",     None,                            False, ["POST"],        False),
    "portal:appointment-cancel":          ("portal",     None,                            False, ["POST"],        False),
    # part "reminders" (issue 16): the monthly attendance report.
    "scheduling:attendance-report":       ("staff",      "scheduling:settings:edit",      False, ["GET"],         False),
    # Directory part (issue 16: profiles, the website, refer-a-colleague).
    "directory:profile":                  ("staff",      "directory:profile:edit",        False, ["GET", "POST"], False),
    "directory:profile-sensitive":        ("staff",      "directory:profile:edit",        False, ["POST"], False),
    "directory:profile-publish":          ("staff",      "directory:profile:edit",        False, ["POST"], False),
    "directory:profile-unpublish":        ("staff",      "directory:profile:edit",        False, ["POST"], False),
    "directory:website":                  ("staff",      "directory:website:edit",        False, ["GET", "POST"], False),
    "directory:website-unpublish-profile": ("staff",     "directory:website:edit",        True,  ["POST"], False),
    "directory:refer":                    ("staff",      "directory:referral:send",       False, ["GET", "POST"], False),
    "directory:home":                     ("public",     None,                            True,  ["GET"], False),
    "directory:theme":                    ("public",     None,                            True,  ["GET"], False),
    "directory:logo":                     ("public",     None,                            True,  ["GET"], False),
    "directory:team":                     ("public",     None,                            True,  ["GET"], False),
    "directory:practitioner":             ("public",     None,                            True,  ["GET"], False),
    "directory:photo":                    ("public",     None,                            True,  ["GET"], False),
    "directory:services":                 ("public",     None,                            True,  ["GET"], False),
    "directory:locations":                ("public",     None,                            True,  ["GET"], False),
    "directory:referral-decline":         ("public",     None,                            True,  ["GET", "POST"], False),
    # issue 16, part "booking"
    "directory:book":                     ("public",     None,                            True,  ["GET", "POST"], False),
    "directory:booking-requests":         ("staff",      "directory:booking:review",      False, ["GET"],         False),
    "directory:booking-request":          ("staff",      "directory:booking:review",      True,  ["GET"],         False),
    "directory:booking-accept":           ("staff",      "directory:booking:review",      True,  ["POST"],        False),
    "directory:booking-decline":          ("staff",      "directory:booking:review",      True,  ["POST"],        False),
    # google part (issue 16 item 4): a member's own Google Calendar link
    "scheduling:google":                  ("staff",      "scheduling:calendar:view",      False, ["GET"],         False),
    "scheduling:google-connect":          ("staff",      "scheduling:calendar:view",      False, ["POST"],        False),
    "scheduling:google-callback":         ("staff",      "scheduling:calendar:view",      False, ["GET"],         False),
    "scheduling:google-disconnect":       ("staff",      "scheduling:calendar:view",      False, ["POST"],        False),
    # --- calendar part (issue 16 items 1-2)
    "scheduling:calendar":                ("staff",      "scheduling:calendar:view",      False, ["GET"],         False),
    "scheduling:today":                   ("staff",      "scheduling:calendar:view",      False, ["GET"],         False),
    "scheduling:agenda":                  ("staff",      "scheduling:calendar:view",      False, ["GET"],         False),
    "scheduling:book":                    ("staff",      "scheduling:appointment:book",   False, ["GET", "POST"], False),
    "scheduling:settings":                ("staff",      "scheduling:settings:edit",      False, ["GET", "POST"], False),
    "scheduling:waitlist":                ("staff",      "scheduling:calendar:view",      False, ["GET", "POST"], False),
    "scheduling:waitlist-close":          ("staff",      "scheduling:appointment:book",   True,  ["POST"],        False),
    "scheduling:appointment":             ("staff",      "scheduling:calendar:view",      True,  ["GET"],         False),
    "scheduling:appointment-move":        ("staff",      "scheduling:appointment:book",   True,  ["POST"],        False),
    "scheduling:appointment-cancel":      ("staff",      "scheduling:appointment:book",   True,  ["POST"],        False),
    "scheduling:appointment-status":      ("staff",      "scheduling:appointment:book",   True,  ["POST"],        False),
}  # fmt: skip


def test_permission_list_is_exactly_this():
    assert [perm.value for perm in Perm] == EXPECTED_PERMS


def test_role_list_is_exactly_this():
    assert [role.value for role in Role] == list(EXPECTED_ROLE_PERMISSIONS)


def test_role_permission_table_is_exactly_this():
    actual = {role.value: sorted(perm.value for perm in perms) for role, perms in ROLE_PERMISSIONS.items()}
    assert actual == EXPECTED_ROLE_PERMISSIONS


def test_phi_permission_set_is_exactly_this():
    assert sorted(perm.value for perm in PHI_PERMISSIONS) == EXPECTED_PHI_PERMISSIONS


def test_route_policy_table_is_exactly_this():
    actual = {
        name: (policy.audience.value, policy.perm.value if policy.perm else None, policy.tenant_scoped, sorted(policy.methods), policy.recent_auth)
        for name, policy in ROUTE_POLICY.items()
    }
    assert actual == EXPECTED_ROUTE_POLICY
