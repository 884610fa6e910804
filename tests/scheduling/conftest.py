import pytest

from tests.scheduling.world import scheduling_world


@pytest.fixture
def sw(world):
    return scheduling_world(world.a)
