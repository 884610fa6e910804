"""Every practice's chain has a genesis entry (`audit:chain:started`), so `confide audit verify`
can cross-check every practice against the chains: one with no chain, or whose chain does not
hold its genesis entry, is a failure.

New practices get theirs at seq 1 in their creation transaction (confide/audit/signals.py).
This gives one to each practice made before: at seq 1 of a chain that has no entries, or
appended to a chain that has some, with `detail = {"existing_entries": n}` (verify accepts a
genesis entry at seq n + 1 only when it says so). Idempotent: a chain that holds a genesis
entry already is left alone, so migrating back and forth adds nothing. The reverse is a no-op:
the log is append-only.

The hash is computed by `confide.audit.chain.entry_hash`, the function verify checks with: an
entry's hash is by definition what it computes. After upgrading, run `confide audit checkpoint`
once so these tails are sealed (new tails are sealed by the task worker).
"""

from django.db import migrations, transaction
from django.utils import timezone

GENESIS_EVENT = "audit:chain:started"


def start_chains(apps, schema_editor) -> None:
    from confide.audit.chain import entry_hash
    from confide.audit.scope import chain_scope

    Practice = apps.get_model("core", "Practice")
    AuditEntry = apps.get_model("audit", "AuditEntry")
    ChainHead = apps.get_model("audit", "ChainHead")
    db = schema_editor.connection.alias
    for practice_id in Practice.objects.using(db).order_by("created_at", "id").values_list("id", flat=True):
        chain = str(practice_id)
        with transaction.atomic(using=db), chain_scope(chain, using=db):
            ChainHead.objects.using(db).get_or_create(chain=chain)
            head = ChainHead.objects.using(db).select_for_update().get(chain=chain)
            if AuditEntry.objects.using(db).filter(chain=chain, event=GENESIS_EVENT).exists():
                continue
            entry = AuditEntry(
                chain=chain, seq=head.seq + 1, at=timezone.now(), event=GENESIS_EVENT, practice_id=practice_id,
                actor_kind="system", actor_id="audit-migration", actor_role="", purpose="", subject_id=None,
                resource_ids=[], categories=[], fields_changed=[], outcome="ok", reason="", flagged=False,
                detail={"existing_entries": head.seq} if head.seq else {}, request_id="", ip_address=None, user_agent="",
                prev_hash=head.hash,
            )  # fmt: skip
            entry.hash = entry_hash(entry)
            entry.save(using=db, force_insert=True)
            ChainHead.objects.using(db).filter(chain=chain).update(seq=entry.seq, hash=entry.hash, checkpoint_at=head.checkpoint_at or entry.at)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_chainhead_checkpoint"), ("core", "0001_initial")]

    operations = [migrations.RunPython(start_chains, migrations.RunPython.noop, elidable=False)]
