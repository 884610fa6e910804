"""The patient's row lock, taken by the chart door (STYLE: `select_for_update` lives in
`<app>/locks.py`).

A chart write is a read-modify-write of the patient's row: the encrypted clinical lists are
whole values, and a service that appends to one from a copy read before another writer
committed would put that writer's item out again (REC4: nothing a user was told was saved may
be lost). So every write re-reads the row under its lock, inside the transaction that writes
it; the chart door does this for an opening `for_update` (confide/access/door.py). The door
sits below the records package that defines `Patient`, so the model comes by name
(`confide.core.subjects.patient_model`), never by import.

PostgreSQL: `SELECT … FOR UPDATE` of the patient's row, held until the transaction ends.
SQLite has no row locks (Django leaves `select_for_update` out there): its transactions are
`BEGIN IMMEDIATE` (settings: transaction_mode), so the database's single writer lock is held
from the start of the transaction and the re-read inside it is what makes it current.

Lock order, everywhere: the patient's row *before* the practice's audit chain head, which
`audit.chain.record` locks for each entry until commit. A transaction holding the chain head
and waiting for a patient whose writer waits for the chain head would deadlock. The door takes
the lock first thing in the block's transaction (and, inside a caller's transaction, before its
opening entry); a service that writes audit entries and then opens the door for update in one
transaction (intake's accept into an existing chart) locks the patient at its start. A
transaction that ever needs several patients must lock them in pk order.
"""

from __future__ import annotations

from confide.core.subjects import patient_model


def lock_patient(patient_id, annotate: dict | None = None):
    """The patient's row, re-read and locked until the caller's transaction ends; None when the
    practice in context has no such patient. Call it inside a transaction."""
    rows = patient_model().objects.select_for_update().filter(pk=patient_id)
    # `annotate`: values read in the same statement (the door's key generation); the lock is
    # on the patient's row only (a subquery in the select list locks nothing).
    return (rows.annotate(**annotate) if annotate else rows).first()

