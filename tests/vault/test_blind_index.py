"""Blind indexes: exact search by email, phone, date of birth and name tokens (REC/ACC4-safe)."""

import datetime

import pytest

from confide.core.tenancy import tenant_context
from confide.records.services import search_patients
from confide.vault import blind_index
from confide.vault.models import BlindIndexEntry


def test_search_finds_by_each_kind_after_normalising(make_patient, in_practice_a):
    ada = make_patient(given_name="Zoë", family_name="Ó Briain", email="Zoe@Example.test",
                       phone="(555) 010-4477", date_of_birth=datetime.date(1990, 5, 17))
    make_patient(given_name="Other", family_name="Person", email="other@example.test")
    for query in ("zoe@example.TEST", "+1 555 010 4477", "555-010-4477", "1990-05-17", "zoe", "o briain", "ZOË Ó"):
        assert [p.id for p in search_patients(in_practice_a, query)] == [ada.id], query


def test_entries_hold_digests_not_values(make_patient, in_practice_a):
    make_patient(given_name="Zebulon", family_name="Canarywood", email="zeb@example.test")
    digests = list(BlindIndexEntry.objects.values_list("digest", flat=True))
    assert digests and all(len(d) == 32 and "zeb" not in d for d in digests)


def test_the_same_value_in_two_practices_gives_unrelated_digests(world):
    with tenant_context(practice_id=world.a.practice.id):
        a = blind_index.digest(world.a.practice.id, "email", "same@example.test")
    with tenant_context(practice_id=world.b.practice.id):
        b = blind_index.digest(world.b.practice.id, "email", "same@example.test")
    assert a != b


def test_another_practices_patient_is_not_found(make_patient, world):
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role

    make_patient(email="shared@example.test")
    with tenant_context(practice_id=world.b.practice.id):
        actor_b = StaffActor.from_membership(world.b.memberships[Role.OWNER])
        assert search_patients(actor_b, "shared@example.test") == []


def test_a_malformed_date_search_says_what_is_wrong(make_patient, in_practice_a):
    from confide.core.errors import InvalidInput

    make_patient()
    with pytest.raises(InvalidInput, match=r"not a date \(YYYY-MM-DD\)"):
        search_patients(in_practice_a, "1990-13-45")


@pytest.mark.parametrize(("text", "kind"), [("a@b.test", "email"), ("1990-05-17", "dob"), ("555 010 4477", "phone"), ("ada", "name")])
def test_classify(text, kind):
    assert blind_index.classify(text) == kind
