"""Usage statistics: first-party, de-identified, and only with consent (TRK2, AI3 for analytics).

The practice's pages load `static/confide/analytics.js` only for a visitor who allowed usage
statistics and sends no GPC/DNT signal (`PrivacySignals.analytics_allowed`). The script posts
one beacon per page view to `POST /p/<slug>/a/collect`, same-origin, with the CSRF token from a
`<meta>` tag, carrying only the page's route name (`policy:notice`): never its path (which may
hold ids), its query string, a visitor id, the referrer or the time. The server checks the
consent again, then adds one to the count of (practice, route, day). No IP address, user agent
or visitor id is stored with a count.

The adapter is the declaration's processor `analytics` (first party, purpose analytics, category
`technical.usage`): nothing leaves the server, so the egress gate's audit entry per flow would
only add a row per page view; instead `analytics_declared` asserts the declaration allows it,
and a practice that sets `in_use = false` gets no banner, no script and no counting.
"""

from __future__ import annotations

from typing import Protocol

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from confide.core.purposes import Purpose
from confide.consent.models import UsageCount
from confide.core.errors import Forbidden, InvalidInput

PROCESSOR = "analytics"
CATEGORY = "technical.usage"
BEACON_FIELDS = frozenset({"route"})
FORM = "application/x-www-form-urlencoded"


def countable_routes() -> frozenset[str]:
    """The route names a beacon may name: the public pages of a practice that answer GET, except
    the online consultation, where people type health information: no statistics there at all,
    even counted anonymously (HHS's guidance on tracking technologies draws the same line)."""
    from confide.core.routes import ROUTE_POLICY, Audience

    return frozenset(
        name
        for name, p in ROUTE_POLICY.items()
        if p.audience is Audience.PUBLIC and p.tenant_scoped and "GET" in p.methods and name not in NOT_COUNTED
    )


# The unsubscribe page (messaging, RFC 8058) is reached from a patient's own e-mail link, not a
# public page of the practice: no statistics on who opens it.
# The website's stylesheet and images are not pages; a referred colleague's decline link is, like
# the unsubscribe page, reached from their own e-mail (directory part). A clinician's private
# calendar feed is fetched by their calendar application, not visited. The booking page, like the
# consultation form, is where a visitor says they seek care: never counted, consent or not.
# A records release link (amend part) is a patient's record shown to its recipient: never counted.
NOT_COUNTED = frozenset({"intake:consult", "directory:book", "messaging:unsubscribe",
                         "directory:theme", "directory:logo", "directory:photo", "directory:referral-decline",
                         "scheduling:feed-ics",
                         # part "intake": a privacy request says what someone wants done with their health information
                         "rights:public-request", "rights:public-verify",
                         "rights:release-open"})  # amend part: a records release link, opened by its recipient


def analytics_declared(declaration) -> bool:
    """The declaration in force has the first-party analytics processor, in use, for analytics
    of usage data only. Anything else: no banner, no script, nothing counted."""
    processor = declaration.processor(PROCESSOR)
    return (
        processor is not None
        and processor.in_use
        and processor.role == "first_party"
        and Purpose.ANALYTICS.value in processor.purposes
        and CATEGORY in declaration.expand(processor.categories)
    )


def parse_beacon(*, content_type: str, query_string: str, data) -> str:
    """The route name a beacon carries, or InvalidInput: a form body with exactly `route`, no
    query string, and a route name of a public practice page."""
    if query_string:
        raise InvalidInput("A usage beacon carries no query string.")
    if content_type != FORM:
        raise InvalidInput("A usage beacon is a form post (application/x-www-form-urlencoded).")
    keys = set(data.keys()) - {"csrfmiddlewaretoken"}
    if keys != BEACON_FIELDS or len(data.getlist("route")) != 1:
        raise InvalidInput("A usage beacon carries exactly one field, route, and nothing else.")
    route = data.get("route", "")
    if route not in countable_routes():
        raise InvalidInput("A usage beacon names a public page of the practice by its route name.")
    return route


class UsageCounter(Protocol):
    """The analytics port: count one view of `route` today for a practice."""

    def count(self, practice_id, route: str) -> None: ...


class FirstPartyCounter:
    """The default adapter: a row per (practice, route, day) in this database."""

    def count(self, practice_id, route: str) -> None:
        day = timezone.now().date()
        with transaction.atomic():
            updated = UsageCount.objects.filter(day=day, route=route).update(count=F("count") + 1)
            if not updated:
                try:
                    with transaction.atomic():
                        UsageCount.objects.create(practice_id=practice_id, day=day, route=route, count=1)
                except IntegrityError:  # the day's row was made concurrently
                    UsageCount.objects.filter(day=day, route=route).update(count=F("count") + 1)


COUNTER: UsageCounter = FirstPartyCounter()


def do_count_view(*, practice_id, route: str, signals) -> bool:
    """Count one page view if the visitor's consent (and the declaration) allow it: True if
    counted; False when the practice does not count visits; Forbidden without consent."""
    if not signals.analytics_in_use:
        return False
    if not signals.analytics_allowed:
        raise Forbidden("usage statistics are not allowed for this visitor")
    COUNTER.count(practice_id, route)
    return True


def counts(practice_id) -> list[tuple]:
    """(day, route, count), oldest first: what a practice's statistics page will show."""
    from confide.core.tenancy import tenant_context

    with tenant_context(practice_id=practice_id):
        return list(UsageCount.objects.order_by("day", "route").values_list("day", "route", "count"))
