"""DIR3: a referred colleague gets one e-mail naming who referred them, with a decline link; their
contact data is sealed, used for nothing else (never a marketing recipient), deleted on decline or
after 30 days."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from confide.audit.events import AuditEvent
from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.directory import services
from confide.directory.models import Referral, ReferralDecline
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

COLLEAGUE = {"name": "Morgan Referee", "email": "morgan.referee@example.test"}


def _refer(world, django_capture_on_commit_callbacks, data=COLLEAGUE):
    client = sign_in(Client(), world.a.user(Role.CLINICIAN), world.a.practice)
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("directory:refer"), data)


def test_dir3_one_email_names_the_referrer_and_practice_with_a_decline_link_and_the_row_is_sealed(world, django_capture_on_commit_callbacks):
    mail.outbox = []
    assert _refer(world, django_capture_on_commit_callbacks).status_code == 302
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [COLLEAGUE["email"]]
    assert world.a.user(Role.CLINICIAN).display_name in sent.body and world.a.practice.name in sent.body
    assert "/referral/decline/?t=" in sent.body
    with connection.cursor() as cursor:  # sealed: neither the name nor the address in the table
        cursor.execute("SELECT * FROM directory_referral")
        raw = repr(cursor.fetchall())
    assert COLLEAGUE["email"] not in raw and "Morgan" not in raw
    audit = repr(list(AuditEntry.objects.filter(event__startswith="directory:").values()))
    assert COLLEAGUE["email"] not in audit and "Morgan" not in audit
    # The same address again: refused, no second e-mail.
    again = _refer(world, django_capture_on_commit_callbacks)
    assert again.status_code == 400 and len(mail.outbox) == 1


def test_dir3_decline_deletes_at_once_and_a_second_referral_is_refused_without_an_email(world, django_capture_on_commit_callbacks):
    mail.outbox = []
    _refer(world, django_capture_on_commit_callbacks)
    link = re.search(r"(/p/\S+/referral/decline/\?t=\S+)", mail.outbox[0].body).group(1)
    visitor = Client()
    assert visitor.get(link).status_code == 200
    token = link.split("?t=", 1)[1]
    done = visitor.post(link.split("?", 1)[0], {"t": token})
    assert done.status_code == 200 and 'data-testid="declined"' in done.content.decode()
    with tenant_context(practice_id=world.a.practice.id):
        assert not Referral.objects.exists()
        assert ReferralDecline.objects.count() == 1
    mail.outbox = []
    refused = _refer(world, django_capture_on_commit_callbacks)
    assert refused.status_code == 400 and "asked not to be contacted" in refused.content.decode()
    assert mail.outbox == []
    assert visitor.post(link.split("?", 1)[0], {"t": "forged"}).status_code == 400


def test_dir3_referrals_are_purged_after_30_days_with_a_moving_clock(world, django_capture_on_commit_callbacks):
    with time_machine.travel(datetime.datetime(2027, 3, 1, 9, tzinfo=datetime.UTC), tick=False):
        _refer(world, django_capture_on_commit_callbacks)
    with time_machine.travel(datetime.datetime(2027, 3, 30, 9, tzinfo=datetime.UTC), tick=False):
        assert services.purge_referrals() == 0  # day 29: kept
    with time_machine.travel(datetime.datetime(2027, 3, 31, 9, 1, tzinfo=datetime.UTC), tick=False):
        assert services.purge_referrals() == 1  # past 30 days: gone
    with tenant_context(practice_id=world.a.practice.id):
        assert not Referral.objects.exists()
    assert AuditEntry.objects.filter(event=AuditEvent.REFERRALS_PURGED, practice_id=world.a.practice.id).count() == 1


def test_dir3_a_referred_address_never_becomes_a_marketing_recipient(world, django_capture_on_commit_callbacks, run_tasks):
    """The marketing audience is built only from patients with marketing consent in the ledger
    (campaigns.py); a referral is no patient. A campaign by e-mail is started and run to the end
    (every task delivered) after the referral: the address receives nothing but its one e-mail."""
    from confide.core.actors import StaffActor
    from confide.messaging import campaigns

    size_before = campaigns.audience_size(world.a.practice.id, "email")
    mail.outbox = []
    _refer(world, django_capture_on_commit_callbacks)
    assert campaigns.audience_size(world.a.practice.id, "email") == size_before
    owner = StaffActor.from_membership(world.a.memberships[Role.OWNER])
    with django_capture_on_commit_callbacks(execute=True), tenant_context(practice_id=world.a.practice.id):
        campaign = campaigns.create_campaign(owner, name="Spring news", channel="email", subject="News", body="Our news.")
        campaigns.start_campaign(owner, campaign.pk)
    run_tasks()
    to_referral = [m for m in mail.outbox if COLLEAGUE["email"] in m.to]
    assert len(to_referral) == 1 and "referred you" in to_referral[0].subject


def test_the_purge_command_deletes_expired_referrals_and_can_schedule_itself(world, django_capture_on_commit_callbacks):
    import io

    from django.core.management import call_command

    with time_machine.travel(datetime.datetime(2027, 3, 1, 9, tzinfo=datetime.UTC), tick=False):
        _refer(world, django_capture_on_commit_callbacks)
    out = io.StringIO()
    with time_machine.travel(datetime.datetime(2027, 4, 2, 9, tzinfo=datetime.UTC), tick=False):
        call_command("directory", "purge", "--schedule", stdout=out)
    assert "purge: 1 referrals deleted" in out.getvalue()
    assert "queued every hour" in out.getvalue() or "cron" in out.getvalue()
