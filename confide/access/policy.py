"""Minimum necessary (ACC3): which data categories each role may see, for each purpose.

`CATEGORY_GRANTS` is the whole rule, in one table, snapshot-tested
(tests/access/test_policy.py::test_the_minimum_necessary_table_is_exactly_this). A role × purpose
pair not in the table grants nothing. In words:

* front desk: registration — names, date of birth, demographics, record number, the ID checked
  at the desk, contact details (address, emergency contact, guardian) and scheduling, for
  treatment and operations; never anything under `health.` or `financial.`;
* billing: names, date of birth, demographics, record number, contact, address and
  `financial.*` for payment (names and contact for operations, e.g. the patient list); never
  notes, photos or any other `health.*`;
* clinician: the chart for treatment — identity, contact, scheduling and everything under
  `health.` except psychotherapy notes; no government ID, nothing financial; registration for
  operations;
* owner: as a clinician for treatment and operations, plus billing's grant for payment,
  (for operations) the break-the-glass reasons it reviews, and (for marketing, with the
  patient's consent) the name and contact channels;
* privacy officer: names and contact for operations (audit review), plus the typed reasons of
  break-the-glass openings it reviews; nothing clinical, nothing financial.

Purposes that need consent (marketing, analytics, AI assistance) open only for a patient whose
consent ledger covers them (the door asks `confide.consent.services.missing_consent`), and then
only within this table: the owner, who runs the practice's news and offers, may open a
consenting patient's name, e-mail and phone for marketing (each contact channel needs its own
consent: marketing by e-mail does not open the phone number). Analytics and AI assistance are
granted to no role: they work on de-identified data, never through a chart. `patient_request`
and `legal` are granted to the owner and the privacy officer (answering rights requests, the
accounting of disclosures; the owner alone may produce a compelled disclosure from the clinical
record).

**Psychotherapy notes** (`health.psychotherapy_notes`) are in no role's grant. HIPAA keeps
them apart from the rest of the record: readable only by the clinician who wrote them (and
roles granted explicitly). That is a rule about a particular note, not about a role, so it
is `psychotherapy_notes_author_only(actor, author_user_id)` below; the notes code (records
issue) calls it after loading a note, and the door refuses the category outright, including
through break-the-glass.
"""

from __future__ import annotations

from collections.abc import Iterable

from confide.core.purposes import Purpose
from confide.core.permissions import ROLE_PERMISSIONS, Perm, Role
from confide.policy.loader import load_default

# --- the categories the door grants, by name --------------------------------------------------
# The taxonomy itself is the privacy declaration's (confide/policy/default.toml): KNOWN_CATEGORIES
# is read from it, and _self_check() below fails the import if a name here is not in it.
NAME = "identifiers.name"
DOB = "identifiers.dob"
DEMOGRAPHICS = "identifiers.demographics"
MRN = "identifiers.medical_record_number"
GOVERNMENT_ID = "identifiers.government"
EMAIL = "contact.email"
PHONE = "contact.phone"
ADDRESS = "contact.address"
EMERGENCY_CONTACT = "contact.emergency"
GUARDIAN = "contact.guardian"
APPOINTMENTS = "scheduling.appointments"
BACKGROUND = "health.background"
MEDICATIONS = "health.medications"
ALLERGIES = "health.allergies"
CONDITIONS = "health.conditions"
LAB_RESULTS = "health.lab_results"
IMMUNIZATIONS = "health.immunizations"
ENCOUNTERS = "health.encounters"
NOTES = "health.notes"
PSYCHOTHERAPY_NOTES = "health.psychotherapy_notes"
INTAKE = "health.intake"
PHOTOS = "health.photos"
DOCUMENTS = "health.documents"
RECORDINGS = "health.recordings"
INSURANCE = "financial.insurance"
INVOICES = "financial.invoices"
BREAK_GLASS_REASON = "operations.break_glass_reason"
DISCLOSURES = "operations.disclosures"
NETWORK = "technical.network"
DEVICE = "technical.device"

PAYMENT = "financial.payment"
MESSAGES = "communications.messages"
DELIVERY = "technical.delivery"

IDENTITY = frozenset({NAME, DOB})
DEMOGRAPHIC = frozenset({DEMOGRAPHICS})
RECORD_NUMBERS = frozenset({MRN})
CONTACT = frozenset({EMAIL, PHONE})
CONTACT_DETAILS = frozenset({ADDRESS, EMERGENCY_CONTACT, GUARDIAN})
SCHEDULING = frozenset({APPOINTMENTS})
HEALTH = frozenset({
    BACKGROUND, MEDICATIONS, ALLERGIES, CONDITIONS, LAB_RESULTS, IMMUNIZATIONS, ENCOUNTERS, NOTES,
    PSYCHOTHERAPY_NOTES, INTAKE, PHOTOS, DOCUMENTS, RECORDINGS,
})  # fmt: skip
FINANCIAL = frozenset({INSURANCE, INVOICES, PAYMENT})
OPERATIONS_RECORDS = frozenset({BREAK_GLASS_REASON})

