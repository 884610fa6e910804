"""`confide keys …`: the vault's operator commands.

  confide keys status                                  per practice: key manager, KEK id and age,
                                                       unused KEKs (left by interrupted rotations),
                                                       subjects by key state, shredded subjects
  confide keys rotate-kek --practice SLUG              remove the practice's unused KEKs, then
                                                       re-wrap its keys under a new KEK
  confide keys rotate-subject --patient UUID [--batch-size N]
                                                       re-encrypt one patient under a new key version
                                                       (resumable: run it again after a crash)
  confide keys shred --patient UUID --yes              crypto-shred a patient (irreversible)

Output names ids, counts and states only: never key material, never PHI.
"""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from confide.core.errors import NotFound
from confide.core.models import Practice
from confide.core.tenancy import tenant_context
from confide.vault import rotation, tombstones
from confide.vault.errors import VaultError
from confide.vault.models import PracticeKey, SubjectKey


class Command(BaseCommand):
    help = "Vault keys: status, KEK rotation, subject key rotation, crypto-shredding."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{status,rotate-kek,rotate-subject,shred}")
        sub.add_parser("status", help="key managers, KEK ages, subject key states (never key material)")
        kek = sub.add_parser("rotate-kek", help="re-wrap a practice's keys under a new KEK")
        kek.add_argument("--practice", required=True, metavar="SLUG")
        subject = sub.add_parser("rotate-subject", help="re-encrypt a patient's data under a new key version")
        subject.add_argument("--patient", required=True, metavar="UUID")
        subject.add_argument("--batch-size", type=int, default=100, metavar="N", help="ciphertexts per transaction (default 100)")
        shred = sub.add_parser("shred", help="crypto-shred a patient: irreversible")
        shred.add_argument("--patient", required=True, metavar="UUID")
        shred.add_argument("--yes", action="store_true", help="confirm: the patient's data becomes unreadable for good")

    def handle(self, *args, action, **options):
        try:
            if action == "status":
                self._status()
            elif action == "rotate-kek":
                self._rotate_kek(options["practice"])
            elif action == "rotate-subject":
                self._rotate_subject(options["patient"], options["batch_size"])
            elif action == "shred":
                self._shred(options["patient"], options["yes"])
        except VaultError as exc:
            raise CommandError(f"{type(exc).__name__}: {exc}") from None

    # --- status ------------------------------------------------------------------------------------
    def _status(self) -> None:
        out = self.stdout.write
        shredded = tombstones.shredded()
        now = timezone.now()
        practices = list(Practice.objects.order_by("slug"))
        if not practices:
            out("no practices")
        for practice in practices:
            with tenant_context(practice_id=practice.id):
                practice_key = PracticeKey.objects.filter(practice_id=practice.id).first()
                rows = list(SubjectKey.objects.values_list("subject_id", "state"))
            out(f"practice {practice.slug} ({practice.id})")
            if practice_key is None:
                out("  no keys yet")
                continue
            since = practice_key.kek_rotated_at or practice_key.created_at
            out(f"  key manager: {practice_key.key_manager}")
            out(f"  KEK: {practice_key.kek_id}")
            out(f"  KEK age: {(now - since).days} days")
            rotated = practice_key.kek_rotated_at.strftime("%Y-%m-%d %H:%M UTC") if practice_key.kek_rotated_at else "never"
            out(f"  last KEK rotation: {rotated}")
            out(f"  {_unused_line(practice.id)}")
            states: dict[uuid.UUID, set[str]] = {}
            for subject_id, state in rows:
                states.setdefault(subject_id, set()).add(state)
            active = sum(1 for s in states.values() if SubjectKey.State.ACTIVE in s and SubjectKey.State.RETIRING not in s)
            rotating = sum(1 for s in states.values() if SubjectKey.State.RETIRING in s)
            destroyed = sum(1 for s in states.values() if s == {SubjectKey.State.DESTROYED})
            out(f"  subjects: {len(states)} (active {active}, rotation in progress {rotating}, all versions destroyed {destroyed})")
            out(f"  shredded subjects (tombstoned): {sum(1 for s in states if str(s) in shredded)}")
        out(f"tombstones: {len(shredded)} subjects in {tombstones.path()}")

    # --- rotate-kek --------------------------------------------------------------------------------
    def _rotate_kek(self, slug: str) -> None:
        practice = Practice.objects.filter(slug=slug).first()
        if practice is None:
            raise CommandError(f"no practice with slug {slug!r}")
        with tenant_context(practice_id=practice.id):
            result = rotation.rotate_kek(practice.id)
        for kek_id in result.unused_removed:
            self.stdout.write(f"removed unused KEK {kek_id} (left by a rotation that did not finish; it wrapped no key)")
        if result.unused_note:
            self.stderr.write(f"WARNING: {result.unused_note}; the next rotate-kek tries again")
        self.stdout.write(
            f"practice {practice.slug}: KEK rotated {result.old_kek_id} -> {result.new_kek_id}; "
            f"{result.subject_keys_rewrapped} subject key versions re-wrapped, {result.subject_keys_skipped} skipped"
            + (f", {result.stragglers_rewrapped} made concurrently re-wrapped after commit" if result.stragglers_rewrapped else "")
        )
        if result.old_kek_destroyed:
            self.stdout.write(f"old KEK {result.old_kek_id} destroyed")
        else:
            self.stderr.write(
                f"WARNING: {result.old_kek_note or 'old KEK not destroyed'}. The old KEK {result.old_kek_id} "
                "remains available (derivable, for the env key manager) until it is removed at the key manager."
            )

    # --- rotate-subject ----------------------------------------------------------------------------
    def _rotate_subject(self, raw: str, batch_size: int) -> None:
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1; got {batch_size}")
        patient_id = _parse_uuid(raw)
        practice = _practice_of(patient_id)
        with tenant_context(practice_id=practice.id):
            result = rotation.rotate_subject(practice.id, patient_id, batch_size=batch_size)
        self.stdout.write(
            f"patient {patient_id} ({practice.slug}): now on key v{result.to_version}"
            f"{' (resumed)' if result.resumed else ''}; {result.moved} ciphertexts re-encrypted in "
            f"{result.batches} batches, {result.files_rewrapped} file headers re-wrapped; destroyed versions: {', '.join(f'v{v}' for v in result.destroyed_versions) or 'none'}"
        )
        if result.unreadable:
            self.stderr.write(f"WARNING: {result.unreadable} ciphertexts name a key version that no longer exists; left as they are")

    # --- shred -------------------------------------------------------------------------------------
    def _shred(self, raw: str, yes: bool) -> None:
        from confide.records.services import do_shred_patient

        patient_id = _parse_uuid(raw)
        practice = _practice_of(patient_id)
        if not yes:
            raise CommandError(
                f"shredding patient {patient_id} is irreversible: every field and file of theirs becomes "
                "unreadable for good, backups included. Re-run with --yes to confirm."
            )
        if tombstones.is_shredded(str(patient_id)):
            raise CommandError(f"patient {patient_id} is already shredded")
        with tenant_context(practice_id=practice.id):
            try:
                destroyed = do_shred_patient(practice_id=practice.id, patient_id=patient_id)
            except NotFound:
                raise CommandError(f"no patient with id {patient_id}") from None
        self.stdout.write(f"patient {patient_id} ({practice.slug}) shredded: {destroyed} key versions destroyed")


def _unused_line(practice_id: uuid.UUID) -> str:
    """What `status` says about KEKs the key manager holds for the practice but nothing uses."""
    with tenant_context(practice_id=practice_id):
        unused = rotation.unused_keks(practice_id)
    if unused is None:
        return "unused KEKs: not listed (this key manager cannot list its KEKs)"
    if not unused:
        return "unused KEKs: none"
    return (
        f"unused KEKs: {len(unused)} ({', '.join(unused)}): made by a rotation that did not finish, or by one "
        "running now; they wrap no key, and the next rotate-kek removes them"
    )


def _parse_uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw).strip())
    except ValueError:
        raise CommandError(f"--patient must be a UUID such as 3f2b8c1e-…; got {str(raw)[:40]!r}") from None


def _practice_of(patient_id: uuid.UUID) -> Practice:
    """The practice holding this patient: asked practice by practice (tenant managers, and row
    security on PostgreSQL, show a patient only inside its practice's context)."""
    from confide.records.models import Patient

    for practice in Practice.objects.order_by("slug"):
        with tenant_context(practice_id=practice.id):
            if Patient.objects.filter(id=patient_id).exists():
                return practice
    raise CommandError(f"no patient with id {patient_id} in any practice")
