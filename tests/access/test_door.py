"""The chart door: each check refuses with a clear error and an `access:denied` entry; an
opening writes one `records:chart:opened` entry and decrypts exactly what it granted."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from confide.access import policy
from confide.access.door import REMINDER_JOB, SystemActor, open_chart
from confide.access.errors import AccessRefused
from confide.core.purposes import Purpose
from confide.accounts.models import Membership, User
from confide.audit.events import AuditEvent
from confide.core.errors import Forbidden, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.records.services import do_shred_patient
from confide.vault.errors import PHIAccessDenied
from tests.access.conftest import entries, shape, who
from tests.consent.helpers import by_phone


def _refused(code: str, *args, **kwargs) -> AccessRefused:
    with pytest.raises(AccessRefused) as caught:
        with open_chart(*args, **kwargs):
            pytest.fail("the door opened")
    assert caught.value.code == code, caught.value.code
    denied = entries(AuditEvent.ACCESS_DENIED)[-1]
    assert (denied.outcome, denied.reason) == ("denied", code)
    return caught.value


# --- opening ----------------------------------------------------------------------------------
def test_an_opening_writes_one_entry_and_decrypts_what_it_granted(world, staff, make_patient):
    patient = make_patient()
    clinician = staff(Role.CLINICIAN)
    with open_chart(clinician, patient.id, Purpose.TREATMENT) as chart:
        assert (chart.patient.given_name, chart.patient.health_background) == ("Marisol", "asthma since childhood")
        assert [(m["name"], m["kind"], m["status"]) for m in chart.patient.medications] == [("salbutamol", "prescription", "active")]
    [opened] = entries(AuditEvent.CHART_OPENED)
    assert shape(opened) == {
        "event": "records:chart:opened",
        "chain": str(world.a.practice.id),
        "actor": who(clinician),
        "subject": str(patient.id),
        "purpose": "treatment",
        "categories": sorted(policy.categories_for(Role.CLINICIAN, Purpose.TREATMENT)),
        "outcome": "ok",
        "reason": "",
        "flagged": False,
    }


def test_front_desk_opens_identity_but_reading_health_raises(staff, make_patient):
    patient = make_patient()
    front_desk = staff(Role.FRONT_DESK)
    with open_chart(front_desk, patient.id, Purpose.OPERATIONS) as chart:
        assert (chart.patient.family_name, chart.patient.phone) == ("Quintero", "+14155550142")
        with pytest.raises(PHIAccessDenied):
            chart.patient.health_background  # noqa: B018
        with pytest.raises(PHIAccessDenied):
            chart.patient.medications  # noqa: B018
    assert entries(AuditEvent.CHART_OPENED)[-1].categories == sorted(policy.categories_for(Role.FRONT_DESK, Purpose.OPERATIONS))


@pytest.mark.parametrize(
    ("role", "purpose", "category"),
    [
        (Role.FRONT_DESK, Purpose.TREATMENT, "health.background"),
        (Role.FRONT_DESK, Purpose.OPERATIONS, "health.notes"),
        (Role.BILLING, Purpose.PAYMENT, "health.notes"),
        (Role.BILLING, Purpose.PAYMENT, "health.photos"),
        (Role.PRIVACY_OFFICER, Purpose.OPERATIONS, "health.background"),
        (Role.PRIVACY_OFFICER, Purpose.OPERATIONS, "financial.invoices"),
        (Role.CLINICIAN, Purpose.PAYMENT, "financial.invoices"),
    ],
)
def test_acc3_a_role_asking_beyond_its_grant_is_refused(staff, make_patient, role, purpose, category):
    patient = make_patient()
    actor = staff(role)
    error = _refused("category_not_granted" if policy.categories_for(role, purpose) else "nothing_granted",
                     actor, patient.id, purpose, categories={category})  # fmt: skip
    assert isinstance(error, Forbidden)
    denied = entries(AuditEvent.ACCESS_DENIED)[-1]
    assert shape(denied) | {"chain": None} == {
        "event": "access:denied", "chain": None, "actor": who(actor), "subject": str(patient.id), "purpose": purpose.value,
        "categories": [category], "outcome": "denied", "reason": denied.reason, "flagged": False,
    }  # fmt: skip
    assert not entries(AuditEvent.CHART_OPENED)


def test_acc3_every_role_purpose_and_category_opens_exactly_as_the_table_says(world, staff, make_patient):
    patient = make_patient()
    # Consent is a condition of its own (tested below): give every consent there is, so what is
    # tested here is the table alone.
    for topic in ("marketing_email", "marketing_sms", "ai_features", "analytics_cookies"):
        by_phone(world.a, patient.id, topic)
    for role in Role:
        actor = staff(role)
        for purpose in Purpose:
            granted = policy.categories_for(role, purpose)
            for category in sorted(policy.KNOWN_CATEGORIES):
                try:
                    with open_chart(actor, patient.id, purpose, categories={category}) as chart:
                        assert chart.categories == {category}
                    opened = True
                except AccessRefused:
                    opened = False
                assert opened == (category in granted), (role, purpose, category)


# --- each check refuses -------------------------------------------------------------------------
def test_acc4_another_practices_patient_is_the_same_not_found_as_a_missing_one(world, staff, make_patient):
    theirs = make_patient(world.b)
    owner = staff(Role.OWNER)
    with pytest.raises(NotFound) as cross:
        with open_chart(owner, theirs.id, Purpose.TREATMENT):
            pass
    with pytest.raises(NotFound) as missing:
        with open_chart(owner, uuid.uuid4(), Purpose.TREATMENT):
            pass
    with pytest.raises(NotFound) as malformed:
        with open_chart(owner, "'; DROP TABLE records_patient; --", Purpose.TREATMENT):
            pass
    assert type(cross.value) is type(missing.value) is type(malformed.value) is NotFound
    assert str(cross.value) == str(missing.value) == str(malformed.value)
    denied = entries(AuditEvent.ACCESS_DENIED)
    assert [(d.chain, d.reason, d.actor_id) for d in denied] == [(str(world.a.practice.id), "not_found", str(owner.user_id))] * 3
    assert denied[0].subject_id == theirs.id and denied[2].subject_id is None
    assert not [e for e in entries(AuditEvent.ACCESS_DENIED) + entries(AuditEvent.CHART_OPENED) if e.chain == str(world.b.practice.id)]


def test_a_closed_membership_is_refused_even_with_a_live_actor(world, staff, make_patient):
    patient = make_patient()
    clinician = staff(Role.CLINICIAN)  # built while the membership was active (a live session)
    with tenant_context(practice_id=world.a.practice.id):
        Membership.objects.filter(id=clinician.membership_id).update(is_active=False)
    _refused("membership_inactive", clinician, patient.id, Purpose.TREATMENT)
    assert entries(AuditEvent.ACCESS_DENIED)[-1].actor_id == str(clinician.user_id)


def test_a_deactivated_user_or_a_changed_role_is_refused(world, staff, make_patient):
    patient = make_patient()
    clinician, billing = staff(Role.CLINICIAN), staff(Role.BILLING)
    with tenant_context(practice_id=world.a.practice.id):
        Membership.objects.filter(id=clinician.membership_id).update(role=Role.FRONT_DESK)
    _refused("role_changed", clinician, patient.id, Purpose.TREATMENT)
    User.objects.filter(id=billing.user_id).update(is_active=False)
    _refused("membership_inactive", billing, patient.id, Purpose.PAYMENT)


def test_a_forged_actor_is_refused(world, staff, make_patient):
    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id):
        _refused("unknown_actor", object(), patient.id, Purpose.TREATMENT)
    denied = entries(AuditEvent.ACCESS_DENIED)[-1]
    assert (denied.actor_kind, denied.chain, denied.detail["actor_type"]) == ("anonymous", str(world.a.practice.id), "object")
    # A staff actor pointing at someone else's membership is no membership of theirs.
    real = staff(Role.CLINICIAN)
    forged = type(real)(user_id=real.user_id, membership_id=world.a.memberships[Role.OWNER].id, practice_id=real.practice_id, role=Role.OWNER)
    _refused("membership_inactive", forged, patient.id, Purpose.TREATMENT)


@pytest.mark.parametrize("purpose", ["curiosity", "TREATMENT", "", None, 42])
def test_a_purpose_outside_the_enum_is_refused(staff, make_patient, purpose):
    patient = make_patient()
    error = _refused("unknown_purpose", staff(Role.CLINICIAN), patient.id, purpose)
    assert "treatment" in str(error)
    assert entries(AuditEvent.ACCESS_DENIED)[-1].purpose == ""


def test_a_purpose_given_as_its_string_value_is_accepted(staff, make_patient):
    patient = make_patient()
    with open_chart(staff(Role.CLINICIAN), patient.id, "treatment") as chart:
        assert chart.purpose is Purpose.TREATMENT


def test_an_unknown_category_is_refused(staff, make_patient):
    patient = make_patient()
    error = _refused("unknown_category", staff(Role.OWNER), patient.id, Purpose.TREATMENT, categories={"contact.email", "health.everything"})
    assert "health.everything" in str(error)
    denied = entries(AuditEvent.ACCESS_DENIED)[-1]
    assert denied.categories == ["contact.email"] and denied.detail["unknown_categories"] == 1
    _refused("nothing_requested", staff(Role.OWNER), patient.id, Purpose.TREATMENT, categories=set())


@pytest.mark.parametrize("purpose", [Purpose.MARKETING, Purpose.ANALYTICS, Purpose.AI_ASSIST])
def test_con1_a_purpose_that_needs_consent_is_refused_without_it(staff, make_patient, purpose):
    patient = make_patient()
    error = _refused("consent_required", staff(Role.OWNER), patient.id, purpose, categories={"contact.email"})
    assert str(error) == f"{purpose.value}: the patient has not consented to this (or withdrew consent)"
    denied = entries(AuditEvent.ACCESS_DENIED)[-1]
    assert (denied.subject_id, denied.purpose) == (patient.id, purpose.value)


def test_con1_marketing_opens_with_a_grant_and_is_refused_again_after_withdrawal(world, staff, make_patient):
    patient = make_patient()
    owner = staff(Role.OWNER)
    _refused("consent_required", owner, patient.id, Purpose.MARKETING, categories={"identifiers.name", "contact.email"})
    assert entries(AuditEvent.ACCESS_DENIED)[-1].detail == {"consent_topics": ["marketing_email"]}

    by_phone(world.a, patient.id, "marketing_email")
    with open_chart(owner, patient.id, Purpose.MARKETING, categories={"identifiers.name", "contact.email"}) as chart:
        assert chart.patient.email == "marisol@example.test"
    assert shape(entries(AuditEvent.CHART_OPENED)[-1])["purpose"] == "marketing"

    by_phone(world.a, patient.id, "marketing_email", "withdraw")
    _refused("consent_required", owner, patient.id, Purpose.MARKETING, categories={"identifiers.name", "contact.email"})


def test_con1_marketing_consent_is_per_channel(world, staff, make_patient):
    """Agreeing to news by e-mail does not open the phone number for marketing."""
    patient = make_patient()
    owner = staff(Role.OWNER)
    by_phone(world.a, patient.id, "marketing_email")
    _refused("consent_required", owner, patient.id, Purpose.MARKETING, categories={"contact.phone"})
    assert entries(AuditEvent.ACCESS_DENIED)[-1].detail == {"consent_topics": ["marketing_sms"]}
    _refused("consent_required", owner, patient.id, Purpose.MARKETING)  # the whole grant: e-mail and phone
    with open_chart(owner, patient.id, Purpose.MARKETING, categories={"identifiers.name"}) as chart:
        assert chart.categories == {"identifiers.name"}  # the name alone: any marketing consent covers it
    by_phone(world.a, patient.id, "marketing_sms")
    with open_chart(owner, patient.id, Purpose.MARKETING) as chart:
        assert chart.categories == {"identifiers.name", "contact.email", "contact.phone"}


def test_con1_consent_is_necessary_not_sufficient(world, staff, make_patient):
    """With the patient's consent, the role table still decides: the front desk has no marketing grant."""
    patient = make_patient()
    by_phone(world.a, patient.id, "marketing_email")
    by_phone(world.a, patient.id, "ai_features")
    _refused("nothing_granted", staff(Role.FRONT_DESK), patient.id, Purpose.MARKETING)
    _refused("nothing_granted", staff(Role.OWNER), patient.id, Purpose.AI_ASSIST)


