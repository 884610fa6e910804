"""POL2: whether a change is material is computed from the change (confide/policy/materiality.py);
the publisher may mark any change material, never a material one as not material — in the
service, on the policy settings page and in `confide policy publish`."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy import materiality
from confide.policy.loader import load_default, resolve
from confide.policy.materiality import material_changes
from confide.policy.models import PolicyVersion
from confide.policy.schema import Age, Category, Declaration, Grants, Processor, PurposeDecl, Retention
from confide.policy.services import PublishRefused

BACKUPS_35 = '[[retention]]\nid = "backups"\nperiod = "35d"\n'
SETTINGS = reverse("policy:settings")
PUBLISH = reverse("policy:publish")


def _rules(override: str, base: str = "") -> list[str]:
    before = resolve(base) if base else load_default()
    return [c.rule for c in material_changes(before, resolve(override))]


def _versions(practice) -> int:
    with tenant_context(practice_id=practice.id):
        return PolicyVersion.objects.count()


# --- the rules ------------------------------------------------------------------------------------
def test_pol2_keeping_backups_35_days_instead_of_30_is_material():
    [change] = material_changes(load_default(), resolve(BACKUPS_35))
    assert change.rule == "retention.longer"
    assert str(change) == "Backups: kept longer, 35 days instead of 30 days."


@pytest.mark.parametrize(
    ("override", "rules"),
    [
        ('[[processors]]\nid = "sms"\nin_use = true\n', ["processors.new"]),
        ('[[processors]]\nid = "fax"\nname = "Fax line"\nservice = "Sends faxes."\nrole = "business_associate"\n'
         'categories = ["health.documents"]\npurposes = ["treatment"]\nbaa_on_file = true\nlocation = "United States"\nin_use = true\n',
         ["processors.new"]),
        ('[[processors]]\nid = "email"\ncategories = ["contact.email", "identifiers.name", "scheduling.appointments", "health.notes"]\n',
         ["processors.more_categories"]),
        ('[[processors]]\nid = "email"\npurposes = ["treatment", "operations", "patient_request", "marketing", "ai_assist"]\n',
         ["processors.more_purposes"]),
        ('[[processors]]\nid = "email"\nname = "Another mail company"\n', ["processors.renamed"]),
        ('[[processors]]\nid = "email"\nlocation = "Ireland"\n', ["processors.moved"]),
        ('[[processors]]\nid = "analytics"\nrole = "business_associate"\n', ["processors.more_reach"]),
        ('[[retention]]\nid = "medical-records"\nperiod = "10y"\n', ["retention.longer"]),
        ('[age]\nminimum = 13\n', ["age.lower"]),
        ('[regimes.ccpa]\nin_force = false\n', ["regimes.dropped"]),
    ],
    ids=["processor-turned-on", "new-processor", "more-categories", "more-purposes", "renamed", "moved", "more-reach",
         "longer-records", "lower-age", "law-dropped"],
)  # fmt: skip
def test_pol2_what_patients_relied_on_changing_is_material(override, rules):
    assert _rules(override) == rules


@pytest.mark.parametrize(
    "override",
    [
        '[[retention]]\nid = "backups"\nperiod = "14d"\n',  # shorter
        '[[processors]]\nid = "email"\nbaa_on_file = true\n',  # an agreement on file protects more
        '[[processors]]\nid = "email"\nin_use = false\n',  # one recipient fewer
        '[[processors]]\nid = "email"\nservice = "Delivers the practice\'s e-mails."\n',  # wording
        '[[processors]]\nid = "sms"\nname = "Another SMS company"\n',  # not in use: receives nothing
        '[regimes.gdpr]\nin_force = true\n',  # more rights
        '[age]\nguardian_may_start_care_below_minimum = false\n',  # fewer children
        '[contacts.privacy_officer]\nname = "Pat"\nemail = "pat@example.test"\n',
    ],
    ids=["shorter", "baa", "processor-off", "service-wording", "unused-processor", "law-added", "stricter-age", "contact"],
)
def test_changes_that_take_nothing_from_patients_are_not_material(override):
    assert _rules(override) == []


def test_pol2_letting_guardians_start_care_for_younger_children_is_material():
    base = '[age]\nguardian_may_start_care_below_minimum = false\n'
    assert _rules('[age]\nguardian_may_start_care_below_minimum = true\n', base) == ["age.younger_children"]


def test_pol2_the_defaults_own_changes_are_judged_too():
    """A new version of Confide's default may add categories or purposes, or loosen them."""
    default = load_default()
    data = default.model_dump(by_alias=True)
    data["categories"]["health.genomics"] = {"label": "Genetic results", "description": "Results of genetic tests.", "phi": True}
    data["categories"]["technical.device"]["phi"] = False
    data["purposes"]["marketing"]["needs_consent"] = False
    data["purposes"]["operations"]["description"] = "Anything at all."
    data["regimes"]["hipaa"]["access"]["respond_days"] = 60
    data["regimes"]["hipaa"]["accounting_of_disclosures"]["lookback_years"] = 3
    data["retention"][3]["then"] = "kept in an archive"
    after = Declaration.model_validate(data)
    assert {c.rule for c in material_changes(default, after)} == {
        "categories.new", "categories.less_protected", "purposes.consent_dropped", "purposes.described_differently",
        "regimes.weaker", "retention.different_end",
        # the new category falls in the "health" group, which the server and three retention rules name
        "processors.more_categories", "retention.more_categories",
    }  # fmt: skip


