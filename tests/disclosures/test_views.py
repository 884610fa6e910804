"""The staff pages, the portal's "Disclosures of your record" and the accounting a rights request
asks for: permissions, cross-practice 404s, no clinical content for the privacy officer."""

from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils import timezone

from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.disclosures.models import Disclosure
from confide.disclosures.services import record_disclosure
from confide.rights import services as rights_services
from confide.rights.accounting import do_prepare_accounting, fee_due
from confide.rights.models import Letter, LetterKind, RequestStatus, RightsRequest
from tests.conftest import CANARIES, sign_in
from tests.portal_world import portal_world

FORM = {
    "disclosed_on": "", "recipient": "County Health Department", "recipient_address": "", "description": "Immunizations",
    "purpose": "Notifiable disease report", "basis": "public_health", "categories": ["health.immunizations"],
}  # fmt: skip


def test_dsc1_the_privacy_officer_records_on_the_page_and_sees_no_clinical_content(client, world, patient):
    sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
    url = reverse("disclosures:record", args=[patient.pk])
    page = client.get(url).content.decode()
    assert "Record a disclosure" in page and "Marisol Quintero" in page
    response = client.post(url, FORM | {"disclosed_on": timezone.localdate().isoformat()})
    assert response.status_code == 302
    listing = client.get(reverse("disclosures:patient", args=[patient.pk])).content.decode()
    assert "County Health Department" in listing
    for clinical in ("salbutamol", "penicillin", "Asthma", "Spirometry"):
        assert clinical not in listing and clinical not in page
    assert "Compelled disclosure" not in listing  # the owner's
    assert client.get(reverse("disclosures:compelled", args=[patient.pk])).status_code == 403
    pdf = client.get(reverse("disclosures:report", args=[patient.pk]) + "?format=pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert client.get(reverse("disclosures:report", args=[patient.pk]) + "?format=xls").status_code == 400


def test_a_bad_form_is_a_400_and_writes_nothing(client, world, patient):
    sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    response = client.post(reverse("disclosures:record", args=[patient.pk]), FORM | {"disclosed_on": future, "basis": "nope"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "cannot be dated in the future" in page and "from the list" in page
    with tenant_context(practice_id=world.a.practice.id):
        assert not Disclosure.objects.exists()


def test_cross_practice_pages_are_404_and_other_roles_403(client, world, patient):
    sign_in(client, world.b.users[Role.OWNER], world.b.practice)
    for name in ("disclosures:patient", "disclosures:record", "disclosures:compelled"):
        assert client.get(reverse(name, args=[patient.pk])).status_code == 404, name
    sign_in(client, world.a.users[Role.CLINICIAN], world.a.practice)
    assert client.get(reverse("disclosures:patient", args=[patient.pk])).status_code == 403


def test_dsc2_the_owner_produces_the_compelled_package_on_the_page(client, world, patient):
    sign_in(client, world.a.owner, world.a.practice)
    url = reverse("disclosures:compelled", args=[patient.pk])
    response = client.post(url, {
        "basis": "subpoena", "reference": "Subpoena 77", "disclosed_on": timezone.localdate().isoformat(),
        "recipient": "Example LLP", "categories": ["health.medications"],
    })  # fmt: skip
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    with tenant_context(practice_id=world.a.practice.id):
        assert Disclosure.objects.get().compelled
        assert Letter.objects.filter(kind=LetterKind.DISCLOSURE_NOTICE).count() == 1


def test_dsc1_the_portal_shows_only_the_current_records_disclosures(client, world):
    from tests.portal_world import portal_sign_in

    pw = portal_world(world.a)
    for who, name in ((pw.adult.patient, "Own Recipient"), (pw.parent.patient, "Someone Else's Recipient")):
        record_disclosure(
            practice_id=world.a.practice.id, patient_id=who.pk, basis="public_health", source="manual", recipient=name,
            description="Immunizations", purpose="Report",
        )  # fmt: skip
    portal_sign_in(client, pw.adult.user)
    page = client.get(reverse("portal:privacy")).content.decode()
    assert "Own Recipient" in page and "Someone Else" not in page
    pdf = client.get(reverse("portal:disclosures-pdf"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_dsc1_a_rights_request_for_an_accounting_is_prepared_kept_and_closed(world, staff):
    pw = portal_world(world.a)
    record_disclosure(
        practice_id=world.a.practice.id, patient_id=pw.adult.patient.pk, basis="court_order", source="manual",
        recipient="Superior Court", description="Medications", purpose="Order 12",
    )  # fmt: skip
    made = rights_services.check_open_request(actor=pw.adult.actor, kind="accounting")
    assert fee_due(practice_id=world.a.practice.id, patient_id=pw.adult.patient.pk) == 0
    letter = do_prepare_accounting(actor=staff(Role.PRIVACY_OFFICER), request_id=made.pk, expected_version=made.version)
    with tenant_context(practice_id=world.a.practice.id):
        row = RightsRequest.objects.get(pk=made.pk)
        assert row.status == RequestStatus.DONE and row.decided_by_id == world.a.users[Role.PRIVACY_OFFICER].pk
        assert letter.kind == LetterKind.FULFILMENT and letter.request_id == made.pk
    again = rights_services.check_open_request(actor=pw.adult.actor, kind="accounting")
    from django.test import override_settings

    with override_settings(CONFIDE_ACCOUNTING_FEE_CENTS=1500):
        assert fee_due(practice_id=world.a.practice.id, patient_id=pw.adult.patient.pk) == 1500  # D8: second in 12 months
    import pytest

    from confide.core.errors import InvalidInput

    with pytest.raises(InvalidInput):  # stale version: changed meanwhile
        do_prepare_accounting(actor=staff(Role.PRIVACY_OFFICER), request_id=again.pk, expected_version=again.version + 5)
    with pytest.raises(InvalidInput):  # already answered
        do_prepare_accounting(actor=staff(Role.PRIVACY_OFFICER), request_id=made.pk, expected_version=made.version + 1)


def test_the_accounting_panel_renders_for_a_request(world):
    from django.template.loader import render_to_string

    pw = portal_world(world.a)
    made = rights_services.check_open_request(actor=pw.adult.actor, kind="accounting")
    html = render_to_string("rights/panels/accounting.html", {"req": made})
    assert "Prepare the accounting" in html and reverse("rights:accounting-prepare", args=[made.pk]) in html


def test_no_canary_in_the_accounting_pages(client, world, patient):
    sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
    page = client.get(reverse("disclosures:patient", args=[patient.pk])).content.decode()
    assert CANARIES["note"] not in page


def test_the_charts_privacy_tab_links_the_disclosures_for_those_who_may_see_them(client, world, patient):
    link = reverse("disclosures:patient", args=[patient.pk])
    sign_in(client, world.a.users[Role.PRIVACY_OFFICER], world.a.practice)
    assert f'href="{link}"' in client.get(reverse("records:chart-privacy", args=[patient.pk])).content.decode()
    sign_in(client, world.a.users[Role.CLINICIAN], world.a.practice)
    assert f'href="{link}"' not in client.get(reverse("records:chart-privacy", args=[patient.pk])).content.decode()


def test_dsc1_d8_the_panel_shows_the_fee_of_a_second_accounting_in_twelve_months(world, staff, settings):
    from django.template.loader import render_to_string

    settings.CONFIDE_ACCOUNTING_FEE_CENTS = 1500
    pw = portal_world(world.a)
    first = rights_services.check_open_request(actor=pw.adult.actor, kind="accounting")
    assert "accounting-fee" not in render_to_string("rights/panels/accounting.html", {"req": first})
    do_prepare_accounting(actor=staff(Role.OWNER), request_id=first.pk, expected_version=first.version)
    second = rights_services.check_open_request(actor=pw.adult.actor, kind="accounting")
    html = render_to_string("rights/panels/accounting.html", {"req": second})
    assert "accounting-fee" in html and "15.00" in html
