"""POL3 (issue 12 items 20, 21): the notice's "How your information is protected", generated from
confide/policy/protections.py — each sentence shown only when its mechanism is on for the
practice; what the software does not yet do by itself said as the staff do it, with whom to ask,
and listed for the privacy officer under "Handled by your staff"; a capability's flag switches
its sentence to the automated form. (Coverage against the privacy map: tests/test_docs_privacy.py.)"""

from __future__ import annotations

import dataclasses
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from confide.core.models import Practice
from confide.core.permissions import Role
from confide.policy import protections
from confide.policy.loader import load_default, resolve
from tests.policy.conftest import EMAIL_WITH_BAA

OFFICER = '[contacts.privacy_officer]\nname = "Pat Privacy"\nemail = "privacy@a.example.test"\n'
SETTINGS = reverse("policy:settings")


def _notice(world) -> str:
    response = Client().get(reverse("policy:notice", kwargs={"practice_slug": world.a.practice.slug}))
    assert response.status_code == 200
    return response.content.decode()


def _section(html: str) -> str:
    return html.split('<section aria-labelledby="protected"', 1)[1].split("</section>", 1)[0]


def _ids(html: str, testid: str) -> list[str]:
    part = html.split(f'data-testid="{testid}"', 1)[1].split("</ul>", 1)[0] if f'data-testid="{testid}"' in html else ""
    return re.findall(r'data-protection="([a-z-]+)"', part)


# --- the section ---------------------------------------------------------------------------------
def test_pol3_the_notice_says_how_information_is_protected_by_what_the_software_does(world):
    html = _notice(world)
    section = _section(html)
    assert '<h2 id="protected" class="h4">How your information is protected</h2>' in section
    assert '<a href="#protected">How it is protected</a>' in html
    shown = _ids(section, "protections")
    for expected in ("access-logged", "log-tamper-evident", "signed-notes", "second-factor", "encrypted", "minimum-necessary",
                     "security-tests", "destroyed-everywhere"):  # fmt: skip
        assert expected in shown, expected
    assert "the software records who it was, which parts of the record, when, from where and for what purpose" in section
    assert "it can never be changed, only added to by a dated addendum" in section
    assert "under a key of your own" in section
    assert "the front desk never sees clinical information, billing never sees notes or photos" in section
    assert "tested automatically every time the software changes" in section


def test_acc2_the_second_factor_is_promised_only_where_the_practice_requires_it(world):
    assert "second-factor" in _ids(_section(_notice(world)), "protections")
    Practice.objects.filter(pk=world.a.practice.pk).update(mfa_required=False)
    assert "second-factor" not in _ids(_section(_notice(world)), "protections")


def test_pol2_patients_are_promised_an_email_only_when_the_email_processor_may_carry_it(world, publish):
    html = _notice(world)  # the default: e-mail in use without a Business Associate Agreement
    assert "material-changes-announced" in _ids(_section(html), "protections")
    assert "material-changes-emailed" not in _ids(_section(html), "protections")
    assert "Before a material change takes effect, we announce it at the top of this notice." in html
    publish(EMAIL_WITH_BAA)
    html = _notice(world)
    assert "material-changes-emailed" in _ids(_section(html), "protections")
    assert "Before a material change takes effect, we tell you by e-mail and announce it at the top of this notice." in html


def test_no_sentence_is_shown_with_a_placeholder_left_in_it(world):
    section = _section(_notice(world))
    assert "{" not in section and "}" not in section


# --- what staff do for now (item 21) ----------------------------------------------------------------------
def test_pol3_what_the_software_does_not_yet_do_says_how_staff_do_it_and_whom_to_ask(world, publish):
    section = _section(_notice(world))
    staff = _ids(section, "handled-by-staff")
    assert {"recordings", "backups"} <= set(staff)
    # issue 17: rights requests and the retention engine are the software's now, in its own words.
    assert {"rights-requests", "retention-archive", "identity-check", "compelled-disclosure"} <= set(_ids(section, "protections"))
    assert not {"rights-requests", "retention-archive"} & set(staff)
    assert "stop-messages" not in staff  # issue 15: STOP, unsubscribe links and the portal stop messages (automated)
    assert "stop-messages" in _ids(section, "protections")
    assert "who-opened" in _ids(section, "protections")  # issue 14: the portal shows it (access_report automated)
    assert not set(staff) & set(_ids(section, "protections"))
    assert "on our website&#x27;s privacy request form" in section or "on our website's privacy request form" in section
    publish(OFFICER)
    section = _section(_notice(world))
    assert "You can see who has opened your record, and when and why, in the patient portal" in section
    assert "we delete the recording ourselves after 90 days" in section and "deletes each one after 30 days" in section


@pytest.mark.parametrize("role", [Role.OWNER, Role.PRIVACY_OFFICER])
def test_pol3_the_policy_settings_page_lists_what_is_handled_by_your_staff(signed_in, role):
    html = signed_in(role).get(SETTINGS).content.decode()
    assert '<h2 class="h5" id="staff-heading">Handled by your staff</h2>' in html
    listed = html.split('data-testid="staff-handled"', 1)[1].split("</ul>", 1)[0]
    for capability in ("recordings", "backups"):
        assert escape(protections.CAPABILITIES[capability].label) in listed, capability
    for capability in ("rights_requests", "retention_engine"):  # automated since issue 17
        assert escape(protections.CAPABILITIES[capability].label) not in listed, capability
    assert "Record a session only with the patient" in listed  # what the staff must do
    assert escape(protections.CAPABILITIES["access_report"].label) not in listed  # automated since issue 14
    assert escape(protections.CAPABILITIES["messaging_opt_outs"].label) not in listed  # automated since issue 15


