"""Where every command an agent runs is run: the shell skill, command skills and MCP servers.

On Linux each runs inside bubblewrap (`bwrap`, Debian's `bubblewrap`): PID, IPC and UTS namespaces
of its own, and a network namespace of its own unless its skill's risk is `network`; the whole file
system read-only except the agent's folders and a private /tmp; agentik's data folder (keys, the
database, the chat history) not there at all, save the skills folder, read-only; no view of the
host's processes (its own /proc); killed as a whole when its time is up, on Ctrl-C and when agentik
exits (`--die-with-parent`: the namespace's first process dies, and the kernel kills everything
left in the namespace, `setsid` children too).

bwrap is started from the cleaned environment, not given `--clearenv`: its first process inside
keeps the environment bwrap was started with, readable at /proc/1/environ (library-notes).

Where no sandbox can run (no bwrap, not Linux, a container without the namespaces it needs) the
command runs as before, agentik says so once per command (a line on stderr), and two protections
hold anyway (`harden`): agentik's own process is not dumpable, so a command running as the same
user cannot read its /proc files (its environment, its memory); and it is a child subreaper, so a
command's orphaned descendants become agentik's children, to be killed when the tool ends
(`reap`). An agent can be run without the sandbox only by saying so (`agents update A --no-sandbox`),
and `agents show` and `skills show` say which protection applies."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

BWRAP = "bwrap"
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
# its own PID, IPC, UTS (and, where the kernel lets it, cgroup) namespaces; the network's is added
# unless the skill's risk is `network`
NAMESPACES = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]


@cache
def unavailable() -> str | None:
    """Why no sandbox can run here, or None when bubblewrap works (tried once a process: a
    container without user namespaces has bwrap but cannot use it)."""
    if not sys.platform.startswith("linux"):
        return f"no sandbox on {sys.platform} (bubblewrap is Linux only)"
    path = shutil.which(BWRAP)
    if path is None:
        return "bubblewrap is not installed (Debian and Ubuntu: apt install bubblewrap)"
    try:
        done = subprocess.run(
            # the namespaces `wrap` asks for, no more (a user namespace only where bwrap needs one)
            [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", *NAMESPACES, "--unshare-net", "true"],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot run here ({exc})"
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bubblewrap cannot run here ({reason[-1] if reason else f'exit code {done.returncode}'})"
    return None


def protection(sandboxed: bool) -> str:
    """What guards the commands of an agent, in words for `agents show` and `skills show`."""
    if not sandboxed:
        return "no sandbox (turned off for this agent): agentik not dumpable, leftover processes killed"
    reason = unavailable()
    if reason is None:
        return "bubblewrap sandbox (own PID, IPC, UTS and network namespaces; read-only files but its folders)"
    return f"no sandbox: {reason}; agentik not dumpable, leftover processes killed"


_warned = False


def warn_once() -> None:
    """The one line per command that says commands run without a sandbox."""
    global _warned
    reason = unavailable()
    if _warned or reason is None:
        return
    _warned = True
    sys.stderr.write(f"agentik: warning: commands run without a sandbox: {reason}\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class Confinement:
    """How one command is run: in the sandbox or not, what it may write, whether it has a network."""

    sandboxed: bool
    writable: tuple[Path, ...]
    network: bool

    def argv(self, argv: list[str], cwd: Path) -> list[str]:
        if not self.sandboxed:
            return argv
        return wrap(argv, cwd=cwd, writable=list(self.writable), network=self.network)


def confinement(context: Any, risk: str) -> Confinement:
    """The confinement of a command an agent's skill of this risk runs: the agent's folders (else
    its workspace) writable; the network for `network` skills only. Says once per command when the
    agent wants the sandbox and none can run."""
    rules = context.rules
    if rules.sandbox and unavailable() is not None:
        warn_once()
    folders = tuple(Path(folder) for folder in rules.allow_dirs) or (Path(context.workspace),)
    return Confinement(rules.sandbox and unavailable() is None, folders, risk == "network")


def wrap(argv: list[str], *, cwd: Path, writable: list[Path], network: bool) -> list[str]:
    """`argv` as bwrap runs it: read-only everywhere but `writable` and a private /tmp; agentik's
    data folder hidden (its skills folder kept, read-only); the network only with `network`."""
    from agentik_cli import paths

    path = shutil.which(BWRAP) or BWRAP
    words = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    data = paths.data_dir()
    if data.is_dir():
        words += ["--tmpfs", str(data)]
        skills = data / "skills"
        if skills.is_dir():
            words += ["--ro-bind", str(skills), str(skills)]
    words += _named_under_tmp(argv, data)  # before the writable folders, which it must not cover
    for folder in writable:
        if folder.is_dir():
            words += ["--bind", str(folder), str(folder)]
    words += NAMESPACES
    if not network:
        words.append("--unshare-net")
    words += ["--die-with-parent", "--new-session", "--chdir", str(cwd), "--", *argv]
    return words


def _named_under_tmp(argv: list[str], data: Path) -> list[str]:
    """The private /tmp hides the host's: what the command names that lives there (its program, a
    virtualenv made under /tmp, a script it is given, a CI checkout) is bound back, read-only, with
    its folder (a virtualenv's whole root, which its interpreter reads at start; a script's, for
    what it imports beside it). Never agentik's data folder, nor a folder holding it."""
    roots: list[Path] = []
    found = shutil.which(argv[0])
    if found is not None:
        path = Path(os.path.abspath(found))  # not resolved: a virtualenv's python is a link out of it
        roots.append(path.parent.parent if path.parent.name == "bin" else path.parent)
    for word in argv[1:]:
        if word.startswith("/tmp/") and os.path.exists(word):
            path = Path(os.path.abspath(word))
            roots.append(path if path.is_dir() else path.parent)
    words: list[str] = []
    for root in dict.fromkeys(roots):
        hides_data = root == data or root in data.parents or data in root.parents
        if root.parts[:2] == ("/", "tmp") and root != Path("/tmp") and not hides_data:
            words += ["--ro-bind", str(root), str(root)]
    return words


def harden() -> None:
    """What holds with or without the sandbox, set once before the first tool runs: agentik is not
    dumpable (its /proc files are root's, so no command of the same user reads its environment),
    and orphans of its tools become its children (to be reaped)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: neither exists
        pass


def children() -> set[int]:
    """The pids of agentik's own children, from /proc (empty where there is none)."""
    me = str(os.getpid())
    found: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode("utf-8", "replace")
        except OSError:
            continue
        # the command name may hold spaces and parentheses: the fields after its last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == me:
            found.add(int(entry))
    return found


def reap(before: set[int]) -> None:
    """Kill every child of agentik that was not there before the tool ran: what a tool left
    behind (a `setsid` child, a daemon) and that the subreaper made ours. Their own children become
    ours in turn, so a few rounds empty the tree."""
    for _ in range(20):
        left = children() - before
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in left:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