def test_con1_another_patients_consent_opens_nothing(world, staff, make_patient):
    consenting, other = make_patient(), make_patient(given_name="Tobias")
    by_phone(world.a, consenting.id, "marketing_email")
    _refused("consent_required", staff(Role.OWNER), other.id, Purpose.MARKETING, categories={"contact.email"})


def test_con1_a_new_chart_for_a_consent_purpose_is_refused(staff):
    from confide.access.door import create_chart

    with pytest.raises(AccessRefused) as caught:
        with create_chart(staff(Role.OWNER), Purpose.MARKETING, categories={"identifiers.name"}):
            pytest.fail("the door opened")
    assert caught.value.code == "consent_required"


def test_con1_a_marketing_list_leaves_out_patients_without_that_consent(world, staff, make_patient):
    from confide.access.door import open_patient_list

    by_email, by_sms, neither = make_patient(), make_patient(given_name="Tobias"), make_patient(given_name="Kwame")
    by_phone(world.a, by_email.id, "marketing_email")
    by_phone(world.a, by_sms.id, "marketing_sms")
    owner = staff(Role.OWNER)
    ids = [by_email.id, by_sms.id, neither.id]
    with open_patient_list(owner, Purpose.MARKETING, ids, categories={"identifiers.name", "contact.email"}) as listed:
        assert [p.id for p in listed] == [by_email.id]
    with open_patient_list(owner, Purpose.MARKETING, ids, categories={"identifiers.name"}) as listed:
        assert [p.id for p in listed] == [by_email.id, by_sms.id]
    assert entries(AuditEvent.PATIENTS_LISTED)[-1].resource_ids == sorted(str(p) for p in (by_email.id, by_sms.id))