def test_the_practice_settings_page_points_the_owner_to_what_staff_handle(signed_in):
    html = signed_in(Role.OWNER).get(reverse("accounts:practice-settings")).content.decode()
    assert f'href="{SETTINGS}#handled-by-staff"' in html


def test_pol3_when_a_capability_is_automated_its_sentence_switches_and_it_leaves_the_staff_list(world, signed_in, monkeypatch):
    before = _section(_notice(world))
    assert "Whoever runs our server takes an encrypted backup daily" in before
    automated = dataclasses.replace(protections.CAPABILITIES["backups"], automated=True)
    monkeypatch.setitem(protections.CAPABILITIES, "backups", automated)
    section = _section(_notice(world))
    assert "backups" in _ids(section, "protections") and "backups" not in _ids(section, "handled-by-staff")
    assert "The software backs up your information daily, encrypted, and deletes each backup after 30 days." in section
    assert "Whoever runs our server" not in section
    listed = signed_in(Role.PRIVACY_OFFICER).get(SETTINGS).content.decode().split('data-testid="staff-handled"', 1)[1].split("</ul>", 1)[0]
    assert escape(automated.label) not in listed


def test_when_every_capability_is_automated_the_settings_page_says_nothing_is_left_to_staff(signed_in, monkeypatch):
    for key, capability in list(protections.CAPABILITIES.items()):
        monkeypatch.setitem(protections.CAPABILITIES, key, dataclasses.replace(capability, automated=True))
    html = signed_in(Role.PRIVACY_OFFICER).get(SETTINGS).content.decode()
    assert 'data-testid="staff-handled-none"' in html and 'data-testid="staff-handled"' not in html


# --- the declaration ---------------------------------------------------------------------------------------
def test_each_sentence_names_code_that_exists_and_a_condition_that_exists():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for p in protections.PROTECTIONS:
        assert p.mechanism, p.id
        for path in p.mechanism:
            assert (root / path).exists(), f"{p.id}: {path}"
        assert p.when in protections.CONDITIONS, p.id
    assert len({p.id for p in protections.PROTECTIONS}) == len(protections.PROTECTIONS)


def test_the_messaging_opt_out_is_said_only_when_the_practice_sends_messages():
    quiet = resolve('[[processors]]\nid = "email"\nin_use = false\n')
    assert "stop-messages" in [s.id for s in protections.statements(load_default(), mfa_required=True)]
    assert "stop-messages" not in [s.id for s in protections.statements(quiet, mfa_required=True)]


# --- issue 17, item 10: the notice never states a workflow the code does not have -------------------------
# A capability the notice presents as done by the software (its flag on) names the routes and the
# functions that do it; each must exist. A flag turned on without its workflow fails here.
WORKFLOWS = {
    "rights_requests": {
        "routes": ["portal:rights-request", "rights:public-request", "rights:public-verify", "rights:log", "rights:queue", "rights:request",
                   "rights:request-extend", "rights:request-close", "rights:request-appeal", "rights:export-start",
                   "portal:rights-export-download", "rights:amendment", "rights:amendment-deny", "portal:amendment-disagree",
                   "rights:accounting-prepare", "rights:deletion", "rights:deletion-execute", "rights:release-new"],
        "code": ["confide.rights.intake:check_verify_code", "confide.rights.deadlines:deadlines_for", "confide.rights.decisions:do_extend",
                 "confide.rights.decisions:check_file_appeal", "confide.rights.export:run_export", "confide.rights.amendments:write_rebuttal",
                 "confide.disclosures.report:build_accounting", "confide.rights.letters:send_letter"],
    },
    "retention_engine": {
        "routes": ["retention:schedule", "retention:hold-set", "retention:hold-release"],
        "code": ["confide.retention.engine:run", "confide.retention.plan:compute_plan", "confide.rights.deletion:check_execute_deletion"],
    },
    "access_report": {"routes": ["portal:privacy"], "code": ["confide.portal.privacy:access_pdf"]},
    "messaging_opt_outs": {"routes": ["messaging:unsubscribe"], "code": ["confide.messaging.keywords:keyword"]},
}  # fmt: skip


def test_pol3_every_capability_stated_as_automated_has_its_workflow_in_code():
    import importlib

    from django.urls import reverse

    from confide.core.routes import ROUTE_POLICY
    from tests.security.routes_helpers import random_kwargs_for

    automated = {key for key, capability in protections.CAPABILITIES.items() if capability.automated}
    assert automated <= set(WORKFLOWS), f"say which routes and code do {sorted(automated - set(WORKFLOWS))}"
    for key in automated:
        for name in WORKFLOWS[key]["routes"]:
            assert name in ROUTE_POLICY, (key, name)
            reverse(name, kwargs=random_kwargs_for(name))  # wired to a view
        for path in WORKFLOWS[key]["code"]:
            module, function = path.split(":")
            assert callable(getattr(importlib.import_module(module), function, None)), (key, path)


def test_the_workflow_check_fails_for_a_capability_switched_on_without_code(monkeypatch):
    monkeypatch.setitem(protections.CAPABILITIES, "recordings", dataclasses.replace(protections.CAPABILITIES["recordings"], automated=True))
    with pytest.raises(AssertionError, match="say which routes and code do"):
        test_pol3_every_capability_stated_as_automated_has_its_workflow_in_code()
