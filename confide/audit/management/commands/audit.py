"""`confide audit …`: checking the tamper-evident log.

  confide audit verify [--practice SLUG | --chain ID] [--public-key PATH] [--chunk-size N]
        recompute every chain (or one) from its entries, check every signed checkpoint in the sink
        and the chain head; exit 0 with `OK <entries> entries, <checkpoints> checkpoints`, or exit 1
        naming each broken chain, its first bad sequence number and what is wrong there
  confide audit checkpoint [--practice SLUG | --chain ID]
        sign and export a checkpoint of each chain's current head now (cron, or before shutdown)

Output names chains (practice ids and slugs), sequence numbers, hashes and counts: never entry content.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from confide.audit import checkpoints, verify
from confide.audit.chain import PLATFORM_CHAIN
from confide.core.models import Practice


class Command(BaseCommand):
    help = "The audit log: verify the hash chains and signed checkpoints; write checkpoints."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{verify,checkpoint}")
        check = sub.add_parser("verify", help="verify every chain (or one) against its checkpoints")
        checkpoint = sub.add_parser("checkpoint", help="sign and export a checkpoint of each chain head now")
        for p in (check, checkpoint):
            which = p.add_mutually_exclusive_group()
            which.add_argument("--practice", metavar="SLUG", help="only this practice's chain")
            which.add_argument("--chain", metavar="ID", help=f"only this chain (a practice id, or {PLATFORM_CHAIN!r})")
        check.add_argument("--public-key", type=Path, metavar="PATH",
                           help="the checkpoint verification key (default DATA_DIR/keyring/audit-signing.pub); "
                                "pin a copy kept away from the server")  # fmt: skip
        check.add_argument("--chunk-size", type=int, default=2000, metavar="N", help="entries per database fetch (default 2000)")

    def handle(self, *args, action, **options):
        self.verbosity = options["verbosity"]
        chains = self._selected(options["practice"], options["chain"])
        try:
            if action == "verify":
                self._verify(chains, options["public_key"], options["chunk_size"])
            else:
                self._checkpoint(chains)
        except checkpoints.CheckpointError as exc:
            raise CommandError(f"{type(exc).__name__}: {exc}") from None

    def _selected(self, slug: str | None, chain: str | None) -> list[str] | None:
        if slug:
            practice = Practice.objects.filter(slug=slug).first()
            if practice is None:
                raise CommandError(f"no practice with slug {slug!r}")
            return [str(practice.id)]
        return [chain] if chain else None

    def _label(self, chain: str) -> str:
        if chain == PLATFORM_CHAIN:
            return chain
        slug = Practice.objects.filter(id=chain).values_list("slug", flat=True).first() if _is_uuid(chain) else None
        return f"{chain} ({slug})" if slug else chain

    def _verify(self, chains: list[str] | None, public_key_path: Path | None, chunk_size: int) -> None:
        if chunk_size < 1:
            raise CommandError(f"--chunk-size must be at least 1; got {chunk_size}")
        if public_key_path is not None and not public_key_path.exists():
            raise CommandError(f"--public-key {public_key_path}: no such file")
        sink = checkpoints.sink()
        public_key = checkpoints.load_public_key(public_key_path)
        names = chains if chains is not None else verify.all_chains(sink)
        entries = signed = 0
        broken = 0
        for report in verify.verify_chains(names, sink=sink, public_key=public_key, chunk_size=chunk_size):
            entries += report.entries
            signed += report.checkpoints
            for warning in report.warnings:
                self.stderr.write(f"WARNING chain {self._label(report.chain)}: {warning}")
            if report.ok:
                if self.verbosity >= 2:
                    self.stdout.write(f"ok chain {self._label(report.chain)}: {report.entries} entries, {report.checkpoints} checkpoints")
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
        if broken:
            raise CommandError(f"audit log verification failed: {broken} of {len(names)} chains broken", returncode=1)
        self.stdout.write(f"OK {entries} entries, {signed} checkpoints")

    def _checkpoint(self, chains: list[str] | None) -> None:
        written = checkpoints.checkpoint_heads(chains)
        for checkpoint in written:
            self.stdout.write(f"checkpoint chain {self._label(checkpoint.chain)} seq {checkpoint.seq} {checkpoint.hash}")
        self.stdout.write(f"{len(written)} checkpoints written to the {checkpoints.sink().name} sink")


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
