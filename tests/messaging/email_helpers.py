"""The e-mail test world: practice A with the e-mail processor declared in use with a BAA and
allowed to carry messages, a patient with an address, and a real SMTP server on loopback
(aiosmtpd) for the SMTP path.

    ew = email_world(world.a, consents=("marketing_email",))
    with smtp_server() as smtp, smtp_settings(smtp):
        deliver_now(message)
    smtp.messages[0]["Subject"]
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
from dataclasses import dataclass, field

from django.test import override_settings

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from tests.consent.helpers import by_phone
from tests.messaging.conftest import declare_processors
from tests.portal_world import create_patient

EMAIL_DECLARED = """[[processors]]
id = "sms"
baa_on_file = true
in_use = true

[[processors]]
id = "email"
baa_on_file = true
in_use = true
categories = ["contact.email", "identifiers.name", "scheduling.appointments", "communications.messages"]
"""


@dataclass
class EmailWorld:
    pw: object
    patient: object
    front_desk: StaffActor
    owner: StaffActor

    @property
    def practice_id(self):
        return self.pw.practice.id


def email_world(pw, *, consents=(), **patient_fields) -> EmailWorld:
    declare_processors(pw, EMAIL_DECLARED)
    patient = create_patient(pw, **patient_fields)
    for topic in consents:
        by_phone(pw, patient.id, topic)
    return EmailWorld(pw=pw, patient=patient, front_desk=StaffActor.from_membership(pw.memberships[Role.FRONT_DESK]),
                      owner=StaffActor.from_membership(pw.memberships[Role.OWNER]))  # fmt: skip


def add_patient(ew: EmailWorld, *, consents=(), **fields):
    patient = create_patient(ew.pw, **fields)
    for topic in consents:
        by_phone(ew.pw, patient.id, topic)
    return patient


@dataclass
class Recorder:
    """An aiosmtpd handler: keeps what it accepts; answers RCPT or DATA with a set reply."""

    envelopes: list = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list:
        return [email.message_from_bytes(e.original_content or e.content, policy=email.policy.default) for e in self.envelopes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def smtp_server():
    from aiosmtpd.controller import Controller

    import logging

    # aiosmtpd logs every envelope's addresses at INFO: kept out of the test logs (canaries).
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()


def smtp_settings(server=None, *, port: int | None = None):
    return override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                             EMAIL_PORT=port or server.port, EMAIL_USE_TLS=False, EMAIL_USE_SSL=False, EMAIL_TIMEOUT=5,
                             EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="")  # fmt: skip
