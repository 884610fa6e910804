"""CON3, non-discrimination: opting out changes the opted-out processing and nothing else. A
visitor who opts out of everything (GPC, DNT, sale/share, sensitive information, profiling,
usage statistics) gets the same pages; a patient who withdraws marketing and AI consent gets
the same care: every other opening of their chart is exactly as before."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from confide.access.door import open_chart, open_patient_list
from confide.core.purposes import Purpose
from confide.consent import services, texts
from confide.consent.topics import Action
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.consent.conftest import DNT, GPC
from tests.consent.helpers import by_phone

PAGES = ["policy:notice", "policy:notice-version", "consent:choices", "consent:do-not-sell", "consent:limit-sensitive"]


def _article(response) -> str:
    """The page's content, without what is about the visitor's own choices."""
    body = response.content.decode()
    article = re.search(r"<article.*?</article>", body, re.S).group(0)
    article = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", article)
    return re.sub(r'data-testid="(analytics-state|sale-state|limit-state|profiling-state|signals)".*?</(p|ul)>', "", article, flags=re.S)


def _opted_out_of_everything() -> Client:
    client = Client()
    for page, prompt in (("consent:do-not-sell", "sale-share"), ("consent:limit-sensitive", "limit-sensitive"), ("consent:limit-sensitive", "profiling")):
        client.post(reverse(page, kwargs={"practice_slug": "a"}), {"prompt": prompt, "action": "grant", "text_sha256": texts.digest(prompt, Action.GRANT)})
    client.post(reverse("consent:choices", kwargs={"practice_slug": "a"}), {"prompt": "analytics", "action": "decline", "text_sha256": texts.digest("analytics", Action.DECLINE)})
    return client


def test_con3_a_visitor_who_opts_out_of_everything_gets_the_same_pages(world):
    opted_out, fresh = _opted_out_of_everything(), Client()
    for name in PAGES:
        kwargs = {"practice_slug": "a"} | ({"number": 1} if name == "policy:notice-version" else {})
        url = reverse(name, kwargs=kwargs)
        theirs = opted_out.get(url, headers=GPC | DNT)
        everyone = fresh.get(url)
        assert theirs.status_code == everyone.status_code == 200, name
        if name.startswith("policy:"):
            assert _article(theirs) == _article(everyone), name  # the notice: word for word
        else:  # the choices pages: the same sections and links; only the visitor's own choices differ
            assert _structure(theirs) == _structure(everyone), name


def _structure(response) -> tuple[list, list]:
    body = response.content.decode()
    article = re.search(r"<article.*?</article>", body, re.S).group(0)
    footer = body.split("<footer", 1)[1]
    headings = re.findall(r"<h[12][^>]*>(.*?)</h[12]>", article)
    return headings, re.findall(r'<a href="([^"]+)"', article + footer)


def test_con3_withdrawing_marketing_and_ai_consent_changes_no_other_opening_of_the_chart(world, make_patient):
    patient = make_patient()
    other = make_patient(given_name="Tobias")
    by_phone(world.a, patient.id, "marketing_email")
    by_phone(world.a, patient.id, "ai_features")

    def everything_else():
        seen = {}
        for role in Role:
            actor = StaffActor.from_membership(world.a.memberships[role])
            for purpose in (Purpose.TREATMENT, Purpose.PAYMENT, Purpose.OPERATIONS):
                try:
                    with open_chart(actor, patient.id, purpose) as chart:
                        seen[(role, purpose)] = (chart.categories, chart.patient.given_name if "identifiers.name" in chart.categories else None)
                except Exception as exc:  # noqa: BLE001 — a refusal is part of what must not change
                    seen[(role, purpose)] = type(exc).__name__
        front_desk = StaffActor.from_membership(world.a.memberships[Role.FRONT_DESK])
        with open_patient_list(front_desk, Purpose.OPERATIONS, [patient.id, other.id], categories={"identifiers.name"}) as listed:
            seen["list"] = [p.id for p in listed]
        return seen

    before = everything_else()
    by_phone(world.a, patient.id, "marketing_email", "withdraw")
    by_phone(world.a, patient.id, "ai_features", "withdraw")
    assert everything_else() == before
    assert before["list"] == [patient.id, other.id]
    assert services.has_consent(world.a.practice.id, patient.id, "marketing") is False  # only the withdrawn processing stopped


def test_con3_opting_out_of_sale_changes_nothing_for_a_patient(world, make_patient):
    from confide.consent.actors import PatientActor
    from confide.consent.services import Subject, do_grant

    patient = make_patient()
    by_phone(world.a, patient.id, "phi_by_email")
    do_grant(actor=PatientActor(world.a.practice.id, patient.id), subject=Subject.patient(world.a.practice.id, patient.id),
             topic="sale_share_opt_out", channel="portal", method="form_button", shown_text=texts.shown("sale-share", Action.GRANT))  # fmt: skip
    assert services.has_consent(world.a.practice.id, patient.id, "treatment", channel="email") is True
    with tenant_context(practice_id=world.a.practice.id):
        with open_chart(StaffActor.from_membership(world.a.memberships[Role.CLINICIAN]), patient.id, Purpose.TREATMENT) as chart:
            assert chart.patient.health_background == "asthma since childhood"
