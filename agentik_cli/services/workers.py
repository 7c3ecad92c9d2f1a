"""What a forked worker process does first (the readers of `costs import --from`, the parsers of a
big `costs import FILE`): it leaves Ctrl-C, which the terminal sends to the whole foreground group,
to the command, which stops its workers (interrupted, each would print its traceback); and it ends
when the command does. A command killed outright (SIGTERM, kill -9) runs no clean-up, and its pool's
workers would wait on the pool's queue for good."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

Result = TypeVar("Result")

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


def can_fork() -> bool:
    """Whether work can go to forked workers: a core to spare for them, and fork on this system."""
    return (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods()


def in_order(
    call: Callable[..., Result],
    arguments: Iterable[tuple[Any, ...]],
    count: int,
    ahead: int,
    initializer: Callable[..., None] = started,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Result]:
    """`call(*each)` for each of `arguments`, by `count` forked workers (their initializer calls
    `started`), the results in the order given, at most `ahead` of them waiting. Stopped early (Ctrl-C,
    an error, the caller done), the work not begun is dropped, what is under way waited for, and no
    worker outlives it."""
    pool = ProcessPoolExecutor(
        count, mp_context=multiprocessing.get_context("fork"), initializer=initializer, initargs=initargs
    )
    try:
        waiting: deque[Future[Result]] = deque()
        for each in arguments:
            waiting.append(pool.submit(call, *each))
            if len(waiting) > ahead:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
