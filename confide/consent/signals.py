"""Browser privacy signals, honoured on the server (TRK3), and the visitor cookie.

On every request to a public practice page (`/p/<slug>/…`) the middleware calls `honour`:

* `Sec-GPC: 1` (Global Privacy Control) asks us not to sell or share the visitor's information
  and not to track them: it opts them out of sale/share and of usage statistics.
  `DNT: 1` (Do Not Track) asks us not to track them: it opts them out of usage statistics.
  The fides-js lesson (docs/architecture.md): a script never sees the header; we do, on every
  request, before any page or script is sent.
* The first time a visitor's state disagrees with a live signal, the signal is recorded in the
  ledger (`consent:signal-recorded`): a sale/share opt-out, a declined (or, against an earlier
  grant, withdrawn) usage-statistics consent. Recording sets the visitor cookie: a random id,
  signed, HttpOnly, SameSite=Lax, first-party and limited to this practice's pages. A signal
  already recorded, or a state that already agrees, records nothing: never more than once per
  visitor per signal state.
* A live signal outranks an older explicit opt-in (CCPA's reading of GPC): the state follows
  the signal, the event is flagged `conflict` and names the choice it overrode, and the pages
  ask once ("Keep it off / Allow anyway"). A choice made after that, while the signal is
  live, is the visitor's informed answer and stands (`TopicState.chosen_after_signal`).
* A client without the cookie gets a new visitor id at most CONFIDE_CONSENT_NEW_VISITORS_PER_IP_HOUR
  times an hour per IP address (counted in the cache under a keyed hash of the address, never
  the address), so a cookie-less bot cannot flood the ledger. Beyond that the signal is still
  honoured for the request (nothing is tracked, nothing sold); it is only not recorded.

`request.privacy_signals` (a `PrivacySignals`) tells the templates what to show: the banner,
the conflict question, whether the analytics script may load.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from confide.consent import texts
from confide.consent.actors import VisitorActor
from confide.consent.state import TopicState
from confide.consent.topics import DNT_WANTS, GPC_WANTS, Action, Method, Topic
from confide.core.errors import ConfideError
from confide.core.http import client_ip

logger = logging.getLogger(__name__)

VISITOR_COOKIE = "confide_visitor"
VISITOR_COOKIE_DAYS = 365
_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def _salt(practice) -> str:
    # Per practice: a visitor id signed for one practice's pages is not accepted by another's.
    return f"confide.consent.visitor:{practice.id}"


def cookie_path(practice) -> str:
    return f"/p/{practice.slug}/"


def read_visitor_id(request, practice) -> str | None:
    value = request.get_signed_cookie(VISITOR_COOKIE, default=None, salt=_salt(practice), max_age=VISITOR_COOKIE_DAYS * 86400)
    return value if value and _VISITOR_ID.match(value) else None


def set_visitor_cookie(response, practice, visitor_id: str) -> None:
    response.set_signed_cookie(
        VISITOR_COOKIE,
        visitor_id,
        salt=_salt(practice),
        max_age=VISITOR_COOKIE_DAYS * 86400,
        path=cookie_path(practice),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def _may_allocate(practice_id, address: str) -> bool:
    """Count one more new visitor id for this address this hour; False beyond the cap."""
    hour = timezone.now().strftime("%Y%m%d%H")
    tag = hmac.new(settings.SECRET_KEY.encode(), f"{practice_id}|{address}|{hour}".encode(), hashlib.sha256).hexdigest()[:32]
    key = f"consent:new-visitors:{tag}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    return count <= settings.CONFIDE_CONSENT_NEW_VISITORS_PER_IP_HOUR


@dataclass(frozen=True)
class Question:
    """A choice offered on the page: the prompt and its buttons, each with the digest the form posts."""

    key: str
    topic: Topic
    prompt: str
    buttons: list[tuple[str, str, str]]  # (action, label, digest of the shown text)

    @classmethod
    def of(cls, key: str, actions) -> Question:
        buttons = [(a.value, texts.BUTTONS[(key, a)], texts.digest(key, a)) for a in actions]
        return cls(key, texts.PROMPT_TOPICS[key], texts.PROMPTS[key], buttons)


@dataclass
class PrivacySignals:
    practice: object
    gpc: bool = False
    dnt: bool = False
    visitor_id: str | None = None
    analytics_in_use: bool = False
    states: dict[Topic, TopicState] = field(default_factory=dict)
    new_visitor_id: str | None = None  # allocated on this request: the response sets the cookie
    capped: bool = False  # a new visitor id was needed and refused by the cap
    address: str = ""

    @property
    def live(self) -> bool:
        return self.gpc or self.dnt

    def state(self, topic: Topic) -> TopicState:
        return self.states.get(topic) or TopicState(topic)

    def ensure_visitor(self) -> str | None:
        """The visitor's id, allocating one (under the cap) when they have none yet."""
        if self.visitor_id is None:
            if not _may_allocate(self.practice.id, self.address):
                self.capped = True
                logger.info("new visitor id refused by the cap", extra={"event": "consent:visitor-cap"})
                return None
            self.visitor_id = self.new_visitor_id = secrets.token_urlsafe(16)
        return self.visitor_id

    def forget_new_visitor(self) -> None:
        """Nothing was recorded for the id allocated on this request: do not set its cookie."""
        if self.new_visitor_id:
            self.visitor_id = self.new_visitor_id = None

    # --- what the templates ask -------------------------------------------------------------
    @property
    def analytics_allowed(self) -> bool:
        """Load the analytics script: the practice counts visits, the visitor allowed it, and no
        live signal says otherwise (unless they allowed it after we asked about that signal)."""
        analytics = self.state(Topic.ANALYTICS_COOKIES)
        return self.analytics_in_use and analytics.granted and (not self.live or analytics.chosen_after_signal)

    @property
    def show_banner(self) -> bool:
        """Ask about usage statistics: only if the practice counts visits, only until answered,
        and never over a live signal (the signal is the answer; the choices page stays open)."""
        return self.analytics_in_use and not self.live and not self.state(Topic.ANALYTICS_COOKIES).answered

    @property
    def banner(self) -> Question:
        return Question.of("analytics", (Action.GRANT, Action.DECLINE))

    @property
    def conflicts(self) -> list[Question]:
        """The once-only questions: a live signal overrode an earlier choice and is unanswered."""
        out = []
        for topic, st in self.states.items():
            key = texts.CONFLICT_PROMPTS.get((topic, st.last_method))
            signal_live = self.gpc if st.last_method == Method.GPC_HEADER else self.dnt
            if st.conflict_pending and key and signal_live and (topic != Topic.ANALYTICS_COOKIES or self.analytics_in_use):
                keep, allow = (Action.GRANT, Action.WITHDRAW) if st.granted else (Action.DECLINE, Action.GRANT)
                out.append(Question.of(key, (keep, allow)))
        return sorted(out, key=lambda q: q.key)

    @property
    def opted_out_of_sale(self) -> bool:
        return self.gpc or self.state(Topic.SALE_SHARE_OPT_OUT).granted


