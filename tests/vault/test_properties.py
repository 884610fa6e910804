"""SEC1, as properties: any value round-trips; any change or move of a ciphertext fails to open.

Hypothesis drives the values, the byte to change and the rows and columns to swap. The examples
of one test share its fixtures (one test transaction, the same patients), so each example
writes its own values before it looks at them.
"""

import base64
import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confide.records.models import Patient
from confide.records.services import CHART
from confide.vault.allowance import allow
from confide.vault.errors import DecryptionFailed
from confide.vault.fields import Sealed

SHARED_FIXTURES = {
    "deadline": None,
    "database": None,  # no .hypothesis/ directory in the working tree
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}

TEXT_FIELDS = ["given_name", "family_name", "preferred_name", "email", "phone", "health_background"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)

# Every encrypted column of Patient with values of its type. A top-level JSON null is stored
# as SQL NULL (nothing to encrypt), so the ciphertext properties use non-null JSON only.
VALUES = {name: st.text() for name in TEXT_FIELDS} | {
    "date_of_birth": st.dates(),
    "medications": json_values.filter(lambda value: value is not None),
}
field_and_value = st.sampled_from(sorted(VALUES)).flatmap(lambda name: st.tuples(st.just(name), VALUES[name]))


@pytest.fixture
def patient(make_patient):
    return make_patient()


@pytest.fixture
def other_patient(make_patient):
    return make_patient(given_name="Grace", family_name="Hopper")


def _store(patient, name, value):
    with allow(CHART):
        setattr(patient, name, value)
        patient.save(update_fields=[name])


def _read(patient_id, name):
    with allow(CHART):
        return getattr(Patient.objects.get(id=patient_id), name)


def _sealed(patient_id, name) -> Sealed:
    stored = Patient.objects.filter(id=patient_id).values_list(name, flat=True).get()
    assert isinstance(stored, Sealed) and stored.startswith("cv1:s:")
    return stored


def _put(patient_id, name, sealed: str) -> None:
    Patient.objects.filter(id=patient_id).update(**{name: Sealed(sealed)})


def _assert_does_not_open(patient_id, name):
    with pytest.raises(DecryptionFailed):
        value = _read(patient_id, name)
        pytest.fail(f"{name} opened to a value after tampering: {value!r}")


@settings(max_examples=100, **SHARED_FIXTURES)
@given(name=st.sampled_from(TEXT_FIELDS), value=st.text())
def test_sec1_any_text_saved_in_an_encrypted_field_reads_back_unchanged(patient, name, value):
    _store(patient, name, value)
    assert _read(patient.id, name) == value


@settings(max_examples=100, **SHARED_FIXTURES)
@given(value=json_values)
def test_sec1_any_json_value_saved_in_an_encrypted_json_field_reads_back_unchanged(patient, value):
    _store(patient, "medications", value)
    assert _read(patient.id, "medications") == value


@settings(max_examples=100, **SHARED_FIXTURES)
@given(value=st.dates())
def test_sec1_any_date_saved_in_an_encrypted_date_field_reads_back_unchanged(patient, value):
    _store(patient, "date_of_birth", value)
    read = _read(patient.id, "date_of_birth")
    assert type(read) is datetime.date and read == value


@settings(max_examples=200, **SHARED_FIXTURES)
@given(field=field_and_value, data=st.data())
def test_sec1_changing_any_single_byte_of_a_ciphertext_makes_reading_it_fail(patient, field, data):
    name, value = field
    _store(patient, name, value)
    prefix, scope, version, body = _sealed(patient.id, name).split(":", 3)
    raw = bytearray(base64.b64decode(body))
    index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1), label="index")
    flip = data.draw(st.integers(min_value=1, max_value=255), label="xor")  # non-zero: the byte changes
    raw[index] ^= flip
    _put(patient.id, name, f"{prefix}:{scope}:{version}:{base64.b64encode(bytes(raw)).decode()}")
    _assert_does_not_open(patient.id, name)


@settings(max_examples=75, **SHARED_FIXTURES)
@given(name=st.sampled_from(sorted(VALUES)), data=st.data())
def test_sec1_swapping_a_column_s_ciphertexts_between_two_patients_makes_both_fail_to_open(
    patient, other_patient, name, data
):
    _store(patient, name, data.draw(VALUES[name], label="first value"))
    _store(other_patient, name, data.draw(VALUES[name], label="second value"))
    first, second = _sealed(patient.id, name), _sealed(other_patient.id, name)
    _put(patient.id, name, second)
    _put(other_patient.id, name, first)
    _assert_does_not_open(patient.id, name)
    _assert_does_not_open(other_patient.id, name)


@settings(max_examples=75, **SHARED_FIXTURES)
@given(names=st.lists(st.sampled_from(sorted(VALUES)), min_size=2, max_size=2, unique=True), data=st.data())
def test_sec1_swapping_ciphertexts_between_two_columns_of_one_patient_makes_both_fail_to_open(patient, names, data):
    a, b = names
    _store(patient, a, data.draw(VALUES[a], label=a))
    _store(patient, b, data.draw(VALUES[b], label=b))
    sealed_a, sealed_b = _sealed(patient.id, a), _sealed(patient.id, b)
    _put(patient.id, a, sealed_b)
    _put(patient.id, b, sealed_a)
    _assert_does_not_open(patient.id, a)
    _assert_does_not_open(patient.id, b)
