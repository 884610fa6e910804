"""`confide portal invite --patient UUID [--email ADDRESS]` prints the link the e-mail carries
(operators, the demo); the chart's address is read by the portal-invite job (e-mail only)."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from tests.portal_world import create_patient


def run(*args) -> str:
    out = io.StringIO()
    call_command("portal", *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture(autouse=True)
def _mail_after_commit(django_capture_on_commit_callbacks):
    global _capture
    _capture = django_capture_on_commit_callbacks


def test_acc5_the_command_prints_the_same_link_the_email_carries_to_the_charts_address(world):
    patient = create_patient(world.a, email="chart.address@example.test")
    with _capture(execute=True):
        link = run("invite", "--patient", str(patient.pk))
    assert "/portal/invitation/?token=" in link
    assert mail.outbox[-1].to == ["chart.address@example.test"] and link in mail.outbox[-1].body
    opening = AuditEntry.objects.filter(event=AuditEvent.CHART_OPENED, actor_kind="system").latest("at")
    assert opening.actor_id == "portal-invite-job" and opening.categories == ["contact.email"]
    path = link.split("://", 1)[1].split("/", 1)[1]
    client = Client()
    assert client.get("/" + path)["Location"] == reverse("portal:invitation-accept")


def test_an_address_given_on_the_command_line_wins(world):
    patient = create_patient(world.a)
    with _capture(execute=True):
        run("invite", "--patient", str(patient.pk), "--email", "given@example.test")
    assert mail.outbox[-1].to == ["given@example.test"]


@pytest.mark.parametrize(("args", "words"), [(["--patient", "nope"], "no patient"), (["--patient", str(uuid.uuid4())], "no patient"), (["--patient", "PLACEHOLDER", "--email", "bad"], "valid e-mail")])
def test_bad_input_is_one_line_and_nothing_is_sent(world, args, words):
    patient = create_patient(world.a)
    args = [str(patient.pk) if a == "PLACEHOLDER" else a for a in args]
    with pytest.raises(CommandError, match=words):
        run("invite", *args)
    assert mail.outbox == []


def test_a_chart_without_an_address_asks_for_one(world):
    patient = create_patient(world.a, email="")
    with pytest.raises(CommandError, match="--email"):
        run("invite", "--patient", str(patient.pk))
