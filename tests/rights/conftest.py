import pytest

from tests.portal_world import portal_world as build_portal_world


@pytest.fixture
def portal(world):
    return build_portal_world(world.a)


# Part "export": the access tests' staff and make_patient fixtures (tests/access/conftest.py).
from tests.access.conftest import make_patient, staff  # noqa: E402, F401