def test_a_shredded_patient_is_refused(world, staff, make_patient):
    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id):
        do_shred_patient(practice_id=world.a.practice.id, patient_id=patient.id)
    _refused("patient_shredded", staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT)


def test_an_inactive_patient_is_refused(world, staff, make_patient):
    from confide.records.models import Patient

    patient = make_patient()
    with tenant_context(practice_id=world.a.practice.id):
        Patient.objects.filter(id=patient.id).update(is_active=False)
    _refused("patient_inactive", staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT)


@pytest.mark.parametrize("for_update", [True, False], ids=["writing", "reading"])
def test_a_record_erased_between_the_checks_and_the_block_is_refused_before_the_block_runs(
    monkeypatch, world, staff, make_patient, for_update
):
    """The block gets the row re-read inside its own transaction; a shredding that committed
    after the checks (a writer waiting for the lock meanwhile, on PostgreSQL) is refused then."""
    from confide.access import door

    patient = make_patient()
    real_open = door._open

    def open_after_the_shredding(*args, **kwargs):
        do_shred_patient(practice_id=world.a.practice.id, patient_id=patient.id)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(door, "_open", open_after_the_shredding)
    with tenant_context(practice_id=world.a.practice.id):
        _refused("patient_shredded", staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT, for_update=for_update)
    assert entries(AuditEvent.ACCESS_DENIED)[-1].subject_id == patient.id


