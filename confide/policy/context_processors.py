"""`notice_banners` for base.html: the material changes the signed-in staff member has not yet
said they have read (confide/policy/acknowledgements.py). Lazy, so a page that never renders
the banner (a redirect, a file) costs no query."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject


def notice_banners(request) -> dict:
    actor = getattr(request, "actor", None)
    user = getattr(request, "user", None)
    if actor is None or user is None or not user.is_authenticated:
        return {"notice_banners": ()}
    from confide.accounts import services as account_services
    from confide.policy import acknowledgements

    def load():
        # Only once the sign-in is complete (the second factor too, where there is one).
        if not user.is_verified() and account_services.mfa_step_pending(user, request.memberships) is not None:
            return []
        return acknowledgements.banners_for(actor=actor)

    return {"notice_banners": SimpleLazyObject(load)}
