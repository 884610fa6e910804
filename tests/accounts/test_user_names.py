"""Issue 11 item 14: a member of staff's display name is shown on every page, in lists and in
e-mails, so it follows the rule for one line of text (confide/core/text.py) wherever an account
is made: `create_user` (the demo, commands, a future invitation) and `createsuperuser`."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from confide.accounts.models import User


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"display_name": "Dana Khan\r\nBcc: everyone@example.test"}, "display_name"),
        ({"display_name": "Dana \u202enahK"}, "display_name"),
        ({"display_name": "\u200b\u200b"}, "display_name"),
        ({"email": "dana@example.test\x00"}, "email"),
    ],
)
def test_an_account_with_a_hostile_display_name_or_address_is_not_made(db, fields, field):
    values = {"email": "dana@example.test", "display_name": "Dana Khan"} | fields
    with pytest.raises(ValidationError) as refused:
        User.objects.create_user(values.pop("email"), "a long enough password 1", **values)
    assert field in refused.value.message_dict
    assert not User.objects.filter(email__startswith="dana@").exists()


def test_a_display_name_in_any_script_is_kept(db):
    user = User.objects.create_user("dana@example.test", "a long enough password 1", display_name="\u062f\u0627\u0646\u0627 \u062e\u0627\u0646")
    assert User.objects.get(pk=user.pk).display_name == "\u062f\u0627\u0646\u0627 \u062e\u0627\u0646"
