"""ACC6: a session ends 12 hours after sign-in however busy it is (the idle timeout alone never
ends a session in use, and the cookie's age is renewed with every request)."""

import time

import time_machine
from django.conf import settings
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role

STEP = 10 * 60  # a request every ten minutes: never idle (the timeout is 15 minutes)


def _busy_until(client, seconds: int, start: float) -> None:
    """Requests every STEP seconds from `start` to `start + seconds`, each one answered."""
    for elapsed in range(STEP, seconds + 1, STEP):
        with time_machine.travel(start + elapsed, tick=False):
            assert client.get("/").status_code == 200, f"signed out after {elapsed / 3600:.1f} h"


def test_acc6_a_session_in_constant_use_ends_at_the_absolute_cap(signed_in, world):
    start = time.time()
    with time_machine.travel(start, tick=False):
        client = signed_in(Role.CLINICIAN)
        assert client.get("/").status_code == 200
    cap = settings.SESSION_COOKIE_AGE
    assert cap == 12 * 60 * 60
    _busy_until(client, cap - STEP // 2, start)

    with time_machine.travel(start + cap + 60, tick=False):
        response = client.get("/", follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("accounts:login"))
    assert b"signed out 12 hours after signing in" in response.content
    assert "_auth_user_id" not in client.session
    ended = AuditEntry.objects.get(event=AuditEvent.SESSION_CAP_REACHED)
    clinician = world.a.user(Role.CLINICIAN)
    assert (ended.chain, ended.actor_id, ended.detail) == (str(world.a.practice.id), str(clinician.pk), {"user_id": str(clinician.pk)})
    assert not AuditEntry.objects.filter(event=AuditEvent.SESSION_IDLE_EXPIRED).exists()


def test_acc6_the_cap_counts_from_sign_in(client, world):
    from confide.core.middleware import SESSION_STARTED_AT
    from tests.conftest import PASSWORD

    start = time.time()
    with time_machine.travel(start, tick=False):
        assert client.post(reverse("accounts:login"), {"username": world.a.owner.email, "password": PASSWORD}).status_code == 302
    with time_machine.travel(start + 5 * 60, tick=False):
        assert client.get(reverse("accounts:mfa-verify")).status_code == 200
    assert client.session[SESSION_STARTED_AT] == int(start)


def test_acc6_an_htmx_request_past_the_cap_gets_401_with_a_full_page_redirect(signed_in):
    start = time.time()
    with time_machine.travel(start, tick=False):
        client = signed_in(Role.CLINICIAN)
        client.get("/")
    _busy_until(client, settings.SESSION_COOKIE_AGE - STEP // 2, start)
    with time_machine.travel(start + settings.SESSION_COOKIE_AGE + 60, tick=False):
        response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response["HX-Redirect"].startswith(reverse("accounts:login"))