KNOWN_CATEGORIES: frozenset[str] = frozenset(load_default().categories)

# Categories granted per note, never per role (see the module docstring).
AUTHOR_ONLY_CATEGORIES = frozenset({PSYCHOTHERAPY_NOTES})

# Registering and scheduling a patient: who they are (a government ID is checked at the desk),
# how to reach them and whom to call, their appointments. Nothing clinical, nothing financial.
_REGISTRATION = IDENTITY | DEMOGRAPHIC | RECORD_NUMBERS | {GOVERNMENT_ID} | CONTACT | CONTACT_DETAILS | SCHEDULING
# The inbox (confide/messaging): the messages with patients, read and answered by whoever works
# the inbox — the front desk, clinicians, the owner — for treatment and operations.
_INBOX = frozenset({MESSAGES})
# Care: the record except psychotherapy notes (per note, see above); no government ID, no money.
_CLINICAL_CARE = IDENTITY | DEMOGRAPHIC | RECORD_NUMBERS | CONTACT | CONTACT_DETAILS | SCHEDULING | (HEALTH - AUTHOR_ONLY_CATEGORIES)
# Billing: who is billed (a claim needs sex and date of birth), where to send it, and the money.
_BILLING = IDENTITY | DEMOGRAPHIC | RECORD_NUMBERS | CONTACT | {ADDRESS} | FINANCIAL
_REGISTER_LOOKUP = IDENTITY | CONTACT

# The patient portal (purpose patient_request): what a practice shares with the patient it is
# about — who they are, how the practice reaches them, their appointments, their health record
# (never psychotherapy notes, which are the author's: HIPAA excludes them from the right of
# access; never the staff's working notes, `health.notes`, nor a break-the-glass reason),
# their insurance and invoices. A personal representative (a minor's parent or guardian) gets
# the same, less the categories the practice's declaration leaves to the minor.
PORTAL_GRANT = (
    IDENTITY | DEMOGRAPHIC | RECORD_NUMBERS | CONTACT | CONTACT_DETAILS | SCHEDULING
    | (HEALTH - AUTHOR_ONLY_CATEGORIES - {NOTES})
    | {INSURANCE, INVOICES}
    | {MESSAGES}
)
PORTAL_PURPOSES = frozenset({Purpose.PATIENT_REQUEST})


def portal_categories(purpose, *, representative: bool = False, withheld: Iterable[str] = ()) -> frozenset[str]:
    """What a patient actor may open for `purpose`: the portal grant for patient_request, nothing
    for any other purpose; a representative less `withheld` (the minor's own categories)."""
    if purpose not in PORTAL_PURPOSES:
        return frozenset()
    return PORTAL_GRANT - frozenset(withheld) if representative else PORTAL_GRANT


CATEGORY_GRANTS: dict[Role, dict[Purpose, frozenset[str]]] = {
    Role.OWNER: {
        Purpose.TREATMENT: _CLINICAL_CARE | _INBOX,
        Purpose.PAYMENT: _BILLING,
        Purpose.OPERATIONS: _REGISTRATION | OPERATIONS_RECORDS | _INBOX,
        Purpose.MARKETING: frozenset({NAME}) | CONTACT,
        # Answering a patient's request (confide/rights) and recording what the law compels the
        # practice to disclose (confide/disclosures): the owner may produce a compelled package
        # from the clinical record (never psychotherapy notes); exports run as a system job.
        Purpose.PATIENT_REQUEST: _REGISTER_LOOKUP | {DISCLOSURES},
        Purpose.LEGAL: _CLINICAL_CARE | {DISCLOSURES},
    },
    Role.CLINICIAN: {
        Purpose.TREATMENT: _CLINICAL_CARE | _INBOX,
        Purpose.OPERATIONS: _REGISTRATION | _INBOX,
    },
    Role.FRONT_DESK: {
        Purpose.TREATMENT: _REGISTRATION | _INBOX,
        Purpose.OPERATIONS: _REGISTRATION | _INBOX,
    },
    Role.BILLING: {
        Purpose.PAYMENT: _BILLING,
        Purpose.OPERATIONS: _REGISTER_LOOKUP,
    },
    Role.PRIVACY_OFFICER: {
        # The messages too: reviewing what was sent (`confide outbox --show-body`), a complaint.
        Purpose.OPERATIONS: _REGISTER_LOOKUP | OPERATIONS_RECORDS | _INBOX,
        # Rights requests and the accounting of disclosures: who asks, how to answer them, and
        # the disclosures on record; nothing clinical (the export is a system job's).
        Purpose.PATIENT_REQUEST: _REGISTER_LOOKUP | {DISCLOSURES},
        Purpose.LEGAL: _REGISTER_LOOKUP | {DISCLOSURES},
    },
}

