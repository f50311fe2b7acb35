"""Named crash points of the send path, for the fault-injection tests and bench.

`FOLLOWUP_CRASH_AT=<point>` makes the process kill itself (SIGKILL, as `kill -9` would: no
cleanup, no flush, no `finally`) the first time it reaches that point. Read here and nowhere
else; unset (always, in normal use) it costs one dictionary lookup per point.

The points, in the order a message passes them:
  approved        the approval and its outbox row are committed
  claimed         a worker committed its claim on the row
  handed          the worker committed that it is handing the row to the mailbox
  submitted       SMTP answered 250, before the copy is filed in the Sent folder
  acknowledged    the mailbox's send returned, before "sent" is recorded
  recorded        "sent" is committed (draft, row and touch together)
"""

from __future__ import annotations

import os
import signal

POINTS = ("approved", "claimed", "handed", "submitted", "acknowledged", "recorded")
ENV = "FOLLOWUP_CRASH_AT"


def crash_point(name: str) -> None:
    """Die here, at once and uncleanly, when FOLLOWUP_CRASH_AT names this point."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
