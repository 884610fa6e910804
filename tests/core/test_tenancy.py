"""The ORM layer of tenancy (runs on SQLite and PostgreSQL): no context, no tenant rows."""

import pytest

from confide.accounts.models import Membership
from confide.core.errors import NoPracticeContext
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context


def test_tenant_manager_raises_outside_a_practice_context(world):
    with pytest.raises(NoPracticeContext):
        Membership.objects.all()


def test_tenant_manager_returns_only_the_practice_in_context(world):
    with tenant_context(practice_id=world.a.practice.id):
        rows = list(Membership.objects.all())
        # B's row is not found even when asked for by id.
        assert not Membership.objects.filter(id=world.b.memberships[Role.OWNER].id).exists()
    assert {m.id for m in rows} == {m.id for m in world.a.memberships.values()}
    assert {m.practice_id for m in rows} == {world.a.practice.id}
