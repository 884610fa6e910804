"""`confide audit …`: checking the tamper-evident log.

  confide audit verify [--practice SLUG | --chain ID] [--public-key PATH] [--chunk-size N]
                       [--jobs N] [--allow-missing-checkpoints] [--database ALIAS]
        recompute every chain (or one) from its entries, check every signed checkpoint in the sink
        and the chain head, and every practice against the chains; exit 0 with
        `OK <entries> entries, <checkpoints> checkpoints`, or exit 1 naming each broken chain, its
        first bad sequence number and what is wrong there — or that the checkpoint sink is
        missing or unreadable (a warning instead with --allow-missing-checkpoints, which also
        skips the check that old entries are sealed). A chain longer than
        CONFIDE_AUDIT_VERIFY_SEGMENT_ENTRIES is verified in segments, --jobs processes at a time
        (default: the number of cores), with the same report as one pass. On PostgreSQL it reads as the owning role
        (the `owner` alias, DATABASE_MIGRATE_URL): the application role cannot read every chain.
  confide audit seal [--follow] [--interval SECONDS] [--practice SLUG | --chain ID]
        seal the entries waiting in each chain (or one): give them their sequence numbers and chain
        hashes, and schedule the checkpoints that fall due; with --follow, keep doing it every
        --interval seconds (default CONFIDE_AUDIT_SEAL_SECONDS, 1) until stopped: `make run` runs
        this beside the web server. `verify`, `checkpoint` and `export` seal first.
  confide audit checkpoint [--practice SLUG | --chain ID]
        seal each chain now: sign and export a checkpoint of its current head (after an upgrade,
        before a backup; the task worker seals quiet chains on its own)
  confide audit export --practice SLUG --output PATH [--from DATE] [--to DATE] [--patient UUID]
                       [--user ID] [--event EVENT]
        the compliance export: what the viewer shows the practice, with every entry about
        psychotherapy notes in full (the viewer shows those only to their author), as CSV in a new
        file (mode 0600, never overwritten), for an investigation or a legal request; the export
        is itself recorded on the practice's chain (`audit:log:exported`, counts only)

Output names chains (practice ids and slugs), sequence numbers, hashes and counts: never entry content.
"""

from __future__ import annotations

import datetime
import logging
import os
import signal
import threading
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections
from django.utils import timezone