# Purposes that need the patient's consent (CON1), as the shipped declaration says. The door asks
# the declaration in force for each practice; overrides cannot change purposes, so they agree.
CONSENT_PURPOSES = frozenset(Purpose(p) for p in load_default().consent_purposes())

# Break-the-glass: only a clinician, only for these purposes, never beyond this ceiling
# (a clinician's own treatment grant, so never psychotherapy notes, never financial data).
BREAK_GLASS_ROLES = frozenset({Role.CLINICIAN})
BREAK_GLASS_PURPOSES = frozenset({Purpose.TREATMENT, Purpose.OPERATIONS})
BREAK_GLASS_CEILING = _CLINICAL_CARE
BREAK_GLASS_REASON_MIN_CHARS = 10
BREAK_GLASS_REASON_MAX_CHARS = 2000
# How long one break-the-glass opening lets its clinician go on reading that patient's chart
# (each page a flagged opening naming the first) before a reason is asked again.
BREAK_GLASS_MINUTES = 30
# Who reviews break-the-glass openings (and gets the e-mail): the roles granted the report's
# permission in the role table, so the report page and the notice cannot disagree.
BREAK_GLASS_REVIEWERS = frozenset(role for role, perms in ROLE_PERMISSIONS.items() if Perm.BREAK_GLASS_REVIEW in perms)

# Grants a practice may switch on in its privacy declaration (`[grants]`, confide/policy/default.toml;
# all off by default): name → (role, purpose, categories). Each is honoured by one door only, named
# here, never by the chart; the declaration says only whether it is on.
DECLARED_GRANTS: dict[str, tuple[Role, Purpose, frozenset[str]]] = {
    # door.open_intake_queue: the consultation queue's names, age bands (from the date of birth) and reasons.
    "front_desk_consultation_queue": (Role.FRONT_DESK, Purpose.OPERATIONS, frozenset({NAME, DOB, INTAKE})),
}


def declared_grants(practice_id, role) -> list[tuple[str, Purpose, frozenset[str]]]:
    """The declared grants the practice's declaration in force switches on for `role`:
    (name, purpose, categories)."""
    from confide.policy.services import declaration_in_force

    switched = declaration_in_force(practice_id).grants
    return [(name, purpose, categories) for name, (grantee, purpose, categories) in DECLARED_GRANTS.items()
            if grantee == role and getattr(switched, name)]  # fmt: skip


# Roles that may author psychotherapy notes (and so read their own).
PSYCHOTHERAPY_AUTHOR_ROLES = frozenset({Role.CLINICIAN, Role.OWNER})


class UnknownCategory(ValueError):
    """A category outside the taxonomy."""


def check_known(categories: Iterable[str]) -> frozenset[str]:
    """The categories as a frozenset, or UnknownCategory naming the first unknown one."""
    result = frozenset(categories)
    unknown = sorted(str(c) for c in result - KNOWN_CATEGORIES)
    if unknown:
        raise UnknownCategory(f"unknown data category {unknown[0][:64]!r}")
    return result


def categories_for(role: str, purpose: str) -> frozenset[str]:
    """What `role` may see for `purpose`; empty when nothing is granted. Unknown role or
    purpose: ValueError."""
    return CATEGORY_GRANTS.get(Role(role), {}).get(Purpose(purpose), frozenset())


def psychotherapy_notes_author_only(actor, author_user_id) -> bool:
    """The per-note rule for `health.psychotherapy_notes`: only the staff member who wrote the
    note, in a role that writes them. Enforced by the notes code (records issue) after it loads
    a note; the door itself never grants this category."""
    from confide.core.actors import StaffActor

    return (
        isinstance(actor, StaffActor)
        and actor.role in PSYCHOTHERAPY_AUTHOR_ROLES
        and author_user_id is not None
        and str(actor.user_id) == str(author_user_id)
    )


def _self_check() -> None:
    named = [v for k, v in globals().items() if k.isupper() and isinstance(v, str) and "." in v]
    assert set(named) <= KNOWN_CATEGORIES, sorted(set(named) - KNOWN_CATEGORIES)
    for role, by_purpose in CATEGORY_GRANTS.items():
        for purpose, granted in by_purpose.items():
            assert granted <= KNOWN_CATEGORIES, (role, purpose)
            assert not granted & AUTHOR_ONLY_CATEGORIES, (role, purpose)
            # A purpose that needs consent is granted for identity and contact at most.
            assert purpose not in CONSENT_PURPOSES or granted <= IDENTITY | CONTACT, (role, purpose)
    assert not BREAK_GLASS_CEILING & AUTHOR_ONLY_CATEGORIES
    from confide.policy.schema import Grants

    assert set(DECLARED_GRANTS) == set(Grants.model_fields), "every declared grant has its switch in the schema, and only those"
    for _, _, granted in DECLARED_GRANTS.values():
        assert granted <= KNOWN_CATEGORIES and not granted & AUTHOR_ONLY_CATEGORIES


_self_check()
