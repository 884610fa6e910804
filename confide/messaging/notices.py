"""The new-message notice (MSG6): when the practice writes in the portal, the patient is told by
the channels they chose for "new secure messages" (NotificationPreference; no choice recorded:
e-mail only). The notice is its own message, topic `notification`, sent by the messaging job
through the whole gate (consent, opt-out, quiet hours, egress): it says only that a message
waits, never what it says, and the gate's content step keeps it so.
"""

from __future__ import annotations

from confide.access.door import MESSAGING_SEND_JOB
from confide.core.models import Practice
from confide.messaging.models import Channel, NotificationPreference, NotificationTopic, Status, Topic

# No preference recorded: e-mail (the model's defaults: portal and e-mail on, texts off).
DEFAULT_CHANNELS = (Channel.EMAIL,)


def notice_channels(practice_id, patient_id) -> tuple[Channel, ...]:
    row = NotificationPreference.objects.filter(practice_id=practice_id, patient_id=patient_id, topic=NotificationTopic.NEW_MESSAGES).first()
    if row is None:
        return DEFAULT_CHANNELS
    return tuple(c for c in (Channel.SMS, Channel.EMAIL) if getattr(row, c.value))


def notify_new_message(practice_id, patient_id, *, request=None) -> list[str]:
    """Queue the notice by each chosen channel; answers the channels it was not refused on
    ("e-mail", "text message"), for the page to say how the patient will be told."""
    from confide.messaging.services import send_message
    from confide.messaging.tasks import notice_text

    practice = Practice.objects.get(pk=practice_id)
    job = MESSAGING_SEND_JOB.for_practice(practice_id)
    told = []
    for channel in notice_channels(practice_id, patient_id):
        message = send_message(job, patient_id=patient_id, channel=channel, topic=Topic.NOTIFICATION,
                               body=notice_text(practice.name, channel), request=request)  # fmt: skip
        if message.status != Status.REFUSED:
            told.append(Channel(channel).label.lower())
    return told
