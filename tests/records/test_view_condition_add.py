"""Adding a condition from the clinical tab."""

from __future__ import annotations

import datetime

from confide.core.permissions import Role
from tests.records.conftest import url
from tests.security.routes_helpers import assert_no_writes

ADD = "records:condition-add"


def test_a_clinician_adds_a_condition_with_its_onset(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    response = client.post(url(ADD, patient), {"condition-name": "Insomnia", "condition-status": "active", "condition-onset": "2025-11-01"})
    assert response.status_code == 302
    body = client.get(url("records:chart-clinical", patient)).content.decode()
    assert "Insomnia" in body and "2025-11-01" in body


def test_an_onset_in_the_future_is_refused_and_nothing_changes(signed_in, patient):
    client = signed_in(Role.CLINICIAN)
    future = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    with assert_no_writes():
        response = client.post(url(ADD, patient), {"condition-name": "Insomnia", "condition-status": "active", "condition-onset": future})
    assert response.status_code == 400 and b"The onset cannot be in the future." in response.content


def test_front_desk_cannot_add_a_condition(signed_in, patient):
    client = signed_in(Role.FRONT_DESK)
    with assert_no_writes():
        assert client.post(url(ADD, patient), {"condition-name": "x", "condition-status": "active"}).status_code == 403
