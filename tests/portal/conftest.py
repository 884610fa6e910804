import pytest

from tests.portal_world import portal_world as build_portal_world


@pytest.fixture
def portal(world):
    """The portal people of practice A (tests/portal_world.py)."""
    return build_portal_world(world.a)


@pytest.fixture
def portal_b(world):
    return build_portal_world(world.b)
