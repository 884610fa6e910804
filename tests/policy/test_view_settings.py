"""POL1, POL3: the policy settings page (/practice/privacy-policy/) of the owner and the privacy
officer: what is in force and coming, every version, the override with a guide made from the
declaration, Preview (writes nothing) and Publish (version n+1, the notice changes)."""

from __future__ import annotations

import datetime
import re
import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.middleware import SESSION_AUTH_FRESH_AT
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.policy.loader import load_default
from confide.policy.models import NoticeAcknowledgement, NoticeDelivery, PolicyVersion

SETTINGS = reverse("policy:settings")
PUBLISH = reverse("policy:publish")
RECORDINGS_60 = '[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n'


def _when(days: float = 0, minutes: float = 1) -> str:
    return (timezone.now() + datetime.timedelta(days=days, minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def _form(override: str = RECORDINGS_60, *, days: float = 0, material: bool = False, summary: str = "Recordings kept 60 days.") -> dict:
    data = {"override_toml": override, "effective_at": _when(days), "summary": summary}
    if material:
        data["material"] = "on"
    return data


def _versions(practice) -> int:
    with tenant_context(practice_id=practice.id):
        return PolicyVersion.objects.count()


def _writes(world) -> tuple:
    """Everything Preview must leave alone."""
    counts = []
    for pw in (world.a, world.b):
        with tenant_context(practice_id=pw.practice.id):
            counts += [PolicyVersion.objects.count(), NoticeDelivery.objects.count(), NoticeAcknowledgement.objects.count()]
    return (*counts, AuditEntry.objects.exclude(event__in=["records:patients:listed"]).count())


# --- who may open it ----------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.FRONT_DESK, Role.BILLING])
def test_pol1_staff_without_policy_edit_get_403_on_every_method(signed_in, world, role):
    client = signed_in(role)
    assert client.get(SETTINGS).status_code == 403
    assert client.post(SETTINGS, _form()).status_code == 403
    assert client.post(PUBLISH, _form()).status_code == 403
    assert _versions(world.a.practice) == 1


@pytest.mark.parametrize("role", [Role.OWNER, Role.PRIVACY_OFFICER])
def test_pol1_the_owner_and_the_privacy_officer_see_the_page(signed_in, world, role):
    response = signed_in(role).get(SETTINGS)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="in-force"' in html and "Version 1, in effect from" in html
    assert 'data-testid="version-1"' in html and "Confide&#x27;s defaults" in html
    assert '<textarea name="override_toml"' in html


def test_the_dashboard_links_the_page_for_holders_of_the_permission_only(signed_in, world):
    assert SETTINGS in signed_in(Role.PRIVACY_OFFICER).get(reverse("core:dashboard")).content.decode()
    assert SETTINGS not in signed_in(Role.FRONT_DESK).get(reverse("core:dashboard")).content.decode()


# --- what it shows ------------------------------------------------------------------------------
def test_pol1_versions_show_number_dates_material_summary_and_the_publishers_display_name_only(signed_in, world, publish):
    publish(RECORDINGS_60, summary="Shorter recordings.")
    publish('[age]\nminimum = 13\n', days=31, material=True, summary="Teenagers from 13.")
    html = signed_in(Role.OWNER).get(SETTINGS).content.decode()
    officer = world.a.user(Role.PRIVACY_OFFICER)
    row = re.search(r'<tr data-testid="version-3">(.*?)</tr>', html, re.S).group(1)
    assert "Teenagers from 13." in row and "yes" in row and officer.display_name in row and "upcoming" in row
    assert officer.email not in html  # a display name, never more
    assert 'data-testid="upcoming-versions"' in html and "Version 3 takes effect on" in html


def test_the_override_starts_from_the_latest_versions_text(signed_in, publish):
    publish(RECORDINGS_60)
    html = signed_in(Role.PRIVACY_OFFICER).get(SETTINGS).content.decode()
    assert 'id = &quot;telehealth-recordings&quot;' in html.split("<textarea", 1)[1].split("</textarea>", 1)[0]


def test_pol3_the_guide_is_made_from_the_declaration(signed_in):
    html = signed_in(Role.PRIVACY_OFFICER).get(SETTINGS).content.decode()
    default = load_default()
    processors = html.split('data-testid="guide-processors"', 1)[1].split("</table>", 1)[0]
    for processor in default.processors:
        assert f"<code>{processor.id}</code>" in processors
    retention = html.split('data-testid="guide-retention"', 1)[1].split("</table>", 1)[0]
    for rule in default.retention:
        assert f"<code>{rule.id}</code>" in retention
        if rule.minimum:
            assert f"<code>{rule.minimum}</code>" in retention
    assert "<code>13</code> or <code>18</code>" in html
    for regime in ("hipaa", "ccpa", "us_states", "gdpr"):
        assert f"<code>{regime}</code>" in html
    for contact in ("privacy_officer", "hipaa_compliance_officer", "dpo"):
        assert f"<code>{contact}</code>" in html


def test_another_practices_versions_are_never_shown(signed_in, world, publish):
    from confide.core.actors import StaffActor

    b_officer = StaffActor.from_membership(world.b.memberships[Role.PRIVACY_OFFICER])
    publish(RECORDINGS_60, actor=b_officer, summary="Practice B's own secret change.")
    publish('[age]\nminimum = 13\n', actor=b_officer, days=40, material=True, summary="Practice B's upcoming change.")
    html = signed_in(Role.OWNER).get(SETTINGS).content.decode()
    assert "Practice B" not in html
    assert 'data-testid="version-2"' not in html and 'data-testid="report-3"' not in html


# --- Preview ------------------------------------------------------------------------------------
def test_pol1_preview_shows_the_changes_and_the_notice_as_it_will_read_and_writes_nothing(signed_in, world):
    client = signed_in(Role.PRIVACY_OFFICER)
    before = _writes(world)
    response = client.post(SETTINGS, _form(RECORDINGS_60 + '\n[contacts.privacy_officer]\nname = "Pat Privacy"\nemail = "pat@a.example.test"\n'))
    assert response.status_code == 200
    html = response.content.decode()
    changes = html.split('data-testid="preview-changes"', 1)[1].split("</ul>", 1)[0]
    assert "<code>retention.telehealth-recordings.period</code>: 90d → <strong>60d</strong>" in changes
    assert "<code>contacts.privacy_officer.name</code>: (empty) → <strong>Pat Privacy</strong>" in changes
    preview = html.split('data-testid="preview"', 1)[1]
    assert 'Telehealth session recordings</th><td data-testid="retention-period">60 days' in preview
    assert "Pat Privacy" in preview and "pat@a.example.test" in preview
    assert 'data-testid="preview-problems"' not in html
    assert _writes(world) == before


def test_preview_says_what_publish_would_still_refuse(signed_in, world):
    response = signed_in(Role.PRIVACY_OFFICER).post(SETTINGS, _form(days=3, material=True, summary=""))
    assert response.status_code == 200
    problems = response.content.decode().split('data-testid="preview-problems"', 1)[1].split("</ul>", 1)[0]
    assert "Say in a sentence what changes" in problems
    assert f"at least {settings.CONFIDE_POLICY_MATERIAL_NOTICE_DAYS} days" in problems


def test_preview_of_the_version_in_force_says_nothing_changes(signed_in):
    response = signed_in(Role.PRIVACY_OFFICER).post(SETTINGS, {"override_toml": "", "effective_at": "", "summary": ""})
    assert response.status_code == 200
    assert "changes nothing" in response.content.decode()


# --- invalid input --------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [SETTINGS, PUBLISH], ids=["preview", "publish"])
def test_pol1_an_invalid_override_is_a_400_naming_its_line_next_to_the_textarea_and_writes_nothing(signed_in, world, url):
    client = signed_in(Role.PRIVACY_OFFICER)
    before = _writes(world)
    override = '[[retention]]\nid = "telehealth-recordings"\nperiod = "60 days"\n'
    response = client.post(url, _form(override))
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(r'<div class="invalid-feedback d-block" id="id_override_toml_error"[^>]*>(.*?)</div>', html, re.S).group(1)
    assert "override, line 3: retention.0.period:" in error
    assert "That line reads: <code>period = &quot;60 days&quot;</code>" in error
    # Only the override is marked invalid; the other fields keep what was typed and no error.
    assert html.count("is-invalid") == 1 and 'aria-invalid="true"' in html.split("<textarea", 1)[1].split(">", 1)[0]
    assert 'value="Recordings kept 60 days."' in html
    assert 'data-testid="preview"' not in html
    assert _writes(world) == before


def test_a_toml_syntax_error_names_its_line_too(signed_in):
    response = signed_in(Role.PRIVACY_OFFICER).post(SETTINGS, _form('\n\n[age]\nminimum = \n'))
    assert response.status_code == 400
    assert "override, line 4: not valid TOML" in response.content.decode()


def test_a_leading_blank_line_and_crlf_line_breaks_do_not_shift_the_line_number(signed_in):
    response = signed_in(Role.PRIVACY_OFFICER).post(SETTINGS, _form("\r\n# note\r\n[age]\r\nminimum = 21\r\n"))
    assert response.status_code == 400
    assert "override, line 4: age.minimum" in response.content.decode()


def test_an_unreadable_date_is_a_400_on_the_date_field_only(signed_in, world):
    response = signed_in(Role.PRIVACY_OFFICER).post(PUBLISH, {**_form(), "effective_at": "next tuesday"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter the date and time as YYYY-MM-DD HH:MM." in html and html.count("is-invalid") == 1
    assert _versions(world.a.practice) == 1


def test_pol2_a_material_change_sooner_than_the_notice_period_is_refused_with_the_services_message(signed_in, world):
    response = signed_in(Role.PRIVACY_OFFICER).post(PUBLISH, _form(days=3, material=True))
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(r'id="id_effective_at_error"[^>]*>(.*?)</div>', html, re.S).group(1)
    assert f"A material change takes effect at least {settings.CONFIDE_POLICY_MATERIAL_NOTICE_DAYS} days after it is published" in error
    assert _versions(world.a.practice) == 1


def test_publishing_without_a_summary_is_refused_next_to_the_summary(signed_in, world):
    response = signed_in(Role.PRIVACY_OFFICER).post(PUBLISH, _form(summary="  "))
    assert response.status_code == 400
    assert re.search(r'id="id_summary_error"[^>]*>Say in a sentence what changes', response.content.decode())
    assert _versions(world.a.practice) == 1


# --- Publish --------------------------------------------------------------------------------------
def test_pol1_publish_makes_version_two_and_the_public_notice_changes(signed_in, world):
    response = signed_in(Role.PRIVACY_OFFICER).post(PUBLISH, _form())
    assert response.status_code == 302 and response["Location"] == SETTINGS
    with tenant_context(practice_id=world.a.practice.id):
        version = PolicyVersion.objects.get(number=2)
    assert (version.override_toml, version.material, version.summary) == (RECORDINGS_60, False, "Recordings kept 60 days.")
    assert version.published_by_id == world.a.user(Role.PRIVACY_OFFICER).pk
    assert AuditEntry.objects.filter(event=AuditEvent.POLICY_PUBLISHED, resource_ids=[str(version.pk)]).count() == 1
    # Effective a minute from now: the public notice changes once it is in force.
    later = timezone.now() + datetime.timedelta(minutes=2)
    import time_machine

    with time_machine.travel(later, tick=False):
        html = Client().get(reverse("policy:notice", kwargs={"practice_slug": world.a.practice.slug})).content.decode()
    assert 'Telehealth session recordings</th><td data-testid="retention-period">60 days' in html
    assert "Version 2 · in effect from" in html


def test_pol2_publishing_a_material_change_says_who_will_be_told(signed_in, world):
    client = signed_in(Role.OWNER)
    response = client.post(PUBLISH, _form(days=31, material=True, summary="Recordings kept 60 days."), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Version 2 is published" in html and "being e-mailed" in html
    assert 'data-testid="upcoming-versions"' in html


def test_publish_with_a_stale_confirmation_asks_to_confirm_keeping_the_override_and_writes_nothing(signed_in, world):
    from confide.accounts.models import TOTPDevice
    from tests.conftest import PASSWORD

    client = signed_in(Role.PRIVACY_OFFICER)
    session = client.session
    session[SESSION_AUTH_FRESH_AT] = int(time.time()) - settings.CONFIDE_RECENT_AUTH_MINUTES * 60 - 60
    session.save()
    # Preview and the page itself do not ask: they change nothing. The page says Publish will.
    assert client.post(SETTINGS, _form()).status_code == 200
    assert 'data-testid="reauth-hint"' in client.get(SETTINGS).content.decode()
    typed = '# ours, typed by hand\n[[retention]]\nid = "telehealth-recordings"\nperiod = "60d"\n'
    form = _form(typed, summary="Recordings kept 60 days & no longer.")
    response = client.post(PUBLISH, form, HTTP_REFERER=f"http://testserver{SETTINGS}")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="confirm-in-place"' in html and f'action="{PUBLISH}"' in html
    kept = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))
    assert kept["override_toml"] == typed.replace('"', "&quot;") and kept["summary"] == "Recordings kept 60 days &amp; no longer."
    assert _versions(world.a.practice) == 1

    # A wrong password: asked again, the override still kept, nothing published.
    wrong = client.post(PUBLISH, {**form, "confirm-password": "not-it-at-all", "confirm-token": "000000"})
    assert wrong.status_code == 400 and "password or code was not right" in wrong.content.decode()
    assert 'name="override_toml"' in wrong.content.decode()
    assert _versions(world.a.practice) == 1

    # Confirmed: the very override typed is version 2, in the same request.
    code = TOTPDevice.objects.get(user=world.a.users[Role.PRIVACY_OFFICER]).current_code()
    done = client.post(PUBLISH, {**form, "confirm-password": PASSWORD, "confirm-token": code})
    assert done.status_code == 302
    with tenant_context(practice_id=world.a.practice.id):
        latest = PolicyVersion.objects.order_by("number").last()
        assert (latest.number, latest.override_toml, latest.summary) == (2, typed, "Recordings kept 60 days & no longer.")
        assert AuditEntry.objects.filter(event=AuditEvent.REAUTH_SUCCEEDED).exists()




def test_sec3_deeply_nested_toml_in_the_preview_is_a_400_naming_the_limit(signed_in, world):
    client = signed_in(Role.PRIVACY_OFFICER)
    before = _writes(world)
    response = client.post(SETTINGS, _form("[age]\nminimum = " + "[" * 5000 + "]" * 5000 + "\n"))
    assert response.status_code == 400
    assert "override, line 2: not valid here: TOML nested deeper than the limit of 16 levels" in response.content.decode()
    assert _writes(world) == before


# --- what is in force now, beside what is coming ----------------------------------------------------
def test_pol3_while_a_published_version_is_still_to_come_the_guide_shows_the_values_in_force_now_beside_it(signed_in, publish):
    publish('[[retention]]\nid = "backups"\nperiod = "35d"\n[age]\nminimum = 13\n', days=31, material=True)
    html = signed_in(Role.PRIVACY_OFFICER).get(SETTINGS).content.decode()
    retention = html.split('data-testid="guide-retention"', 1)[1].split("</table>", 1)[0]
    backups = retention.split("<code>backups</code>", 1)[1].split("</tr>", 1)[0]
    assert '<td data-testid="period-now"><code>30d</code></td>' in backups  # version 1 still applies
    assert '<td data-testid="period-upcoming"><code>35d</code> <span class="small">(changes)</span></td>' in backups
    assert "<th scope=\"col\">in version 2</th>" in retention
    assert "(now <code>18</code>; version 2: <code>13</code>)" in html
    assert "and beside them those of version 2, published to take effect on" in html


def test_without_a_version_to_come_the_guide_shows_only_the_values_in_force(signed_in, publish):
    publish('[[retention]]\nid = "backups"\nperiod = "14d"\n')
    with_time = timezone.now() + datetime.timedelta(minutes=2)
    import time_machine

    with time_machine.travel(with_time, tick=False):
        html = signed_in(Role.PRIVACY_OFFICER).get(SETTINGS).content.decode()
    retention = html.split('data-testid="guide-retention"', 1)[1].split("</table>", 1)[0]
    assert '<td data-testid="period-now"><code>14d</code></td>' in retention.split("<code>backups</code>", 1)[1]
    assert 'data-testid="period-upcoming"' not in retention
