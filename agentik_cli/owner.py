"""Which process holds something: a budget's reservation names the host, the process id and the
process's start time, so that one process that is gone can be told from another that took its id
since. On Linux the start time is the kernel's (the boot's id and the process's start in clock
ticks, from /proc); elsewhere there is none, and a process id that exists is taken as alive.

Another host's processes cannot be looked at: a reservation of theirs carries a heartbeat instead,
which the process renews while its call lasts (services/journal.py)."""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: str  # "" where the platform does not say


@functools.cache
def me() -> Owner:
    return Owner(socket.gethostname(), os.getpid(), start_time(os.getpid()) or "")


def seen_from_here(host: str, started: str) -> bool:
    """Whether a process named so can be looked at from this process: on this host, and (Linux) in
    this process's pid namespace on this boot. A container of this host with the same host name
    (host networking) has processes of its own that /proc here does not show: those are another
    host's, whose heartbeat tells."""
    mine = me()
    return host == mine.host and started.startswith(local_prefix())


def local_prefix() -> str:
    """What the start time of every process seen from here begins with (see start_time)."""
    started = me().started
    return started[: started.rfind("/") + 1] if started else ""


@functools.cache
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as file:
            return file.read().strip()
    except OSError:
        return ""


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command's name (which may hold spaces and
    parentheses): [state, ppid, ...]; None when there is no such process, or no /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2 :].decode("ascii", "replace").split()


@functools.cache
def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        return ""


def start_time(pid: int) -> str | None:
    """The process's start, as the kernel counts it since this boot, after this process's pid
    namespace and the boot's id ("NAMESPACE/BOOT/TICKS"); None when the process does not exist or
    the platform has no /proc."""
    fields = _stat(pid)
    if fields is None or len(fields) < 20:
        return None
    # field 22 of stat: starttime, in clock ticks since boot
    return f"{_pid_namespace()}/{_boot_id()}/{fields[19]}"


def alive(pid: int, started: str) -> bool:
    """Whether the process that took this id at this start time still runs on this host (a zombie,
    killed and not yet waited for, is gone)."""
    if pid <= 0:
        return False
    if os.path.isdir("/proc/self"):
        fields = _stat(pid)
        if fields is None or fields[0] in ("Z", "X"):
            return False
        return not started or start_time(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True