from confide.audit import chain as chains_module, checkpoints, verify
from confide.audit.chain import PLATFORM_CHAIN
from confide.core.models import Practice

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "The audit log: verify the hash chains and signed checkpoints; write checkpoints."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{verify,seal,checkpoint,export}")
        check = sub.add_parser("verify", help="verify every chain (or one) against its checkpoints")
        seal = sub.add_parser("seal", help="seal the entries waiting in each chain (--follow: keep doing it)")
        seal.add_argument("--follow", action="store_true", help="keep sealing every --interval seconds until stopped")
        seal.add_argument("--interval", type=float, default=None, metavar="SECONDS",
                          help="seconds between seals with --follow (default CONFIDE_AUDIT_SEAL_SECONDS)")  # fmt: skip
        checkpoint = sub.add_parser("checkpoint", help="sign and export a checkpoint of each chain head now")
        export = sub.add_parser("export", help="the compliance export of one practice's log, psychotherapy-note entries included")
        export.add_argument("--practice", metavar="SLUG", required=True)
        export.add_argument("--output", type=Path, metavar="PATH", required=True, help="a new file (never overwritten)")
        export.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", default="")
        export.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", default="")
        export.add_argument("--patient", metavar="UUID", default="")
        export.add_argument("--user", metavar="ID", default="", help="a staff member's user id")
        export.add_argument("--event", metavar="EVENT", default="")
        for p in (check, seal, checkpoint):
            which = p.add_mutually_exclusive_group()
            which.add_argument("--practice", metavar="SLUG", help="only this practice's chain")
            which.add_argument("--chain", metavar="ID", help=f"only this chain (a practice id, or {PLATFORM_CHAIN!r})")
        check.add_argument("--public-key", type=Path, metavar="PATH",
                           help="the checkpoint verification key (default DATA_DIR/keyring/audit-signing.pub); "
                                "pin a copy kept away from the server")  # fmt: skip
        check.add_argument("--chunk-size", type=int, default=5000, metavar="N", help="entries per database fetch (default 5000)")
        check.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                           help="processes verifying segments of a long chain at once (default: the number of cores)")  # fmt: skip
        check.add_argument("--allow-missing-checkpoints", action="store_true",
                           help="a missing or unreadable checkpoint sink, and old entries no checkpoint covers, "
                                "are warnings instead of failures (the chains are then checked against themselves only)")  # fmt: skip
        check.add_argument("--database", metavar="ALIAS",
                           help="the database alias to read as (default: owner when DATABASE_MIGRATE_URL is set, else default)")  # fmt: skip

    def handle(self, *args, action, **options):
        self.verbosity = options["verbosity"]
        self.using = options.get("database") or ("owner" if action == "verify" and "owner" in settings.DATABASES else "default")
        if self.using not in settings.DATABASES:
            raise CommandError(f"--database {self.using}: no such database alias")
        if action == "export":
            return self._export(options)
        chains = self._selected(options["practice"], options["chain"])
        if action == "seal":
            return self._seal(chains, options["follow"], options["interval"])
        try:
            if action == "verify":
                self._verify(chains, options["public_key"], options["chunk_size"], options["allow_missing_checkpoints"], options["jobs"])
            else:
                self._checkpoint(chains)
        except checkpoints.CheckpointError as exc:
            raise CommandError(f"{type(exc).__name__}: {exc}") from None

    def _selected(self, slug: str | None, chain: str | None) -> list[str] | None:
        if slug:
            practice = Practice.objects.using(self.using).filter(slug=slug).first()
            if practice is None:
                raise CommandError(f"no practice with slug {slug!r}")
            return [str(practice.id)]
        return [chain] if chain else None

    def _label(self, chain: str) -> str:
        if chain == PLATFORM_CHAIN:
            return chain
        slug = Practice.objects.using(self.using).filter(id=chain).values_list("slug", flat=True).first() if _is_uuid(chain) else None
        return f"{chain} ({slug})" if slug else chain

    def _check_reads_every_chain(self) -> None:
        """PostgreSQL: the log is under FORCE ROW LEVEL SECURITY; only its owner (the verifier
        policy of audit 0006), a BYPASSRLS role or a superuser reads every chain. Any other role
        would see a few chains and report the rest as deleted."""
        connection = connections[self.using]
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT r.rolsuper OR r.rolbypassrls OR c.relowner = r.oid FROM pg_roles r, pg_class c "
                "WHERE r.rolname = current_user AND c.oid = 'audit_auditentry'::regclass"
            )
            row = cursor.fetchone()
        if not (row and row[0]):
            raise CommandError(
                f"the database role of --database {self.using} cannot read every audit chain (row-level security): "
                "run verify as the owning role (DATABASE_MIGRATE_URL, the `owner` alias) or a BYPASSRLS role"
            )

    def _seal_now(self, chains: list[str] | None, *, wait: bool = True) -> int:
        if chains is None:
            return chains_module.seal_all(wait=wait, using=self.using)
        return sum(chains_module.seal(chain, wait=wait, using=self.using) for chain in chains)

    def _seal(self, chains: list[str] | None, follow: bool, interval: float | None) -> None:
        interval = settings.CONFIDE_AUDIT_SEAL_SECONDS if interval is None else interval
        if interval <= 0:
            raise CommandError(f"--interval must be more than 0 seconds; got {interval}")
        if not follow:
            self.stdout.write(f"{self._seal_now(chains)} entries sealed")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.is_set():
            try:
                # Not waiting for a chain another sealer holds: it is being sealed, and this loop is back soon.
                self._seal_now(chains, wait=False)
            except DatabaseError:  # the database went away, or a seal failed: nothing was sealed; try again
                logger.error("audit seal failed; retrying", exc_info=True, extra={"event": "audit:seal:failed"})
                connections[self.using].close()
            stop.wait(interval)

    def _verify(self, chains: list[str] | None, public_key_path: Path | None, chunk_size: int, allow_missing: bool, jobs: int) -> None:
        if chunk_size < 1:
            raise CommandError(f"--chunk-size must be at least 1; got {chunk_size}")
        if jobs < 1:
            raise CommandError(f"--jobs must be at least 1; got {jobs}")
        if public_key_path is not None and not public_key_path.exists():
            raise CommandError(f"--public-key {public_key_path}: no such file")
        self._check_reads_every_chain()
        self._seal_now(chains)  # what waits for the sealer is checked too
        sink = checkpoints.sink()
        sink_problem = sink.problem()
        if sink_problem:
            label = "WARNING" if allow_missing else "FAIL"
            hint = "" if allow_missing else " (it holds what the database alone cannot prove; --allow-missing-checkpoints checks the chains against themselves only)"
            (self.stderr if allow_missing else self.stdout).write(f"{label} checkpoint sink {sink.describe()}: {sink_problem}{hint}")
        public_key = checkpoints.load_public_key(public_key_path)
        practices = frozenset(str(pk) for pk in Practice.objects.using(self.using).values_list("id", flat=True))
        readable = None if sink_problem else sink
        names = chains if chains is not None else verify.all_chains(readable or _NoSink(), using=self.using, practices=practices)
        sealed_before = None if allow_missing else timezone.now() - 2 * datetime.timedelta(minutes=settings.CONFIDE_AUDIT_CHECKPOINT_MINUTES)
        entries = signed = 0
        broken = 0
        reports = verify.verify_chains(
            names, sink=readable, public_key=public_key, chunk_size=chunk_size, using=self.using, practices=practices, sealed_before=sealed_before,
            jobs=jobs,
        )
        for report in reports:
            entries += report.entries
            signed += report.checkpoints
            for warning in report.warnings:
                self.stderr.write(f"WARNING chain {self._label(report.chain)}: {warning}")
            if report.ok:
                if self.verbosity >= 2:
                    parallel = f" ({report.segments} segments, {report.processes} processes)" if report.segments > 1 else ""
                    self.stdout.write(f"ok chain {self._label(report.chain)}: {report.entries} entries, {report.checkpoints} checkpoints{parallel}")
                continue
            broken += 1
            first = report.first
            others = len(report.problems) - 1 + report.more_problems
            self.stdout.write(
                f"FAIL chain {self._label(report.chain)}: first bad seq {first.seq}: {first.kind}: {first.message}"
                + (f" (and {others} more problem{'s' if others != 1 else ''})" if others else "")
            )
            if self.verbosity >= 2:
                for problem in sorted(report.problems)[1:]:
                    self.stdout.write(f"  {problem}")
        if broken or (sink_problem and not allow_missing):
            sink_failed = f"the checkpoint sink is {sink_problem}; " if sink_problem and not allow_missing else ""
            raise CommandError(f"audit log verification failed: {sink_failed}{broken} of {len(names)} chains broken", returncode=1)
        self.stdout.write(f"OK {entries} entries, {signed} checkpoints")

    def _checkpoint(self, chains: list[str] | None) -> None:
        self._seal_now(chains)
        written = checkpoints.checkpoint_heads(chains)
        for checkpoint in written:
            self.stdout.write(f"checkpoint chain {self._label(checkpoint.chain)} seq {checkpoint.seq} {checkpoint.hash}")
        self.stdout.write(f"{len(written)} checkpoints written to the {checkpoints.sink().name} sink")


    def _export(self, options) -> None:
        from confide.audit import reports
        from confide.audit.chain import record, system_actor
        from confide.audit.events import AuditEvent
        from confide.audit.forms import AuditLogFilterForm
        from confide.core.tenancy import tenant_context

        [practice_id] = self._selected(options["practice"], None)
        target: Path = options["output"]
        chains_module.seal(practice_id, using=self.using)  # the export shows every entry in chain order
        with tenant_context(practice_id=uuid.UUID(practice_id)):
            members = [(pk, pk) for pk in reports.member_user_ids(uuid.UUID(practice_id))]
            form = AuditLogFilterForm(
                {"patient": options["patient"], "user": options["user"], "event": options["event"],
                 "date_from": options["date_from"], "date_to": options["date_to"]},
                members=members,
            )  # fmt: skip
            if not form.is_valid():
                problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
                raise CommandError(f"these filters cannot be used: {problems}")
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                raise CommandError(f"--output {target}: the file exists; an export never overwrites one") from None
            except OSError as exc:
                raise CommandError(f"--output {target}: {exc.strerror}") from None
            counts = {"entries": 0, "author_only": 0}

            def counted(entries):
                for entry in entries:
                    counts["entries"] += 1
                    counts["author_only"] += reports.is_author_only(entry)
                    yield entry

            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                entries = reports.compliance_entries(uuid.UUID(practice_id), form.to_filter()).iterator(chunk_size=500)
                for line in reports.csv_lines(counted(entries), reports.staff_names(uuid.UUID(practice_id))):
                    handle.write(line)
            record(AuditEvent.LOG_EXPORTED, practice_id=practice_id, actor=system_actor("compliance-export"), detail=counts)
        self.stdout.write(f"{counts['entries']} entries ({counts['author_only']} about psychotherapy notes) written to {target}")


class _NoSink:
    """Stands in for a sink that cannot be read: it knows of no chains."""

    def chains(self) -> list[str]:
        return []


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
