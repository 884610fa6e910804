"""Submitting an online consultation the way the public form does, for tests."""

from __future__ import annotations

import datetime

from django.utils import timezone

from confide.core.tenancy import tenant_context
from confide.records import intake
from tests.records.uploads import png_upload


def form_data(practice, **overrides) -> dict:
    with tenant_context(practice_id=practice.id):
        form = intake.current_form(practice.id)
    data = {
        "token": intake.new_token(practice.id),
        "form_version": str(form.version),
        "given_name": "Noor",
        "family_name": "Haddad",
        "date_of_birth": (timezone.now().date() - datetime.timedelta(days=365 * 30)).isoformat(),
        "email": "noor.haddad@example.test",
        "phone": "+1 415 555 0177",
        "q_reason": "An itchy rash on both forearms",
        "q_since": "A few weeks",
        "q_medications": "cetirizine, 10 mg daily\nibuprofen",
        "authorize": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def submit(practice, *, photo: bool = False, client_ip: str = "203.0.113.9", **overrides):
    files = {"q_photo": png_upload()} if photo else {}
    with tenant_context(practice_id=practice.id):
        return intake.check_submit_consultation(practice=practice, data=form_data(practice, **overrides), files=files, client_ip=client_ip)
