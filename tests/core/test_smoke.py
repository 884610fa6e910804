from tests.conftest import sign_in
from confide.core.permissions import Role


def test_signed_in_owner_reaches_the_dashboard(client, world):
    sign_in(client, world.a.owner, world.a.practice)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Practice A" in response.content
