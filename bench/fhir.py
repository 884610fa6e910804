"""FHIR import benchmark: the 38 Synthea bundles imported on SQLite — bundles/s, resources/s —
and the cost per resource against a plain `Bundle.model_validate_json` parse of the same files.

    .venv/bin/python bench/fhir.py [--runs 3] [--data ../shared/data/synthea-r4]

Self-contained: dev mode, a temporary data directory (SQLite database, local keyring),
migrated from scratch and deleted at the end. Each run imports every bundle into a fresh
practice (new patients: the full cost, door and audit entries included) and then again into
the same practice (re-import: the patients are found and nothing changes); the figures are the
median of the runs, after a warm-up parse (fhir.resources builds its model classes on first
use, about two seconds). "Resources" counts every entry in the files, skipped types included,
since the parse validates them all too. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder is first on sys.path, and this file would shadow the
# `fhir` package (fhir.resources) it measures: take the folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "synthea-r4"


def setup_django(data_dir: str) -> None:
    os.environ["CONFIDE_DEV_MODE"] = "1"
    os.environ["CONFIDE_DATA_DIR"] = data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "confide.settings"
    os.environ["CONFIDE_KEY_MANAGER"] = "local"
    for name in ("DATABASE_URL", "DATABASE_MIGRATE_URL"):
        os.environ.pop(name, None)  # always SQLite under data_dir
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs (default 3; the median is shown)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"folder of bundles (default {DEFAULT_DATA})")
    args = parser.parse_args()
    files = sorted(args.data.glob("*.json")) if args.data.is_dir() else []
    if not files:
        print(f"no bundles in {args.data}: nothing to measure", file=sys.stderr)
        return 1
    data_dir = tempfile.mkdtemp(prefix="confide-bench-fhir-")
    try:
        setup_django(data_dir)
        return run(files, max(1, args.runs))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run(files: list[Path], runs: int) -> int:
    import json

    from fhir.resources.R4B.bundle import Bundle

    from confide.core.models import Practice
    from confide.records import fhir

    raws = [path.read_bytes() for path in files]
    resources = sum(len(json.loads(raw).get("entry") or []) for raw in raws)
    megabytes = sum(len(raw) for raw in raws) / (1024 * 1024)
    Bundle.model_validate_json(raws[0])  # warm-up: fhir.resources builds its classes on first use

    def parse_all():
        for raw in raws:
            Bundle.model_validate_json(raw)

    parse, first, again = [], [], []
    imported = 0
    for n in range(runs):
        parse.append(timed(parse_all))
        practice = Practice.objects.create(slug=f"bench-{n}", name=f"Bench {n}")
        summary = fhir.ImportSummary()

        def import_all(summary=summary, practice=practice):
            for path in files:
                summary.add(fhir.import_bundle_file(path, practice_id=practice.id))

        first.append(timed(import_all))
        imported = sum(summary.imported.values())
        assert summary.refused == 0 and summary.created == len(files), summary
        repeat = fhir.ImportSummary()
        again.append(timed(lambda repeat=repeat, practice=practice: [repeat.add(fhir.import_bundle_file(p, practice_id=practice.id)) for p in files]))
        assert repeat.unchanged == len(files), repeat

    p, f, a = statistics.median(parse), statistics.median(first), statistics.median(again)
    print(f"{len(files)} bundles, {resources} resources ({imported} imported, {resources - imported} of skipped types), "
          f"{megabytes:.1f} MB; SQLite; median of {runs} runs")  # fmt: skip
    print(f"{'':34}{'seconds':>9}{'bundles/s':>11}{'resources/s':>13}{'µs/resource':>13}{'× parse':>9}")
    for label, seconds in (("parse only (model_validate_json)", p), ("import, new patients", f), ("re-import, nothing changes", a)):
        print(f"{label:34}{seconds:9.2f}{len(files) / seconds:11.1f}{resources / seconds:13.0f}{seconds / resources * 1e6:13.0f}{seconds / p:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
