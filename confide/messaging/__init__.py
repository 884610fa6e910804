"""Messaging: threads with patients over three channels (the portal, SMS, e-mail), the send gate
every outbound message passes, the providers behind small ports, inbound webhooks and keywords.

    services.send_message(actor, patient_id=…, channel=…, topic=…, body=…)   compose, gate, queue
    gate.check(…)                                                           the ordered checks
    tasks.deliver_message(message_id, practice_id)                          one claim, one provider call
    adapters.sms_adapter() / adapters.email_adapter()                       the configured ports

docs/architecture.md ("Messaging") has the whole design; PROMISES MSG1–MSG7, CON1, CON3, RET3,
TRK1, PRC1.
"""