def test_every_field_of_the_declaration_is_decided_material_or_not():
    """A field added to the schema fails here until materiality.py says how it counts."""
    assert set(materiality.DECLARATION_FIELDS) == set(Declaration.model_fields)
    assert set(materiality.CATEGORY_FIELDS) == set(Category.model_fields)
    assert set(materiality.PURPOSE_FIELDS) == set(PurposeDecl.model_fields)
    assert set(materiality.PROCESSOR_FIELDS) == set(Processor.model_fields)
    assert set(materiality.RETENTION_FIELDS) == set(Retention.model_fields)
    assert set(materiality.AGE_FIELDS) == set(Age.model_fields)
    assert set(materiality.GRANT_FIELDS) == set(Grants.model_fields)


def test_pol2_a_grant_inside_the_practice_is_not_material_either_way():
    """Which of the practice's own roles sees the consultation queue is minimum-necessary
    inside the practice, not a use or disclosure the notice describes."""
    default = load_default()
    data = default.model_dump(by_alias=True)
    data["grants"]["front_desk_consultation_queue"] = True
    wider = Declaration.model_validate(data)
    assert material_changes(default, wider) == [] and material_changes(wider, default) == []


# --- the service ---------------------------------------------------------------------------------------
def test_pol2_a_longer_retention_published_as_not_material_is_refused_and_nothing_is_written(world, publish):
    with pytest.raises(PublishRefused, match="This change is material") as refused:
        publish(BACKUPS_35, days=1, material=False)
    assert refused.value.field == "material"
    assert "Backups: kept longer, 35 days instead of 30 days." in str(refused.value)
    assert _versions(world.a.practice) == 1
    assert not AuditEntry.objects.filter(event=AuditEvent.POLICY_PUBLISHED).exists()


def test_pol2_the_same_change_marked_material_is_published_with_the_rule_in_the_audit_entry(world, publish):
    version = publish(BACKUPS_35, days=31, material=True)
    assert version.material
    entry = AuditEntry.objects.get(event=AuditEvent.POLICY_PUBLISHED)
    assert entry.detail["material_rules"] == ["retention.longer"]


def test_pol2_the_publisher_may_mark_a_change_that_is_not_material_material(publish):
    version = publish('[[retention]]\nid = "backups"\nperiod = "14d"\n', days=31, material=True)
    assert version.material


def test_pol2_materiality_is_judged_against_the_latest_version_not_the_default(publish):
    publish(BACKUPS_35, days=31, material=True)
    # Back to 30 days, still published after 35: shorter again, not material.
    assert not publish("", days=32).material


# --- the settings page --------------------------------------------------------------------------------
def _form(override: str, *, days: float = 1, material: bool = False) -> dict:
    when = (timezone.now() + datetime.timedelta(days=days, minutes=1)).strftime("%Y-%m-%dT%H:%M")
    return {"override_toml": override, "effective_at": when, "summary": "Backups kept 35 days.", **({"material": "on"} if material else {})}


def test_pol2_the_settings_page_refuses_a_material_change_published_as_not_material_next_to_the_checkbox(signed_in, world):
    response = signed_in(Role.PRIVACY_OFFICER).post(PUBLISH, _form(BACKUPS_35))
    assert response.status_code == 400
    error = re.search(r'id="id_material_error"[^>]*>(.*?)</div>', response.content.decode(), re.S).group(1)
    assert "This change is material" in error and "35 days instead of 30 days" in error
    assert _versions(world.a.practice) == 1


def test_pol2_preview_says_why_a_change_is_material_and_what_publish_would_refuse(signed_in):
    html = signed_in(Role.PRIVACY_OFFICER).post(SETTINGS, _form(BACKUPS_35)).content.decode()
    reasons = html.split('data-testid="material-reasons"', 1)[1].split("</ul>", 1)[0]
    assert "Backups: kept longer, 35 days instead of 30 days." in reasons
    problems = html.split('data-testid="preview-problems"', 1)[1].split("</ul>", 1)[0]
    assert "This change is material" in problems
    assert f"at least {settings.CONFIDE_POLICY_MATERIAL_NOTICE_DAYS} days" in problems  # the date, checked as it will have to be


def test_preview_of_a_change_that_is_not_material_says_so(signed_in):
    html = signed_in(Role.PRIVACY_OFFICER).post(SETTINGS, _form('[[retention]]\nid = "backups"\nperiod = "14d"\n')).content.decode()
    assert "Not a material change by Confide's rules." in html
    assert 'data-testid="preview-problems"' not in html


# --- the command line -----------------------------------------------------------------------------------
def test_pol2_confide_policy_publish_refuses_a_material_change_without_material(world, tmp_path):
    override = tmp_path / "o.toml"
    override.write_text(BACKUPS_35)
    officer = world.a.user(Role.PRIVACY_OFFICER).email
    args = ["publish", "--practice", "a", "--override", str(override), "--summary", "Backups kept 35 days.", "--as", officer]
    soon = (timezone.now() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    with pytest.raises(CommandError, match=r"This change is material.*35 days instead of 30 days.*Publish it with --material"):
        call_command("policy", *args, "--effective", soon, stdout=io.StringIO())
    assert _versions(world.a.practice) == 1
    out = io.StringIO()
    later = (timezone.now() + datetime.timedelta(days=31)).strftime("%Y-%m-%dT%H:%M")
    call_command("policy", *args, "--effective", later, "--material", stdout=out)
    assert "  material: Backups: kept longer, 35 days instead of 30 days." in out.getvalue().splitlines()