def test_a_row_gone_between_the_checks_and_the_block_is_the_same_not_found(monkeypatch, world, staff, make_patient):
    from confide.access import door
    from confide.records.models import Patient

    patient = make_patient()
    real_open = door._open

    def open_after_the_row_went(*args, **kwargs):
        Patient.objects.filter(pk=patient.id).delete()
        return real_open(*args, **kwargs)

    monkeypatch.setattr(door, "_open", open_after_the_row_went)
    with tenant_context(practice_id=world.a.practice.id), pytest.raises(NotFound):
        with open_chart(staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT, for_update=True):
            pytest.fail("the door opened")
    assert (entries(AuditEvent.ACCESS_DENIED)[-1].reason, entries(AuditEvent.ACCESS_DENIED)[-1].subject_id) == ("not_found", patient.id)


def test_psychotherapy_notes_never_open_through_the_door(staff, make_patient):
    patient = make_patient()
    _refused("psychotherapy_notes_author_only", staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT,
             categories={"health.psychotherapy_notes"})  # fmt: skip


def test_a_request_in_another_practices_context_is_refused(world, staff, make_patient):
    patient = make_patient()
    with tenant_context(practice_id=world.b.practice.id):
        _refused("practice_context_mismatch", staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT)


# --- outside the door ---------------------------------------------------------------------------
def test_reading_outside_the_door_raises_even_what_the_door_decrypted(world, staff, make_patient):
    patient = make_patient()
    with pytest.raises(PHIAccessDenied):
        patient.given_name  # noqa: B018  (the instance do_create_patient returned)
    with open_chart(staff(Role.CLINICIAN), patient.id, Purpose.TREATMENT) as chart:
        assert chart.patient.email == "marisol@example.test"
    for name in ("email", "given_name", "health_background"):
        with pytest.raises(PHIAccessDenied):
            getattr(chart.patient, name)


