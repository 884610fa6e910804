"""Every place where information leaves Confide, classified (ARCHITECTURE rule 8: a disclosure
outside treatment, payment and operations lands in the accounting). A new module that sends
mail, passes the egress gate, sends a message or writes a FHIR bundle fails this test until it
is classified here: either it records itself with `record_disclosure` (and a test shows it), or
the reason it does not qualify is written down (docs/_parts/disc.md lists the same)."""

from __future__ import annotations

import re
from pathlib import Path

import confide

EGRESS = re.compile(r"\b(check_egress|send_mail|bundle_for_opening|send_message)\(")

# module -> why it is not a disclosure for the accounting (§164.528(a)(1) exclusions, or no PHI)
NOT_A_DISCLOSURE = {
    "access/door.py": "break-the-glass notice to the practice's own privacy officers: ids only, internal (operations)",
    "accounts/invitations.py": "staff invitation e-mail: no patient information",
    "accounts/portal_accounts.py": "portal account e-mails to the account holder: to the individual (excluded, (a)(1)(ii))",
    "accounts/portal_invitations.py": "portal invitation to the patient or their representative: to the individual",
    "accounts/reset.py": "password reset to the account holder: no PHI",
    "accounts/services.py": "staff account security e-mails: no patient information",
    "directory/booking.py": "booking confirmation to the person who booked: to the individual, treatment",
    "directory/services.py": "a colleague's referral e-mail to the referred practitioner: no patient information",
    "messaging/__init__.py": "docstring of the send gate",
    "messaging/campaigns.py": "newsletters to opted-in patients: to the individual, by consent",
    "messaging/gate.py": "the send gate itself: messages to the patient through declared processors (business associates, TPO)",
    "messaging/inbound.py": "auto-replies to the patient's own texts: to the individual",
    "messaging/inbox.py": "staff replies to the patient: to the individual, treatment",
    "messaging/notices.py": "new-message notices to the patient: to the individual",
    "messaging/services.py": "the send gate's service: to the patient through processors (TPO)",
    "policy/egress.py": "the egress gate itself: data to declared processors under a BAA for TPO",
    "policy/notices.py": "privacy-notice change e-mails to patients: to the individual",
    "portal/exports.py": "'Download my record': to the patient (excluded, (a)(1)(ii))",
    "records/fhir.py": "`confide fhir export`: the patient's portable copy at their request (to the individual)",
    "records/intake.py": "online-consultation confirmation to the patient: to the individual, treatment",
    "records/majority.py": "invitation to the patient at 18: to the individual",
    "records/policy_notices.py": "privacy-notice e-mails to patients: to the individual",
    "rights/disclosure_notices.py": "the notice of a compelled disclosure, to the patient (to the individual)",
    "rights/services.py": "acknowledgement of a rights request to the requester: to the individual",
    "rights/intake.py": "the one-time code and acknowledgement of a rights request, to the contact on file or the requester: to the individual",
    "rights/export.py": "the patient's copy for their own request (see, copy): to the individual, (a)(1)(ii)",
    "rights/letters.py": "letters answering a rights request, to the patient who asked: to the individual",
    "rights/sweep.py": "overdue counts to the practice's own privacy officers: no patient information (operations)",
    "scheduling/feed.py": "the clinician's calendar feed (initials at most): operations, a declared processor",
    "scheduling/reminders.py": "appointment reminders to the patient: treatment",
    "site/management/commands/demo.py": "the demo's sample data: no real patient",
}
# module -> how it records itself (each has its own test)
RECORDS_ITSELF = {
    "disclosures/staff.py": "compelled package: record_disclosure in the producing transaction (test_service_staff.py)",
    "rights/release.py": "records release link: record_disclosure in the link's own transaction (tests/rights/test_release.py)",
}


def _senders() -> set[str]:
    root = Path(confide.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if EGRESS.search(text):
            found.add(path.relative_to(root).as_posix())
    return found


def test_dsc1_every_egress_path_is_classified():
    senders = _senders() - {"disclosures/staff.py"}
    unclassified = sorted(senders - set(NOT_A_DISCLOSURE) - set(RECORDS_ITSELF))
    assert not unclassified, f"classify these egress paths (records itself, or why not): {unclassified}"
    stale = sorted(set(NOT_A_DISCLOSURE) - senders)
    assert not stale, f"no longer egress paths, remove: {stale}"


def test_dsc1_the_compelled_path_records_itself():
    text = (Path(confide.__file__).parent / "disclosures/staff.py").read_text(encoding="utf-8")
    assert "services.record_disclosure(" in text and "Source.COMPELLED" in text
