"""The consent ledger, browser privacy signals (GPC, DNT) and cookie preferences (CON1-CON3,
TRK1-TRK3, RTS5; ARCHITECTURE rule 7).

Consent is a ledger: each grant, withdrawal or refusal is an appended `ConsentEvent` with its
evidence; the current state is derived from the events (`state.fold`), and the `ConsentState`
table only caches that fold. Modules:

* `topics.py`: what a consent is about (the `Topic` enum and its purpose), subjects, actions,
  channels and methods;
* `state.py`: the fold of events into a state, pure;
* `services.py`: `do_grant`, `do_withdraw`, `do_decline`, `state`, `has_consent`,
  `missing_consent` (the chart door asks it), `rebuild_projection`;
* `signals.py` + `middleware.py`: Sec-GPC and DNT on every public practice page, the visitor
  cookie, the conflict with an older opt-in, `request.privacy_signals`;
* `analytics.py`: the first-party, de-identified usage counter behind the cookie banner;
* `views.py`: the banner's form target, the choices page, "Do Not Sell or Share", "Limit the
  use of my sensitive personal information" (and profiling), the analytics beacon.
"""
