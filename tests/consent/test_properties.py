"""CON2, as properties: whatever sequence of choices and signals is made, in whatever order and
at whatever times, the projection table equals the fold of the events, the state on any date
equals a replay of the choices made until then, and exactly the impossible choices (withdrawing
what is not granted, declining what is) are refused, writing nothing.

Each example gets fresh visitor ids, so the examples of one test (which share its transaction)
do not see each other's events.
"""

from __future__ import annotations

import datetime
import secrets

import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confide.consent import services
from confide.consent.actors import VisitorActor
from confide.consent.models import ConsentState
from confide.consent.services import Subject
from confide.consent.state import as_row, fold
from confide.consent.topics import Action, Method, Topic
from confide.core.errors import InvalidInput
from confide.core.tenancy import tenant_context
from tests.consent.conftest import events

SETTINGS = {
    "deadline": None,
    "database": None,  # no .hypothesis/ directory in the working tree
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "max_examples": 40,
}
VISITOR_TOPICS = [Topic.ANALYTICS_COOKIES, Topic.SALE_SHARE_OPT_OUT, Topic.PROFILING_OPT_OUT]

choice = st.tuples(
    st.integers(min_value=0, max_value=1),  # which visitor
    st.sampled_from(VISITOR_TOPICS),
    st.sampled_from([Action.GRANT, Action.WITHDRAW, Action.DECLINE, "signal"]),
    st.integers(min_value=0, max_value=3 * 86400),  # seconds since the previous choice
)


@settings(**SETTINGS)
@given(st.lists(choice, min_size=1, max_size=14))
def test_con2_the_projection_always_equals_the_fold_of_the_events(world, steps):
    practice = world.a.practice
    visitors = [secrets.token_urlsafe(16) for _ in range(2)]
    replay: dict[tuple[str, Topic], list[tuple[datetime.datetime, bool]]] = {}
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, tzinfo=datetime.UTC), tick=False) as clock:
        for who, topic, action, wait in steps:
            clock.shift(datetime.timedelta(seconds=wait, microseconds=1))
            visitor = visitors[who]
            actor, subject = VisitorActor(practice.id, visitor), Subject.visitor(practice.id, visitor)
            history = replay.setdefault((visitor, topic), [])
            granted = bool(history and history[-1][1])
            if action == "signal":  # a browser signal that overrides whatever was chosen
                overrides = services.state(subject, topic).last_event_id
                signal_action = Action.WITHDRAW if granted else Action.DECLINE
                services.record_signal(actor=actor, topic=topic, action=signal_action, method=Method.GPC_HEADER,
                                       shown_text="Sec-GPC: 1", overrides_event_id=overrides if granted else None)  # fmt: skip
                history.append((datetime.datetime.now(datetime.UTC), False))
                continue
            impossible = (action == Action.WITHDRAW and not granted) or (action == Action.DECLINE and granted)
            before = len(events(practice))
            try:
                services.do_choose(action=action, actor=actor, subject=subject, topic=topic, channel="web", method="form_button", shown_text="a choice")
            except InvalidInput:
                assert impossible, (action, granted)
                assert len(events(practice)) == before  # refused: nothing written
                continue
            assert not impossible, (action, granted)
            history.append((datetime.datetime.now(datetime.UTC), action == Action.GRANT))

    with tenant_context(practice_id=practice.id):
        for visitor in visitors:
            subject = Subject.visitor(practice.id, visitor)
            rows = {row.topic: row for row in ConsentState.objects.filter(subject_id=visitor)}
            for topic in VISITOR_TOPICS:
                mine = [e for e in events(practice, subject_id=visitor, topic=topic.value)]
                if not mine:
                    assert topic.value not in rows
                    continue
                expected = as_row(fold(topic, mine))
                assert {name: getattr(rows[topic.value], name) for name in expected} == expected
                # The state on the date of each choice, and just before it, is the replay's.
                for at, granted_then in replay[(visitor, topic)]:
                    assert services.state(subject, topic, at=at).granted is granted_then
                    earlier = [g for t, g in replay[(visitor, topic)] if t < at]
                    assert services.state(subject, topic, at=at - datetime.timedelta(microseconds=1)).granted is bool(earlier and earlier[-1])
