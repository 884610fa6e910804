"""The audit log's background work: sealing a quiet chain's tail (see confide/audit/checkpoints.py).

`seal_chain` is enqueued by the entry that opens a tail, with run_after = that entry's time +
CONFIDE_AUDIT_CHECKPOINT_MINUTES; the database task backend keeps it as a row, so a restarted
worker still runs it. It seals the chain's waiting entries first (confide/audit/chain.py; the
sealer loop normally has), then checkpoints the chain's head as it is when it runs. If the sink
cannot be written it schedules itself again an interval later and fails (the failure is on
record as the task's result and in the log); verify fails for entries left unsealed too long.
"""

from __future__ import annotations

import logging

from django.utils import timezone
from django_tasks import task

from confide.audit import chain as chains, checkpoints

logger = logging.getLogger(__name__)


@task()
def seal_chain(chain: str) -> dict:
    try:
        chains.seal(chain)
        checkpoint = checkpoints.seal(chain)
    except Exception:
        logger.error("audit seal failed; retrying later", exc_info=True, extra={"event": "audit:checkpoint:failed", "object_id": chain})
        checkpoints.schedule_seal(chain, timezone.now() + checkpoints.seal_interval())
        raise
    return {"chain": chain, "seq": checkpoint.seq if checkpoint else None}
