"""The notice banner asks the database for a practice's material versions at most once per
MATERIAL_CACHE_SECONDS per process (it is on every page; issue 13), and still shows a version
saved in this process at once, and one saved elsewhere within the interval."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy import acknowledgements
from confide.policy.models import PolicyVersion

MATERIAL = "[age]\nminimum = 13\n"


@pytest.fixture(autouse=True)
def _empty_cache():
    acknowledgements._material.clear()
    yield
    acknowledgements._material.clear()


def _clinician(world):
    return StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])


def test_a_page_with_nothing_to_announce_asks_the_database_once_per_interval(world, django_assert_num_queries):
    clinician = _clinician(world)
    assert acknowledgements.banners_for(actor=clinician) == []
    with django_assert_num_queries(0):
        assert acknowledgements.banners_for(actor=clinician) == []


def test_a_version_published_in_this_process_is_announced_at_once(world, publish):
    clinician = _clinician(world)
    assert acknowledgements.banners_for(actor=clinician) == []
    version = publish(MATERIAL, days=31, material=True, summary="Teenagers from 13.")
    assert [b.version_id for b in acknowledgements.banners_for(actor=clinician)] == [version.pk]


def test_a_version_saved_by_another_process_is_announced_once_the_interval_has_passed(world, publish, monkeypatch):
    clinician = _clinician(world)
    version = publish(MATERIAL, days=31, material=True)
    assert len(acknowledgements.banners_for(actor=clinician)) == 1
    # Another process's insert sends no signal here: bulk_create stands in for it.
    with tenant_context(practice_id=world.a.practice.id):
        row = PolicyVersion.objects.filter(pk=version.pk).values().get()
        row.update(id=None, number=row["number"] + 1, effective_at=timezone.now() + datetime.timedelta(days=40))
        [other] = PolicyVersion.objects.bulk_create([PolicyVersion(**row)])
    assert len(acknowledgements.banners_for(actor=clinician)) == 1
    later = acknowledgements.time.monotonic() + acknowledgements.MATERIAL_CACHE_SECONDS + 1
    monkeypatch.setattr(acknowledgements.time, "monotonic", lambda: later)
    assert [b.version_id for b in acknowledgements.banners_for(actor=clinician)] == [version.pk, other.pk]