def test_a_door_decrypts_only_its_own_patient(world, staff, make_patient):
    from confide.records.models import Patient

    mine, other = make_patient(), make_patient(given_name="Tobias", email="tobias@example.test")
    with open_chart(staff(Role.CLINICIAN), mine.id, Purpose.TREATMENT) as chart:
        assert chart.patient.given_name == "Marisol"
        neighbour = Patient.objects.get(id=other.id)
        with pytest.raises(PHIAccessDenied):
            neighbour.given_name  # noqa: B018
        with pytest.raises(PHIAccessDenied), transaction.atomic():
            neighbour.given_name = "Changed"
            neighbour.save()


# --- system actors --------------------------------------------------------------------------------
def test_the_reminder_job_sees_a_phone_number_and_nothing_else(world, make_patient):
    # Issue 16: the reminder job writes its reminder (communications.messages) into the thread and
    # sends it by text or e-mail; it never reads a name, a date of birth, the postal address or care.
    patient = make_patient()
    job = REMINDER_JOB.for_practice(world.a.practice.id)
    with open_chart(job, patient.id, Purpose.TREATMENT) as chart:
        assert chart.patient.phone == "+14155550142"
        assert chart.patient.email
        for name in ("given_name", "date_of_birth", "health_background", "address"):
            with pytest.raises(PHIAccessDenied):
                getattr(chart.patient, name)
    opened = entries(AuditEvent.CHART_OPENED)[-1]
    assert shape(opened)["actor"] == ("system", "reminder-job", "")
    assert opened.categories == ["communications.messages", "contact.email", "contact.phone", "scheduling.appointments"]
    _refused("category_not_granted", job, patient.id, Purpose.TREATMENT, categories={"contact.address"})
    _refused("nothing_granted", job, patient.id, Purpose.OPERATIONS)


def test_a_system_actor_that_is_not_as_registered_is_refused(world, make_patient):
    patient = make_patient()
    widened = SystemActor("reminder-job", frozenset({"contact.phone", "health.background"}), world.a.practice.id, REMINDER_JOB.purposes)
    _refused("unknown_system_actor", widened, patient.id, Purpose.TREATMENT)
    stranger = SystemActor("export-everything", frozenset({"contact.phone"}), world.a.practice.id, REMINDER_JOB.purposes)
    _refused("unknown_system_actor", stranger, patient.id, Purpose.TREATMENT)
    assert entries(AuditEvent.ACCESS_DENIED)[-1].actor_id == "export-everything"


def test_a_system_actor_of_another_practice_gets_not_found(world, make_patient):
    theirs = make_patient(world.b)
    with pytest.raises(NotFound):
        with open_chart(REMINDER_JOB.for_practice(world.a.practice.id), theirs.id, Purpose.TREATMENT):
            pass
