"""ACC6: a session idle longer than the practice's timeout is signed out, with a message."""

import time

import time_machine
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role


def test_acc6_idle_session_is_signed_out_after_the_practice_timeout(signed_in, world):
    client = signed_in(Role.CLINICIAN)
    assert client.get("/").status_code == 200
    with time_machine.travel(time.time() + 16 * 60):
        response = client.get("/", follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("accounts:login"))
    assert b"signed out after a period of inactivity" in response.content
    expired = AuditEntry.objects.get(event=AuditEvent.SESSION_IDLE_EXPIRED)
    assert (expired.chain, expired.actor_id) == (str(world.a.practice.id), str(world.a.user(Role.CLINICIAN).pk))
    assert "_auth_user_id" not in client.session


def test_activity_within_the_timeout_keeps_the_session(signed_in):
    client = signed_in(Role.CLINICIAN)
    client.get("/")
    with time_machine.travel(time.time() + 14 * 60):
        assert client.get("/").status_code == 200
        with time_machine.travel(time.time() + 14 * 60):
            assert client.get("/").status_code == 200


def test_the_timeout_is_a_practice_setting(signed_in, world):
    world.a.practice.idle_timeout_minutes = 60
    world.a.practice.save()
    client = signed_in(Role.CLINICIAN)
    client.get("/")
    with time_machine.travel(time.time() + 30 * 60):
        assert client.get("/").status_code == 200


def test_an_expired_htmx_request_gets_401_with_a_full_page_redirect(signed_in):
    client = signed_in(Role.CLINICIAN)
    client.get("/")
    with time_machine.travel(time.time() + 16 * 60):
        response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response["HX-Redirect"].startswith(reverse("accounts:login"))
