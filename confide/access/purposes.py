"""Purposes of use. Every opening of a chart names one; the audit entry records it.

The values are those of the policy taxonomy (`policy/`, to come): treatment, payment and
operations are HIPAA's TPO; the others need something more before any data flows (a patient's
request, consent, a legal basis) and are granted to no role today."""

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
