"""An SMS adapter for the crash tests, configured by dotted path in a real worker process
(CONFIDE_SMS_ADAPTER=tests.messaging.crash_adapter.KillAfterSendAdapter): the console send, then
the process kills itself with SIGKILL — after the provider call, before the status write — the
first time only (a marker file remembers), so the restarted worker runs normally."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from confide.messaging.adapters.console import ConsoleSMSAdapter

MARKER_ENV = "CONFIDE_TEST_KILL_MARKER"


class KillAfterSendAdapter(ConsoleSMSAdapter):
    def send(self, sms):
        result = super().send(sms)  # the outbox row commits on its own, like a provider's accept
        marker = Path(os.environ[MARKER_ENV])
        if not marker.exists():
            marker.write_text(str(sms.message_id))
            os.kill(os.getpid(), signal.SIGKILL)
        return result
