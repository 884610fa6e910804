"""AUD1: one gap-free hash chain per practice, entries carrying ids and categories only."""

import pytest
from django.db import transaction

from confide.audit.chain import PLATFORM_CHAIN, record, sealed_hash, system_actor
from confide.audit.events import AuditEvent
from confide.audit.models import GENESIS, AuditEntry, ChainHead
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from tests.audit.sealing import sealed


def test_entries_chain_per_practice_with_gap_free_sequences(world):
    actor = StaffActor.from_membership(world.a.memberships[Role.CLINICIAN])
    first = record(AuditEvent.CHART_OPENED, practice_id=world.a.practice.id, actor=actor, purpose="treatment", categories=["contact.email"])
    second = record(AuditEvent.CHART_OPENED, practice_id=world.a.practice.id, actor=actor, purpose="treatment")
    other = record(AuditEvent.CHART_OPENED, practice_id=world.b.practice.id, actor=system_actor("reminder-job"))
    first, second, other = sealed(first, second, other)
    # Seq 1 of each is the practice's genesis entry, written when it was made.
    assert (first.seq, second.seq, other.seq) == (2, 3, 2)
    genesis = AuditEntry.objects.get(chain=str(world.a.practice.id), seq=1)
    assert genesis.prev_hash == GENESIS and first.prev_hash == genesis.hash and second.prev_hash == first.hash
    assert (first.actor_kind, first.actor_id, first.actor_role) == ("user", str(actor.user_id), "clinician")
    assert ChainHead.objects.get(chain=str(world.a.practice.id)).hash == second.hash
    stored = AuditEntry.objects.get(id=second.id)
    assert sealed_hash(stored) == stored.hash  # the hash survives the database round trip


def test_practice_less_events_go_to_the_platform_chain(db):
    entry = record(AuditEvent.SIGNIN_FAILED)
    assert entry.chain == PLATFORM_CHAIN and entry.actor_kind == "anonymous"


def test_an_event_outside_the_enum_is_refused(db):
    with pytest.raises(ValueError):
        record("records:chart:peeked")


def test_the_entry_rolls_back_with_the_action_it_records(world):
    with pytest.raises(RuntimeError), transaction.atomic():
        record(AuditEvent.CHART_OPENED, practice_id=world.a.practice.id)
        raise RuntimeError("the action failed after its entry was written")
    # This practice's chain only: on PostgreSQL other tests may have committed rows (the log is append-only).
    assert list(AuditEntry.objects.filter(chain=str(world.a.practice.id)).values_list("event", flat=True)) == [AuditEvent.CHAIN_STARTED]
    assert sealed(record(AuditEvent.CHART_OPENED, practice_id=world.a.practice.id)).seq == 2


def test_entries_cannot_be_changed_through_the_orm(world):
    entry = record(AuditEvent.CHART_OPENED, practice_id=world.a.practice.id)
    entry.outcome = "denied"
    with pytest.raises(RuntimeError):
        entry.save()
    with pytest.raises(RuntimeError):
        entry.delete()
