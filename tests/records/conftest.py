"""Fixtures for the chart's view and service tests: the chart world of practice A, a second
clinician, and small helpers for URLs, audit entries and escaping."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.access.conftest import make_patient, staff  # noqa: F401 - the door tests' fixtures, shared
from tests.conftest import CANARIES, sign_in
from tests.factories import MembershipFactory, UserFactory, enrol_totp
from tests.records.chart_world import chart_world

# What a hostile or careless entry looks like: markup and a canary, to be shown as text.
HOSTILE = f'<script>alert("{CANARIES["note"]}")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def chart(world):
    """Practice A's chart world (tests/records/chart_world.py): a patient made through the services."""
    return chart_world(world.a)


@pytest.fixture
def patient(chart):
    return chart.patient


@pytest.fixture
def in_a(world):
    with tenant_context(practice_id=world.a.practice.id):
        yield


@pytest.fixture
def colleague(world):
    """A second clinician of practice A: (user, StaffActor)."""
    user = UserFactory(email="second.clinician@a.example.test", display_name="Second Clinician A")
    enrol_totp(user)
    with tenant_context(practice_id=world.a.practice.id):
        membership = MembershipFactory(user=user, practice=world.a.practice, role=Role.CLINICIAN)
    return user, StaffActor.from_membership(membership)


@pytest.fixture
def colleague_client(world, colleague):
    from django.test import Client

    return sign_in(Client(), colleague[0], world.a.practice)


def url(name: str, patient, **kwargs) -> str:
    return reverse(name, kwargs={"patient_id": patient.id if hasattr(patient, "id") else patient, **kwargs})


def entries(event, **filters) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(event=str(event), **filters).order_by("id"))


def denied(**filters) -> list[AuditEntry]:
    return entries(AuditEvent.ACCESS_DENIED, **filters)


def last_opening() -> AuditEntry:
    return AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED).latest("id")


def assert_escaped(body: str, raw: str = HOSTILE) -> None:
    """`raw` appears only as text: escaped, never as markup."""
    assert raw not in body, "user content reached the page unescaped"
    assert html.escape(raw) in body or html.escape(raw, quote=False) in body, "the content is not on the page at all"


def tab_names(body: str) -> set[str]:
    import re

    return set(re.findall(r'data-testid="tab-(\w+)"', body))
