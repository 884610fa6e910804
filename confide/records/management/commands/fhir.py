"""`confide fhir …`: FHIR R4 bundles into and out of the chart (confide/records/fhir.py).

  confide fhir import PATH... --practice SLUG [--source-system URI] [--no-progress]
        files, or directories of .json files; one line per file (`<file> -> patient <uuid>` or
        `<file>: ERROR <why>`), a progress bar on stderr for many files, then counts by
        resource type; exit 1 if any file was refused (the others are still imported)
  confide fhir export --patient UUID --out FILE [--include-psychotherapy-notes]
        the patient's record as a collection Bundle, written with mode 0600

Output names files as given, patient ids and counts: never a name or any other value from a
record. (Name bundle files without PHI: the path is echoed as you typed it.)
"""

from __future__ import annotations

import logging
import uuid

from django.core.management.base import BaseCommand, CommandError

from confide.access.errors import AccessRefused
from confide.core.db import statistics
from confide.core.errors import InvalidInput, NotFound
from confide.records import fhir

logger = logging.getLogger(__name__)

PROGRESS_MIN_FILES = 5  # a bar for a handful of files is noise
BULK_FILES = 100  # an import this large refreshes the planner's statistics at its end


class Command(BaseCommand):
    help = "FHIR R4 bundles: import them into a practice's charts, export a patient's record."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{import,export}")
        imp = sub.add_parser("import", help="import FHIR transaction or collection bundles (.json)")
        imp.add_argument("paths", nargs="+", metavar="PATH", help="bundle files, or directories of .json files")
        imp.add_argument("--practice", required=True, metavar="SLUG", help="the practice the patients belong to")
        imp.add_argument("--source-system", default=fhir.DEFAULT_SOURCE_SYSTEM, metavar="URI",
                         help="names the system the bundles come from: resource ids are unique within one system "
                              f"(default {fhir.DEFAULT_SOURCE_SYSTEM})")  # fmt: skip
        imp.add_argument("--no-progress", action="store_true", help="no progress bar")
        exp = sub.add_parser("export", help="export a patient's record as a FHIR collection bundle")
        exp.add_argument("--patient", required=True, metavar="UUID")
        exp.add_argument("--out", required=True, metavar="FILE", help="written with mode 0600 (replaced if it exists)")
        exp.add_argument("--include-psychotherapy-notes", action="store_true",
                         help="only with the patient's authorization in the consent ledger (topic psychotherapy_notes_disclosure)")  # fmt: skip

    def handle(self, *args, action, **options):
        if action == "import":
            self._import(options["paths"], options["practice"], options["source_system"], options["no_progress"])
        else:
            self._export(options["patient"], options["out"], options["include_psychotherapy_notes"])

    # --- import ---------------------------------------------------------------------------------
    def _import(self, paths, slug: str, source_system: str, no_progress: bool) -> None:
        from tqdm import tqdm

        try:
            practice = fhir.practice_by_slug(slug)
        except NotFound:
            raise CommandError(f"no practice with slug {slug!r}") from None
        files = fhir.bundle_files(paths)
        if not files:
            raise CommandError("no .json files in the paths given")
        summary = fhir.ImportSummary()
        out = self.stdout._out
        # disable=None: tqdm draws only on a terminal, so a redirected stderr gets no bar either.
        bar = tqdm(files, file=self.stderr._out, unit="bundle", disable=True if no_progress or len(files) < PROGRESS_MIN_FILES else None)
        for path in bar:
            try:
                result = fhir.import_bundle_file(path, practice_id=practice.id, source_system=source_system)
            except (InvalidInput, AccessRefused, NotFound) as exc:
                message = str(exc) if not isinstance(exc, NotFound) else "the patient's record is not reachable"
                tqdm.write(f"{path}: ERROR {message}", file=out)
                summary.add(None)
                continue
            except Exception as exc:  # a bug: say which kind, never the message (it may quote data)
                logger.exception("fhir import failed")
                tqdm.write(f"{path}: ERROR internal error ({type(exc).__name__}); nothing was imported from this file", file=out)
                summary.add(None)
                continue
            state = "new" if result.created else ("updated" if result.changed else "unchanged")
            tqdm.write(f"{path} -> patient {result.patient_id} ({state})", file=out)
            summary.add(result)
        bar.close()
        if len(files) >= BULK_FILES:
            # A bulk load changes the tables' sizes by orders of magnitude: refresh the planner's
            # statistics now rather than at the next timer (confide/core/db/statistics.py).
            alias = statistics.maintenance_alias()
            if alias is not None:
                statistics.analyze(alias)
        self._print_summary(summary)
        if summary.refused:
            raise CommandError(f"{summary.refused} of {summary.files} files were not imported (see the ERROR lines)")

    def _print_summary(self, s: fhir.ImportSummary) -> None:
        out = self.stdout.write
        out(f"bundles: {s.files - s.refused} imported ({s.created} new patients, {s.updated} updated, {s.unchanged} unchanged), "
            f"{s.refused} refused")  # fmt: skip
        if s.kept_local:
            out(f"items kept as changed in Confide (the source sent a different version; not applied): {s.kept_local}")
        kinds = sorted(set(s.imported) | set(s.skipped_types))
        if kinds:
            width = max(len(k) for k in kinds + ["resource type"])
            out(f"{'resource type':<{width}}  {'imported':>8}  {'skipped (type not imported)':>27}")
            for kind in kinds:
                imported = s.imported.get(kind) or ""
                skipped = s.skipped_types.get(kind) or ""
                out(f"{kind:<{width}}  {imported:>8}  {skipped:>27}")
            out(f"{'total':<{width}}  {sum(s.imported.values()):>8}  {sum(s.skipped_types.values()):>27}")
        if s.skipped_fields:
            out("skipped fields (not kept by Confide): " + ", ".join(f"{k} {n}" for k, n in sorted(s.skipped_fields.items())))

    # --- export ---------------------------------------------------------------------------------
    def _export(self, raw_id: str, out_path: str, psychotherapy: bool) -> None:
        try:
            patient_id = uuid.UUID(raw_id)
        except ValueError:
            raise CommandError(f"--patient must be a patient id (UUID); got {raw_id[:40]!r}") from None
        try:
            result = fhir.do_export_patient(patient_id, out_path, include_psychotherapy_notes=psychotherapy)
        except NotFound:
            raise CommandError(f"no patient with id {patient_id}") from None
        except AccessRefused as exc:
            raise CommandError(f"refused: {exc}") from None
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot write {out_path}: {exc.strerror or type(exc).__name__}") from None
        counts = ", ".join(f"{kind} {n}" for kind, n in result.resources.items())
        self.stdout.write(f"patient {result.patient_id} -> {result.path} ({sum(result.resources.values())} resources: {counts})")
