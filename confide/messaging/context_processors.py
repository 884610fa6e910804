"""`inbox_unread` (staff navigation: conversations with unread messages from patients) and
`portal_unread` (the portal's Messages tab: the practice's messages the patient has not read).
Lazy: a page that never shows the number costs no query. `outbox_in_nav`: the staff navigation
links the Outbox while texts go to the console adapter (there is no outbox with Twilio)."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject


def unread_counts(request) -> dict:
    def staff():
        from confide.messaging.inbox import unread_total

        return unread_total(getattr(request, "actor", None))

    def patient():
        from confide.messaging.portal_thread import unread_for

        portal = getattr(request, "portal", None)
        return unread_for(getattr(portal, "actor", None)) if portal is not None else 0

    from confide.messaging.outbox import console_configured

    return {"inbox_unread": SimpleLazyObject(staff), "portal_unread": SimpleLazyObject(patient), "outbox_in_nav": console_configured()}
