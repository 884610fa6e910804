import datetime

import pytest

from tests.access.conftest import make_patient, staff  # noqa: F401 - fixtures shared with the door's tests

# Fixed clocks: after the real now (tests run in December 2026).
NOW = datetime.datetime(2027, 3, 15, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def patient(make_patient):
    return make_patient()
