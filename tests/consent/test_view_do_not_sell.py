"""RTS5: "Do Not Sell or Share My Personal Information": no account, one button, the choice
recorded for the visitor, nothing else asked; the page says plainly nothing is sold anyway."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from confide.consent import texts
from confide.consent.topics import Action
from tests.consent.conftest import GPC, counts, events

PAGE = reverse("consent:do-not-sell", kwargs={"practice_slug": "a"})


def _forms(body: str) -> list[str]:
    return re.findall(r'<form method="post"[^>]*>(.*?)</form>', body, re.S)


def test_rts5_one_button_no_account_records_the_opt_out(world):
    client = Client()
    page = client.get(PAGE)
    body = page.content.decode()
    assert page.status_code == 200
    assert "Practice A never sells your information and never shares it for advertising." in body
    assert texts.NEVER_SOLD in body and "You have not opted out." in body
    banner_forms = 2  # the cookie banner's own two buttons
    [form] = _forms(body)[banner_forms:]
    assert re.findall(r'<input type="(\w+)" name="(\w+)"', form) == [
        ("hidden", "csrfmiddlewaretoken"), ("hidden", "prompt"), ("hidden", "action"), ("hidden", "text_sha256"), ("hidden", "next"),
    ]  # nothing to fill in: no name, no e-mail, no account  # fmt: skip
    assert "Do not sell or share my information" in form

    done = client.post(PAGE, {"prompt": "sale-share", "action": "grant", "text_sha256": texts.digest("sale-share", Action.GRANT)})
    assert done.status_code == 303 and done["Location"] == PAGE
    [event] = events(world.a.practice)
    assert (event.topic, event.purpose, event.action, event.method, event.channel, event.subject_kind) == (
        "sale_share_opt_out", "sale_share", "grant", "form_button", "web", "visitor",
    )  # fmt: skip
    after = client.get(PAGE).content.decode()
    assert "You are opted out." in after and "Withdraw my opt-out" in after


def test_rts5_the_opt_out_can_be_withdrawn_with_one_click(world):
    client = Client()
    client.post(PAGE, {"prompt": "sale-share", "action": "grant", "text_sha256": texts.digest("sale-share", Action.GRANT)})
    client.post(PAGE, {"prompt": "sale-share", "action": "withdraw", "text_sha256": texts.digest("sale-share", Action.WITHDRAW)})
    assert [e.action for e in events(world.a.practice)] == ["grant", "withdraw"]


def test_rts5_with_gpc_the_visitor_is_opted_out_already(world):
    body = Client().get(PAGE, headers=GPC).content.decode()
    assert "You are opted out, because your browser sends Global Privacy Control." in body


def test_rts5_a_choice_another_page_offers_is_refused(world):
    response = Client().post(PAGE, {"prompt": "analytics", "action": "grant", "text_sha256": texts.digest("analytics", Action.GRANT)})
    assert response.status_code == 400 and "That choice is not offered on this page." in response.content.decode()
    assert counts(world.a.practice)["events"] == 0


def test_rts5_every_public_page_links_the_choices_in_its_footer(world):
    for name in ("policy:notice", "consent:choices", "consent:do-not-sell", "consent:limit-sensitive"):
        body = Client().get(reverse(name, kwargs={"practice_slug": "a"})).content.decode()
        footer = body.split('<footer', 1)[1]
        for target, label in [
            ("consent:choices", "Privacy choices"),
            ("consent:do-not-sell", "Do Not Sell or Share My Personal Information"),
            ("consent:limit-sensitive", "Limit the Use of My Sensitive Personal Information"),
            ("policy:notice", "Privacy notice"),
        ]:
            assert f'<a href="{reverse(target, kwargs={"practice_slug": "a"})}">{label}</a>' in footer, (name, target)
