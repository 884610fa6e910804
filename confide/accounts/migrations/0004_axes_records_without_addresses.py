# django-axes kept typed addresses, IPs and browser strings in clear, forever (issue 11 item 13).
# From now on it stores a keyed hash of the address for the cool-off only (accounts/lockout.py);
# this converts what is already there: attempts get the hash and lose the browser string and
# the POST/GET summaries, and the access logs (never read; the audit log has sign-ins) go.
# Backwards: nothing to undo (a hash cannot be turned back into an address; the rows that
# remain are ones the old code reads the same way).

import hashlib
import hmac

from django.conf import settings
from django.db import migrations


def _identifier_hash(identifier: str) -> str:
    # The same HMAC as accounts.services.identifier_hash, frozen here as migrations must be.
    normalised = identifier.strip().lower()
    return hmac.new(settings.SECRET_KEY.encode(), f"signin:{normalised}".encode(), hashlib.sha256).hexdigest()


def forwards(apps, schema_editor):
    AccessAttempt = apps.get_model("axes", "AccessAttempt")
    kept = {}
    for attempt in AccessAttempt.objects.order_by("attempt_time", "pk"):
        key = (_identifier_hash(attempt.username or ""), attempt.ip_address)
        first = kept.get(key)
        if first is not None:  # one row per (address, IP) now that the browser string is gone
            first.failures_since_start += attempt.failures_since_start
            first.attempt_time = attempt.attempt_time
            attempt.delete()
            continue
        attempt.username = key[0]
        attempt.user_agent = attempt.http_accept = attempt.get_data = attempt.post_data = ""
        kept[key] = attempt
    for attempt in kept.values():
        attempt.save(update_fields=["username", "user_agent", "http_accept", "get_data", "post_data", "failures_since_start", "attempt_time"])
    apps.get_model("axes", "AccessLog").objects.all().delete()
    apps.get_model("axes", "AccessFailureLog").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_delete_securityevent"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
