"""Recovery codes (issue 12, item 4): where they are shown (at enrolment and when made anew) the
page offers copy, download and print, by a static script (no inline script under the CSP), with
labelled buttons that appear only where the script runs, and a print area holding only the codes."""

from __future__ import annotations

import re
from pathlib import Path

from django.contrib.staticfiles import finders
from django.urls import reverse

from confide.core.permissions import Role


def test_acc2_new_recovery_codes_page_offers_copy_download_and_print(signed_in):
    client = signed_in(Role.CLINICIAN)
    page = client.post(reverse("accounts:recovery-codes-regenerate")).content.decode()
    assert re.search(r'<script src="/static/confide/recovery-codes\.js" defer></script>', page)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline script"
    for action, label in (("copy", "Copy codes"), ("download", "Download as a text file"), ("print", "Print")):
        assert re.search(rf'<button type="button" [^>]*data-codes-action="{action}" hidden>{label}</button>', page)
    assert 'role="status" aria-live="polite"' in page
    # The print area: the codes and their heading, nothing else of the page.
    sheet = re.search(r"<section [^>]*data-print-only.*?</section>", page, re.S).group(0)
    assert sheet.count("<li class=\"col\">") == 10 and "<form" not in sheet and "<button" not in sheet


def test_acc2_the_script_builds_the_download_from_the_page_and_asks_the_server_for_nothing():
    script = Path(finders.find("confide/recovery-codes.js")).read_text(encoding="utf-8")
    assert "new Blob(" in script and "navigator.clipboard.writeText" in script and "window.print()" in script
    assert "fetch(" not in script and "XMLHttpRequest" not in script
