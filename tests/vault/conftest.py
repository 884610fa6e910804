import pytest

from confide.core.actors import StaffActor
from confide.core.tenancy import tenant_context


@pytest.fixture
def in_practice_a(world):
    """Run the test body inside practice A's tenant context; yields A's clinician as an actor."""
    from confide.core.permissions import Role

    with tenant_context(practice_id=world.a.practice.id):
        yield StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])


@pytest.fixture
def make_patient(in_practice_a):
    from confide.records.services import do_create_patient

    def make(**overrides):
        data = {"given_name": "Ada", "family_name": "Lovelace"} | overrides
        return do_create_patient(actor=in_practice_a, **data)

    return make
