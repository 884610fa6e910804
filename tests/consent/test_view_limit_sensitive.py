"""RTS5: "Limit the Use of My Sensitive Personal Information" and the opt-out of profiling, on
one page: a button each, no account, each recorded on its own."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from confide.consent import texts
from confide.consent.topics import Action
from tests.consent.conftest import counts, events

PAGE = reverse("consent:limit-sensitive", kwargs={"practice_slug": "a"})


def _post(client, prompt, action=Action.GRANT):
    return client.post(PAGE, {"prompt": prompt, "action": action.value, "text_sha256": texts.digest(prompt, action)})


def test_rts5_limiting_sensitive_information_and_profiling_are_separate_one_click_choices(world):
    client = Client()
    body = client.get(PAGE).content.decode()
    assert "Limit the use of my sensitive information" in body and "Opt me out of profiling" in body
    assert "We make no automated decisions about you" in body and texts.NEVER_SOLD in body

    assert _post(client, "limit-sensitive").status_code == 303
    assert [(e.topic, e.purpose, e.action) for e in events(world.a.practice)] == [("limit_sensitive", "sensitive_limit", "grant")]
    page = client.get(PAGE).content.decode()
    assert "You asked us to limit the use of your sensitive information." in page
    assert "You have not opted out of profiling." in page

    assert _post(client, "profiling").status_code == 303
    assert "You opted out of profiling." in client.get(PAGE).content.decode()
    assert _post(client, "profiling", Action.WITHDRAW).status_code == 303
    assert [(e.topic, e.action) for e in events(world.a.practice)] == [
        ("limit_sensitive", "grant"), ("profiling_opt_out", "grant"), ("profiling_opt_out", "withdraw"),
    ]  # fmt: skip


def test_withdrawing_a_request_never_made_is_a_clear_400(world):
    response = _post(Client(), "profiling", Action.WITHDRAW)
    assert response.status_code == 400
    assert "There is nothing to withdraw: the opt-out of profiling was never granted." in response.content.decode()
    assert counts(world.a.practice)["events"] == 0
