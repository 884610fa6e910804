"""Purposes of use. Every opening of a chart names one; the audit entry records it. They live in
core because the policy declaration and the consent ledger name them too, below the chart door.

The values are those of the policy taxonomy (`confide/policy/default.toml`): treatment, payment
and operations are HIPAA's TPO; the others need something more before any data flows (a
patient's request, consent in the consent ledger, a legal basis), see `confide/access/policy.py`."""

from enum import StrEnum, unique


@unique
class Purpose(StrEnum):
    TREATMENT = "treatment"
    PAYMENT = "payment"
    OPERATIONS = "operations"
    PATIENT_REQUEST = "patient_request"
    MARKETING = "marketing"
    ANALYTICS = "analytics"
    AI_ASSIST = "ai_assist"
    LEGAL = "legal"
    # Refer-a-colleague (DIR3): a referred person's name and e-mail, for the one e-mail telling
    # them of the referral and nothing else. No role's chart grant names it: it opens no chart.
    COLLEAGUE_REFERRAL = "colleague_referral"
