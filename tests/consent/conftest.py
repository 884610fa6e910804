"""Fixtures for the consent tests: the chart-door helpers (staff actors, patients made through
the records services), a clean cache (the new-visitor cap counts in it), and ledger readers."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from confide.consent.models import ConsentEvent, ConsentEvidence, ConsentState
from confide.core.tenancy import tenant_context
from tests.access.conftest import make_patient, staff  # noqa: F401  (fixtures, re-exported)

GPC = {"Sec-GPC": "1"}
DNT = {"DNT": "1"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def events(practice, **filters) -> list[ConsentEvent]:
    with tenant_context(practice_id=practice.id):
        return list(ConsentEvent.objects.filter(**filters).order_by("at", "created_at"))


def projection(practice) -> list[ConsentState]:
    with tenant_context(practice_id=practice.id):
        return list(ConsentState.objects.order_by("subject_kind", "subject_id", "topic"))


def evidence(practice) -> list[ConsentEvidence]:
    with tenant_context(practice_id=practice.id):
        return list(ConsentEvidence.objects.all())


def counts(practice) -> dict[str, int]:
    """Rows of each consent table in one practice: for "nothing was written" assertions."""
    from confide.audit.models import AuditEntry

    with tenant_context(practice_id=practice.id):
        return {
            "events": ConsentEvent.objects.count(),
            "evidence": ConsentEvidence.objects.count(),
            "state": ConsentState.objects.count(),
            "audit": AuditEntry.objects.filter(event__startswith="consent:").count(),
        }
