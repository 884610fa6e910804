"""The providers behind small ports (ARCHITECTURE: real SDKs behind ports, local adapters by
default). `sms_adapter()` answers the configured SMS adapter (CONFIDE_SMS_ADAPTER: `console`,
the default, or `twilio`); `email_adapter()` the e-mail one (Django's configured backend).

Every adapter stands in for a declared processor on the egress gate (`processor_id`): the console
adapter is checked as the `sms` processor exactly as Twilio would be, so a declaration that does
not allow texts stops the demo's texts too.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from confide.messaging.adapters.base import OutboundEmail, OutboundSMS, ProviderError, SendResult

__all__ = ["OutboundEmail", "OutboundSMS", "ProviderError", "SendResult", "email_adapter", "sms_adapter"]

SMS_ADAPTERS = {
    "console": "confide.messaging.adapters.console.ConsoleSMSAdapter",
    "twilio": "confide.messaging.adapters.twilio.TwilioSMSAdapter",
}
EMAIL_ADAPTER = "confide.messaging.adapters.email.DjangoEmailAdapter"


def sms_adapter():
    """The configured SMS adapter: a name from SMS_ADAPTERS, or (tests) a dotted path."""
    name = getattr(settings, "CONFIDE_SMS_ADAPTER", "console")
    return import_string(SMS_ADAPTERS.get(name, name))()


def email_adapter():
    return import_string(getattr(settings, "CONFIDE_EMAIL_ADAPTER", EMAIL_ADAPTER))()
