"""The privacy officer's queue of rights requests: open requests by due date, names where the
role sees them, the viewing audited; roles without the permission are refused."""

from __future__ import annotations

from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.rights import services
from confide.rights.models import RequestStatus, RightsRequest
from tests.conftest import sign_in


def test_the_privacy_officer_sees_open_requests_soonest_due_first_with_names(client, world, portal):
    late = services.check_open_request(actor=portal.adult.actor, kind="correct")  # due in 60 days
    soon = services.check_open_request(actor=portal.child_actor, kind="see")  # due in 30 days
    sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
    response = client.get(reverse("rights:queue"))
    assert response.status_code == 200
    rows = response.content.decode().split('data-testid="rights-request"')[1:]
    assert len(rows) == 2
    assert "Kit Parent" in rows[0] and "See my information" in rows[0] and "asked by a parent or guardian" in rows[0]
    assert "Ada Portal" in rows[1] and "Correct something" in rows[1]
    with tenant_context(practice_id=world.a.practice.id):
        entry = AuditEntry.objects.filter(event=AuditEvent.RIGHTS_QUEUE_VIEWED).get()
    assert sorted(entry.resource_ids) == sorted([str(late.pk), str(soon.pk)])


def test_done_requests_leave_the_queue(client, world, portal):
    made = services.check_open_request(actor=portal.adult.actor, kind="see")
    with tenant_context(practice_id=world.a.practice.id):
        RightsRequest.objects.filter(pk=made.pk).update(status=RequestStatus.DONE)
    sign_in(client, world.a.owner, world.a.practice)
    assert "No privacy requests are waiting." in client.get(reverse("rights:queue")).content.decode()


def test_roles_without_the_permission_are_refused(client, world):
    for role in (Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING):
        sign_in(client, world.a.users[role], world.a.practice)
        assert client.get(reverse("rights:queue")).status_code == 403, role


def test_another_practices_requests_are_never_listed(client, world, portal):
    services.check_open_request(actor=portal.adult.actor, kind="see")
    sign_in(client, world.b.users[Role.PRIVACY_OFFICER], world.b.practice)
    assert "No privacy requests are waiting." in client.get(reverse("rights:queue")).content.decode()


def test_the_dashboard_links_the_queue_for_those_who_may_see_it(client, world):
    sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
    assert f'href="{reverse("rights:queue")}"' in client.get(reverse("core:dashboard")).content.decode()
    sign_in(client, world.a.users[Role.CLINICIAN], world.a.practice)
    assert f'href="{reverse("rights:queue")}"' not in client.get(reverse("core:dashboard")).content.decode()