def _plan(state: TopicState, want: bool) -> tuple[Action, object] | None:
    """(action, the event it overrides or None), or None when nothing needs recording."""
    if not state.answered:
        return (Action.GRANT if want else Action.DECLINE), None
    if state.last_is_signal or state.granted == want or state.chosen_after_signal:
        return None  # recorded already; already agrees; or the visitor chose after being asked
    return (Action.GRANT if want else Action.WITHDRAW), state.last_event_id


def honour(request, practice, *, record_allowed: bool = True) -> PrivacySignals:
    """Read the signals and the visitor cookie, record what the ledger lacks, and say what the
    page may do. Runs in the practice's tenant context."""
    from confide.consent.analytics import analytics_declared
    from confide.consent.services import Subject, current_states, record_signal
    from confide.policy.services import declaration_in_force

    signals = PrivacySignals(
        practice=practice,
        gpc=request.headers.get("Sec-GPC", "").strip() == "1",
        dnt=request.headers.get("DNT", "").strip() == "1",
        visitor_id=read_visitor_id(request, practice),
        analytics_in_use=analytics_declared(declaration_in_force(practice.id)),
        address=client_ip(request),
    )
    if signals.visitor_id:
        signals.states = current_states(Subject.visitor(practice.id, signals.visitor_id))
    if not signals.live or not record_allowed:
        return signals
    wants: dict[Topic, tuple[bool, Method]] = {}
    if signals.dnt:
        wants.update({topic: (want, Method.DNT_HEADER) for topic, want in DNT_WANTS.items()})
    if signals.gpc:  # GPC asks for everything DNT does, and more: it is the one recorded
        wants.update({topic: (want, Method.GPC_HEADER) for topic, want in GPC_WANTS.items()})
    plan = [(topic, method, step) for topic, (want, method) in sorted(wants.items()) if (step := _plan(signals.state(topic), want))]
    if not plan:
        return signals
    visitor_id = signals.ensure_visitor()
    if visitor_id is None:
        return signals  # capped: honoured for this request (analytics stay off), not recorded
    actor = VisitorActor(practice.id, visitor_id)
    try:
        with transaction.atomic():
            for topic, method, (action, overrides) in plan:
                record_signal(
                    actor=actor, topic=topic, action=action, method=method,
                    shown_text=texts.signal_text(method), overrides_event_id=overrides, request=request,
                )  # fmt: skip
    except ConfideError as exc:  # never fail the page over a record; the signal still applies to it
        logger.warning("browser signal not recorded", extra={"event": type(exc).__name__[:64]})
        signals.forget_new_visitor()
        return signals
    signals.states = current_states(Subject.visitor(practice.id, visitor_id))
    return signals
