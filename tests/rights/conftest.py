import pytest

from tests.portal_world import portal_world as build_portal_world


@pytest.fixture
def portal(world):
    return build_portal_world(world.a)
