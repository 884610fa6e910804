"""AUD2: the checkpoint timer under real concurrency (issue 11 item 9).

Many writers appending to one practice's chain at once, with sealers running beside them, leave
exactly one pending seal task for its open tail (it is enqueued under the chain-head lock by the
seal that opened the tail);
several task workers running at once, once it is due, run it once and write one checkpoint, at
the head; several sealers at once (the task, `confide audit checkpoint`) store one checkpoint.
Afterwards the chain verifies."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

THREADS, PER_THREAD, WORKERS = 8, 10, 4
SEAL_TASK = "confide.audit.tasks.seal_chain"


def scenario_seal_timer(params):
    import datetime
    import io
    from pathlib import Path

    import time_machine
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.utils import timezone
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    from confide.audit import checkpoints
    from confide.audit.chain import record, seal, system_actor
    from confide.audit.events import AuditEvent
    from confide.audit.models import ChainHead

    world = new_world("seal")
    chain = str(world.practice.id)

    def seals(status: str) -> int:
        return sum(1 for t in DBTaskResult.objects.filter(task_path=SEAL_TASK, status=status) if t.args_kwargs["args"] == [chain])

    def append(i: int) -> int:
        for _ in range(params["per_thread"]):
            record(AuditEvent.CHART_OPENED, practice_id=chain, actor=system_actor(f"writer-{i}"))
        return i

    def append_or_seal(i: int) -> int:
        if i < params["threads"]:
            return append(i)
        for _ in range(params["per_thread"]):
            seal(chain, wait=i % 2 == 0)
        return i

    appended = concurrently(params["threads"] + 2, append_or_seal)  # two sealers among the writers
    seal(chain)  # what they left: the sealer loop's next pass
    pending_after_appends = seals("READY")

    def work(i: int) -> str:
        Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
               max_tasks=None, worker_id=f"worker-{i}", excluded_queue_names=[]).run()  # fmt: skip
        return "done"

    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=settings.CONFIDE_AUDIT_CHECKPOINT_MINUTES, seconds=1), tick=True):
        workers = concurrently(params["workers"], work)
    head = ChainHead.objects.get(chain=chain)
    sink = Path(settings.CONFIDE_AUDIT_CHECKPOINT_DIR) / chain
    after_workers = {"files": sorted(p.name for p in sink.iterdir()), "head": [head.seq, head.checkpoint_seq],
                     "succeeded": seals("SUCCESSFUL"), "failed": seals("FAILED"), "pending": seals("READY")}  # fmt: skip

    record(AuditEvent.CHART_OPENED, practice_id=chain)  # a new tail, sealed by several at once
    seal(chain)
    sealed = concurrently(params["workers"], lambda i: (c := checkpoints.seal(chain)) and c.seq)
    head = ChainHead.objects.get(chain=chain)
    out = io.StringIO()
    try:
        call_command("audit", "verify", "--chain", chain, stdout=out, stderr=out)
        verified = out.getvalue()
    except CommandError as exc:
        verified = f"{out.getvalue()}{exc}"
    return {
        "errors": [o.error for o in appended + workers + sealed if not o.ok],
        "pending_after_appends": pending_after_appends,
        "after_workers": after_workers,
        "sealed": sorted(o.value or 0 for o in sealed),
        "files": sorted(p.name for p in sink.iterdir()),
        "head": [head.seq, head.checkpoint_seq],
        "verified": verified,
    }


def test_aud2_one_seal_per_open_tail_run_once_by_many_workers(tmp_path, concurrency_db):
    result = run_scenario(
        tmp_path, scenario_seal_timer, threads=THREADS, per_thread=PER_THREAD, workers=WORKERS,
        env={"CONFIDE_AUDIT_CHECKPOINT_EVERY": "1000", "CONFIDE_AUDIT_CHECKPOINT_MINUTES": "10"},
    )  # fmt: skip
    assert result["errors"] == []
    head = 1 + THREADS * PER_THREAD  # the genesis entry, then every append
    assert result["pending_after_appends"] == 1
    assert result["after_workers"] == {"files": [f"{head:012d}.json"], "head": [head, head], "succeeded": 1, "failed": 0, "pending": 0}
    assert result["sealed"] == [0] * (WORKERS - 1) + [head + 1]  # one sealer stored it; the others found it done
    assert result["files"] == [f"{head:012d}.json", f"{head + 1:012d}.json"] and result["head"] == [head + 1, head + 1]
    assert result["verified"].strip() == f"OK {head + 1} entries, 2 checkpoints", result["verified"]
