"""`confide rights …`: operators' tools for rights requests.

  confide rights export --patient UUID --out FILE.zip [--practice SLUG]
        the patient's whole copy (confide/rights/export.py: data.json, fhir/bundle.json, summary.pdf,
        files/…, consents.json, disclosures.json) written with mode 0600; never psychotherapy notes
        (those go only into a copy for a request on which staff recorded the patient's authorization).
        A malformed or unknown patient, a patient of another practice than --practice, or a path
        that cannot be written: a one-line error, exit status 2, nothing written.

Output names the patient id, the file and counts: never a name or any other value from a record.
"""

from __future__ import annotations

import logging
import uuid

from django.core.management.base import BaseCommand, CommandError

from confide.core.errors import InvalidInput, NotFound

logger = logging.getLogger(__name__)
USAGE_ERROR = 2


class Command(BaseCommand):
    help = "Rights requests: export a patient's copy of their information."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{export}")
        exp = sub.add_parser("export", help="write a patient's copy of their information as a ZIP")
        exp.add_argument("--patient", required=True, metavar="UUID")
        exp.add_argument("--out", required=True, metavar="FILE.zip", help="written with mode 0600 (replaced if it exists)")
        exp.add_argument("--practice", metavar="SLUG", help="the practice the patient must belong to (optional: found from the patient)")

    def handle(self, *args, action, **options):
        if action == "export":
            self._export(options["patient"], options["out"], options.get("practice"))

    def _export(self, raw_id: str, out_path: str, slug: str | None) -> None:
        from confide.records.fhir import practice_by_slug, practice_of_patient
        from confide.rights.export import export_to_path

        try:
            patient_id = uuid.UUID(raw_id)
        except ValueError:
            raise CommandError(f"--patient must be a patient id (UUID); got {raw_id[:40]!r}", returncode=USAGE_ERROR) from None
        if slug is not None:
            try:
                practice = practice_by_slug(slug)
            except NotFound:
                raise CommandError(f"no practice with slug {slug!r}", returncode=USAGE_ERROR) from None
        try:
            if slug is not None:
                if practice_of_patient(patient_id) != practice.id:
                    raise NotFound("patient")
            result = export_to_path(patient_id, out_path)
        except NotFound:
            where = f" in practice {slug!r}" if slug else ""
            raise CommandError(f"no patient with id {patient_id}{where}", returncode=USAGE_ERROR) from None
        except InvalidInput as exc:
            raise CommandError(str(exc), returncode=USAGE_ERROR) from None
        except OSError as exc:
            raise CommandError(f"cannot write {out_path}: {exc.strerror or type(exc).__name__}", returncode=USAGE_ERROR) from None
        counts = result.counts
        rows = sum(counts.sections.values())
        self.stdout.write(
            f"patient {result.patient_id} -> {result.path} ({result.size} bytes: {rows} entries in {len(counts.sections)} sections, "
            f"{counts.files} files)"
        )
