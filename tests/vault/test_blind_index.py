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


def test_name_prefixes_are_every_beginning_of_every_token_up_to_the_limit():
    assert blind_index.name_prefixes("Zoë Li") == ["l", "li", "z", "zo", "zoe"]
    long = "a" * (blind_index.PREFIX_MAX + 5)
    assert max(len(p) for p in blind_index.name_prefixes(long)) == blind_index.PREFIX_MAX
    assert blind_index.prefix_query_tokens(long) == ["a" * blind_index.PREFIX_MAX]


def test_prefix_digests_are_made_under_a_key_of_their_own(world):
    """A name's prefix entry never equals its exact entry (nor a digest under the index key with
    the prefix kind's label): the prefix index is keyed separately (docs/architecture.md)."""
    import hashlib
    import hmac

    from confide.vault import keys

    with tenant_context(practice_id=world.a.practice.id):
        exact = blind_index.digest(world.a.practice.id, "name", "li")
        prefix = blind_index.digest(world.a.practice.id, "name_prefix", "li")
        under_index_key = hmac.new(keys.index_key(world.a.practice.id), b"name_prefix\x1fli", hashlib.sha256).hexdigest()[:32]
    assert prefix != exact and prefix != under_index_key


def test_a_name_is_found_by_the_beginnings_of_its_words(make_patient, in_practice_a):
    ada = make_patient(given_name="Zoë", family_name="Ó Briain")
    make_patient(given_name="Zora", family_name="Brown")
    for query in ("zo bri", "ZOË Ó", "o b", "bria"):
        assert [p.id for p in search_patients(in_practice_a, query)] == [ada.id], query
    assert len(search_patients(in_practice_a, "zo")) == 2
    assert search_patients(in_practice_a, "oe") == [], "the middle of a word is not its beginning"
