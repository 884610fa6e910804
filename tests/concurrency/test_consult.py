"""REC2, SEC3: the public consultation form under parallel requests.

Each thread posts to `/p/<slug>/consult/` with a client of its own, all released together, as
a busy or hostile browser would: many consultations from one address must stop at the hourly
limit, one form's one-time token sent several times at once must make exactly one
consultation, and decompression bombs sent side by side must be refused without the worker's
memory growing with the pixels they declare."""

from __future__ import annotations

from tests.concurrency.harness import concurrently, new_world, run_scenario

LIMIT = 5
FROM_ONE_ADDRESS = 16
SAME_TOKEN = 6
BOMBS = 3
# What three refused bombs may add to the worker's peak resident memory. Parsing a 260 KB body
# and reading a PNG header costs a few MB; decoding one 9459 x 9459 image costs over 1 GB.
RSS_GROWTH_BOUND_MB = 64
# Python-level allocations (tracemalloc) while the bombs are handled, bodies included.
HEAP_PEAK_BOUND_MB = 16

LIMIT_MESSAGE = "Too many consultations were sent from this connection"
RECEIVED = 'data-testid="received"'
ALREADY_RECEIVED = 'data-testid="already-received"'


def _consult_url(world) -> str:
    from django.urls import reverse

    return reverse("intake:consult", kwargs={"practice_slug": world.practice.slug})


def _stored(world) -> int:
    from confide.core.tenancy import tenant_context
    from confide.records.models import IntakeSubmission

    with tenant_context(practice_id=world.practice.id):
        return IntakeSubmission.objects.count()


def _kind(response) -> str:
    body = response.content.decode()
    if response.status_code == 429 and LIMIT_MESSAGE in body:
        return "limited"
    if response.status_code == 200 and ALREADY_RECEIVED in body:
        return "already-received"
    if response.status_code == 200 and RECEIVED in body:
        return "received"
    return f"{response.status_code}"


def scenario_many_consultations_from_one_address(params):
    from django.test import Client

    from tests.records.consultations import form_data

    world = new_world("consult-rate")
    url = _consult_url(world)
    forms = [form_data(world.practice) for _ in range(params["n"])]  # a fresh token each, one address (127.0.0.1)

    outcomes = concurrently(params["n"], lambda i: _kind(Client().post(url, forms[i])))
    return {"kinds": sorted(str(o.value) for o in outcomes), "errors": [o.error for o in outcomes if not o.ok], "stored": _stored(world)}


def test_rec2_sixteen_parallel_consultations_from_one_address_store_the_limit_and_no_more(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_many_consultations_from_one_address, n=FROM_ONE_ADDRESS,
                          env={"CONFIDE_CONSULT_PER_HOUR": str(LIMIT)})  # fmt: skip
    assert result["errors"] == []
    assert result["stored"] == LIMIT  # never more; and no attempt within the limit was turned away
    assert result["kinds"] == sorted(["received"] * LIMIT + ["limited"] * (FROM_ONE_ADDRESS - LIMIT)), result["kinds"]


def scenario_one_token_sent_at_once(params):
    from django.test import Client

    from tests.records.consultations import form_data

    world = new_world("consult-token")
    url = _consult_url(world)
    data = form_data(world.practice)  # one form, one token: a double (or sextuple) click

    outcomes = concurrently(params["n"], lambda i: _kind(Client().post(url, data)))
    return {"kinds": sorted(str(o.value) for o in outcomes), "errors": [o.error for o in outcomes if not o.ok], "stored": _stored(world)}


def test_rec2_one_token_posted_six_times_at_once_makes_exactly_one_consultation(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_one_token_sent_at_once, n=SAME_TOKEN, env={"CONFIDE_CONSULT_PER_HOUR": "100"})
    assert result["errors"] == []
    assert result["stored"] == 1
    assert result["kinds"] == sorted(["received"] + ["already-received"] * (SAME_TOKEN - 1)), result["kinds"]


