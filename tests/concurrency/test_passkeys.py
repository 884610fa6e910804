"""ACC2 (patients): a passkey sign-in's challenge is single-use under parallel requests. The same
signed answer, posted by several threads of one browser session at once, signs in at most once:
each request reads the challenge from the session, and the conditional DELETE of its row
(accounts/passkeys.py) lets exactly one of them through."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, forget_user_on_cleanup, new_world, run_scenario

THREADS = 8


def scenario_one_passkey_answer_from_many_threads(params):
    import uuid

    from django.test import Client

    from confide.accounts.models import AttemptCount, User, UserKind, WebAuthnCredential
    from confide.accounts.passkeys import _options_key, _throttle_key
    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from tests.portal.passkey_steps import add_passkey, post_json, signin_options

    new_world("passkey")
    user = User.objects.create_user(
        email=f"passkey-{uuid.uuid4().hex[:8]}@example.test", password=None, display_name="Pat", kind=UserKind.PATIENT
    )
    forget_user_on_cleanup(user)
    owner = Client()
    owner.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    added, auth = add_passkey(owner)
    assert added.status_code == 200, added.content

    browser = Client()
    assertion = auth.sign_in(signin_options(browser))
    clients = []
    for _ in range(params["n"]):
        tab = Client()
        tab.cookies = browser.cookies  # the same session: each request finds the challenge in it
        clients.append(tab)

    outcomes = concurrently(
        params["n"], lambda i: post_json(clients[i], "portal:passkey-signin", {"credential": assertion}).status_code
    )
    user_id = str(user.pk)
    result = {
        "statuses": sorted(o.value for o in outcomes if o.ok),
        "errors": [o.error for o in outcomes if not o.ok],
        "signed_in": AuditEntry.objects.filter(event=AuditEvent.PASSKEY_SIGNIN, detail__user_id=user_id).count(),
        "failed": AuditEntry.objects.filter(event=AuditEvent.PASSKEY_SIGNIN_FAILED, detail__reason="challenge").count(),
        "sign_count": WebAuthnCredential.objects.get(user=user).sign_count,
    }
    # What was counted against the test client's address: gone, so later tests start at zero.
    request = browser.get("/").wsgi_request
    AttemptCount.objects.filter(key__in=[_throttle_key(request), _options_key(request)]).delete()
    return result


def test_acc2_one_passkey_answer_posted_by_eight_threads_signs_in_once(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_one_passkey_answer_from_many_threads, n=THREADS)
    assert result["errors"] == []
    assert result["statuses"] == [200] + [400] * (THREADS - 1)
    assert (result["signed_in"], result["failed"]) == (1, THREADS - 1)
    assert result["sign_count"] == 1
