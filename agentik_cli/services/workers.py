"""What a forked worker process does first (the readers of `costs import --from`, the parsers of a
big `costs import FILE`): it leaves Ctrl-C, which the terminal sends to the whole foreground group,
to the command, which stops its workers (interrupted, each would print its traceback); and it ends
when the command does. A command killed outright (SIGTERM, kill -9) runs no clean-up, and its pool's
workers would wait on the pool's queue for good."""

from __future__ import annotations

import os
import signal
import threading
import time

# how often a worker looks whether its command still runs
WATCH_EVERY = 0.2


def started() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_EVERY)
        os._exit(0)  # the command is gone: nobody waits for what this worker would make

    threading.Thread(target=watch, name="agentik-worker-watch", daemon=True).start()