def scenario_decompression_bombs_at_once(params):
    import resource
    import tracemalloc

    from django.test import Client

    from tests.records.consultations import form_data
    from tests.records.uploads import png_bomb_upload, png_upload

    world = new_world("consult-bomb")
    url = _consult_url(world)
    # Warm up: every module and code path of a consultation with a photo loaded before measuring.
    warm = Client().post(url, {**form_data(world.practice), "q_photo": png_upload()})
    assert _kind(warm) == "received", warm.content.decode()[-2000:]
    bodies = [{**form_data(world.practice), "q_photo": png_bomb_upload()} for _ in range(params["n"])]

    _reset_peak_rss()
    before_kb = _status_kb("VmRSS")
    tracemalloc.start()
    outcomes = concurrently(params["n"], lambda i: _bomb_outcome(Client().post(url, bodies[i])))
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_kb = _status_kb("VmHWM")
    # getrusage's ru_maxrss would also report peaks from before the reset: the kernel folds in
    # the address space this process had before exec (the forked parent, pytest, often bigger
    # than this child) and that of any thread that exited. Shown for comparison only.
    rusage_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "outcomes": [o.value for o in outcomes],
        "errors": [o.error for o in outcomes if not o.ok],
        "stored": _stored(world),
        "rss_growth_mb": (peak_kb - before_kb) / 1024,
        "heap_peak_mb": heap_peak / (1024 * 1024),
        "rusage_maxrss_over_before_mb": (rusage_peak_kb - before_kb) / 1024,
    }


def _bomb_outcome(response) -> list:
    body = response.content.decode()
    return [response.status_code, "9459 × 9459 pixels" in body and "megapixels" in body]


def _reset_peak_rss() -> None:
    """Linux: make this process's peak resident size (VmHWM) its current size, so the peak read
    afterwards is what the bombs added."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def test_rec2_three_decompression_bombs_at_once_are_refused_with_bounded_memory(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_decompression_bombs_at_once, n=BOMBS, env={"CONFIDE_CONSULT_PER_HOUR": "100"})
    assert result["errors"] == []
    assert result["outcomes"] == [[400, True]] * BOMBS  # refused, naming the image's size and the limit
    assert result["stored"] == 1  # the warm-up consultation only
    assert result["rss_growth_mb"] < RSS_GROWTH_BOUND_MB, result
    assert result["heap_peak_mb"] < HEAP_PEAK_BOUND_MB, result


REVIEWERS = 4


def scenario_reviewers_reject_one_consultation_with_a_message_at_once(params):
    from django.core import mail
    from django.urls import reverse
    from django.utils import timezone

    from confide.audit.events import AuditEvent
    from confide.audit.models import AuditEntry
    from confide.core.actors import StaffActor
    from confide.core.permissions import Role
    from confide.core.tenancy import tenant_context
    from confide.policy.services import do_publish_policy
    from tests.concurrency.harness import signed_in_client
    from tests.records.consultations import submit

    world = new_world("consult-reject")
    with tenant_context(practice_id=world.practice.id):
        do_publish_policy(actor=StaffActor.from_membership(world.memberships[Role.PRIVACY_OFFICER]),
                          override_toml='[[processors]]\nid = "email"\nbaa_on_file = true\n', effective_at=timezone.now(),
                          material=False, summary="E-mail provider's agreement on file.")  # fmt: skip
    submission = submit(world.practice)
    reviewers = [Role.CLINICIAN, Role.OWNER] * (params["n"] // 2)
    clients = [signed_in_client(world.users[role], world.practice) for role in reviewers]
    url = reverse("intake:reject", kwargs={"submission_id": submission.pk})
    mail.outbox = []

    outcomes = concurrently(params["n"], lambda i: clients[i].post(url, {"message": "fixed"}).status_code)
    with tenant_context(practice_id=world.practice.id):
        from confide.records.models import IntakeSubmission

        left = IntakeSubmission.objects.filter(pk=submission.pk).count()
    return {
        "statuses": sorted(o.value for o in outcomes if o.ok), "errors": [o.error for o in outcomes if not o.ok], "left": left,
        "mails": len(mail.outbox), "rejected": AuditEntry.objects.filter(event=AuditEvent.INTAKE_REJECTED, subject_id=submission.pk).count(),
    }  # fmt: skip


def test_rec2_reviewers_rejecting_one_consultation_at_once_reject_it_once_and_send_one_message(tmp_path, concurrency_db):
    result = run_scenario(tmp_path, scenario_reviewers_reject_one_consultation_with_a_message_at_once, n=REVIEWERS)
    assert result["errors"] == []
    # The first rejects it; each other is told it was reviewed already (302 to the queue) or, arriving
    # after it was erased, that it is not there (404): never a 500, never a second message.
    assert len(result["statuses"]) == REVIEWERS and set(result["statuses"]) <= {302, 404}, result
    assert (result["left"], result["rejected"], result["mails"]) == (0, 1, 1), result
