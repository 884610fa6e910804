from tests.conftest import sign_in
from confide.core.permissions import Role


def test_signed_in_owner_reaches_the_dashboard(client, world):
    sign_in(client, world.a.owner, world.a.practice)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Practice A" in response.content


def test_the_fixed_clock_holds_still_until_shifted(clock):
    from django.utils import timezone

    start = timezone.now()
    assert start.isoformat().startswith("2026-03-02T09:00:00")
    clock.shift(90)
    assert (timezone.now() - start).total_seconds() == 90


def test_outside_network_is_blocked():
    import socket

    import pytest

    # pytest-socket warns then raises; with warnings as errors the warning is what surfaces.
    with pytest.raises((UserWarning, RuntimeError)) as blocked:
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    assert "tried to use socket" in str(blocked.value)
