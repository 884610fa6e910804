"""`confide consent record`: staff record a patient's paper or phone choice from the command line."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from confide.consent import services
from confide.consent.topics import Topic
from confide.core.permissions import Role


def _run(*args) -> str:
    out = io.StringIO()
    call_command("consent", *args, stdout=out)
    return out.getvalue()


def test_staff_record_a_signed_authorization_and_its_withdrawal(world, staff, make_patient, tmp_path):
    patient = make_patient()
    form = tmp_path / "form.txt"
    form.write_text("I authorize the release of my psychotherapy notes to me. Signed 2026-11-30.")
    args = ["record", "--practice", "a", "--patient", str(patient.id), "--topic", "psychotherapy_notes_disclosure",
            "--method", "staff_paper", "--text-file", str(form), "--as", world.a.user(Role.PRIVACY_OFFICER).email]  # fmt: skip
    assert "recorded: grant psychotherapy_notes_disclosure" in _run(*args)
    subject = services.Subject.patient(world.a.practice.id, patient.id)
    assert services.state(subject, Topic.PSYCHOTHERAPY_DISCLOSURE).granted
    assert "recorded: withdraw" in _run(*args, "--withdraw")
    assert not services.state(subject, Topic.PSYCHOTHERAPY_DISCLOSURE).granted
    with pytest.raises(CommandError, match="nothing to withdraw"):
        _run(*args, "--withdraw")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--topic": "sell_my_data"}, "is not a consent topic"),
        ({"--as": "billing@a.example.test"}, "Forbidden"),
        ({"--practice": "nope"}, "no practice with slug 'nope'"),
        ({"--text-file": "/nonexistent"}, "cannot read /nonexistent"),
    ],
)
def test_bad_arguments_are_clear_errors_and_record_nothing(world, make_patient, tmp_path, change, message):
    patient = make_patient()
    form = tmp_path / "form.txt"
    form.write_text("I authorize it.")
    values = {"--practice": "a", "--patient": str(patient.id), "--topic": "psychotherapy_notes_disclosure", "--method": "staff_paper",
              "--text-file": str(form), "--as": world.a.user(Role.PRIVACY_OFFICER).email} | change  # fmt: skip
    with pytest.raises(CommandError, match=message):
        _run("record", *[x for pair in values.items() for x in pair])
    assert not services.state(services.Subject.patient(world.a.practice.id, patient.id), Topic.PSYCHOTHERAPY_DISCLOSURE).answered
