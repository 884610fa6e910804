"""ACC3, minimum necessary: the role × purpose × category table, as a literal snapshot, and the
rules it must keep whatever else changes."""

import pytest

from confide.access import policy
from confide.access.policy import CATEGORY_GRANTS, KNOWN_CATEGORIES, categories_for, psychotherapy_notes_author_only
from confide.core.purposes import Purpose
from confide.core.actors import StaffActor
from confide.core.permissions import Role

NAME_DOB = ["identifiers.dob", "identifiers.name"]
CONTACT = ["contact.email", "contact.phone"]
WHO = NAME_DOB + ["identifiers.demographics", "identifiers.medical_record_number"]
DETAILS = ["contact.address", "contact.emergency", "contact.guardian"]
HEALTH = [
    "health.background", "health.medications", "health.allergies", "health.conditions", "health.lab_results",
    "health.immunizations", "health.encounters", "health.notes", "health.intake", "health.photos", "health.documents",
    "health.recordings",
]  # fmt: skip
CLINICAL = sorted(WHO + CONTACT + DETAILS + ["scheduling.appointments"] + HEALTH)
REGISTRATION = sorted(WHO + ["identifiers.government"] + CONTACT + DETAILS + ["scheduling.appointments"])
BILLING = sorted(WHO + CONTACT + ["contact.address", "financial.insurance", "financial.invoices", "financial.payment"])


def test_the_minimum_necessary_table_is_exactly_this():
    """A change to who may see what must change this literal too: one visible diff."""
    table = {role.value: {purpose.value: sorted(cats) for purpose, cats in grants.items()} for role, grants in CATEGORY_GRANTS.items()}
    inbox = ["communications.messages"]  # the inbox (confide/messaging), read and answered for treatment and operations
    assert table == {
        "owner": {
            "treatment": sorted(CLINICAL + inbox),
            "payment": BILLING,
            "operations": sorted(REGISTRATION + ["operations.break_glass_reason"] + inbox),
            "marketing": sorted(["identifiers.name"] + CONTACT),  # and only with the patient's consent, per channel
            "patient_request": sorted(NAME_DOB + CONTACT + ["operations.disclosures"]),
            "legal": sorted(CLINICAL + ["operations.disclosures"]),
        },
        "clinician": {"treatment": sorted(CLINICAL + inbox), "operations": sorted(REGISTRATION + inbox)},
        "front_desk": {"treatment": sorted(REGISTRATION + inbox), "operations": sorted(REGISTRATION + inbox)},
        "billing": {"payment": BILLING, "operations": sorted(NAME_DOB + CONTACT)},  # the patient list
        # The privacy officer: the messages too, to review what was sent (`confide outbox --show-body`).
        "privacy_officer": {
            "operations": sorted(NAME_DOB + CONTACT + ["operations.break_glass_reason"] + inbox),
            "patient_request": sorted(NAME_DOB + CONTACT + ["operations.disclosures"]),
            "legal": sorted(NAME_DOB + CONTACT + ["operations.disclosures"]),
        },
    }
    # The taxonomy is the privacy declaration's (confide/policy/default.toml), not a list kept here.
    from confide.policy.loader import load_default

    assert KNOWN_CATEGORIES == frozenset(load_default().categories)
    assert [p.value for p in Purpose] == [
        "treatment", "payment", "operations", "patient_request", "marketing", "analytics", "ai_assist", "legal",
        "colleague_referral",  # directory part (DIR3): opens no chart, granted to no role
    ]  # fmt: skip


def _everything(role: Role) -> set[str]:
    return {c for purpose in Purpose for c in categories_for(role, purpose)}


def test_acc3_front_desk_never_sees_anything_clinical_or_financial():
    assert not {c for c in _everything(Role.FRONT_DESK) if c.startswith(("health.", "financial."))}
    assert {"identifiers.name", "identifiers.dob", "contact.phone", "scheduling.appointments"} <= _everything(Role.FRONT_DESK)


def test_acc3_billing_never_sees_notes_or_photos():
    seen = _everything(Role.BILLING)
    assert not seen & {"health.notes", "health.psychotherapy_notes", "health.photos"}
    assert not {c for c in seen if c.startswith("health.")}
    assert {"financial.insurance", "financial.invoices"} <= categories_for(Role.BILLING, Purpose.PAYMENT)


def test_acc3_privacy_officer_sees_nothing_clinical_or_financial():
    seen = _everything(Role.PRIVACY_OFFICER)
    assert not {c for c in seen if c.startswith(("health.", "financial.", "scheduling."))}
    assert set(NAME_DOB + CONTACT) <= categories_for(Role.PRIVACY_OFFICER, Purpose.OPERATIONS)


def test_clinicians_see_the_clinical_record_for_treatment_only():
    assert categories_for(Role.CLINICIAN, Purpose.TREATMENT) >= {"health.background", "health.notes", "health.photos"}
    assert not {c for c in categories_for(Role.CLINICIAN, Purpose.OPERATIONS) if c.startswith("health.")}
    assert categories_for(Role.CLINICIAN, Purpose.PAYMENT) == frozenset()


def test_owner_is_clinician_for_treatment_plus_financial_for_payment():
    assert categories_for(Role.OWNER, Purpose.TREATMENT) == categories_for(Role.CLINICIAN, Purpose.TREATMENT)
    assert {"financial.insurance", "financial.invoices"} <= categories_for(Role.OWNER, Purpose.PAYMENT)


def test_no_role_is_granted_psychotherapy_notes_and_consent_purposes_stay_narrow():
    for role in Role:
        assert "health.psychotherapy_notes" not in _everything(role)
        for purpose in {Purpose.ANALYTICS, Purpose.AI_ASSIST}:
            assert categories_for(role, purpose) == frozenset(), (role, purpose)
        # Answering rights requests and legal disclosures: the owner and the privacy officer only.
        for purpose in {Purpose.PATIENT_REQUEST, Purpose.LEGAL}:
            assert bool(categories_for(role, purpose)) == (role in {Role.OWNER, Role.PRIVACY_OFFICER}), (role, purpose)
        # Marketing: the owner alone, a consenting patient's name and contact channels, nothing more.
        expected = {"identifiers.name", "contact.email", "contact.phone"} if role is Role.OWNER else frozenset()
        assert categories_for(role, Purpose.MARKETING) == expected, role
    assert policy.CONSENT_PURPOSES == {Purpose.MARKETING, Purpose.ANALYTICS, Purpose.AI_ASSIST}
    assert "health.psychotherapy_notes" not in policy.BREAK_GLASS_CEILING


def test_unknown_purpose_role_and_category_are_refused():
    with pytest.raises(ValueError):
        categories_for(Role.CLINICIAN, "curiosity")
    with pytest.raises(ValueError):
        categories_for("janitor", Purpose.TREATMENT)
    with pytest.raises(policy.UnknownCategory, match="health.everything"):
        policy.check_known({"contact.email", "health.everything"})
    assert policy.check_known(["contact.email"]) == frozenset({"contact.email"})


def test_psychotherapy_notes_are_for_their_author_only(world):
    clinician = StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])
    front_desk = StaffActor.from_membership(world.a.memberships[Role.FRONT_DESK])
    assert psychotherapy_notes_author_only(clinician, clinician.user_id)
    assert not psychotherapy_notes_author_only(clinician, clinician.user_id + 1000)
    assert not psychotherapy_notes_author_only(front_desk, front_desk.user_id)  # not a role that writes notes
    assert not psychotherapy_notes_author_only(clinician, None)
