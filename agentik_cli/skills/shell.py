"""The `shell` skill, and the runner every command skill shares.

A command runs only when one of the agent's --allow-command patterns matches it and none of its
--deny-command patterns does (deny wins), and then only once approved. It runs without a shell
(argv), so a pattern means what it says: shell operators are refused, not interpreted. It runs in
its own process group, which is killed on timeout, on Ctrl-C and when the command ends (nothing it
started is left running), with provider keys and tokens removed from its environment, no stdin,
and its output capped, keeping the head and the tail."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import Any

from agentik_cli.skills import sandbox
from agentik_cli.skills.base import MAX_OUTPUT, Builtin, Context, Outcome, Tool, one_text_tool
from agentik_cli.skills.sandbox import Confinement

TIMEOUT = 30.0
OPERATORS = re.compile(r"[;&|<>`\n\r]|\$\(|\$\{")
_CREDENTIAL_URL = re.compile(r"://[^/\s@]+@")  # a URL with a user (and password) in it: postgres://u:p@host


def clean_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without what may hold a credential: a variable named like one
    (skills/secrets.py: keys, tokens, passwords, the providers' and agentik's variables)
    or holding a URL with a user in it."""
    from agentik_cli.skills.secrets import is_secret_variable

    source = os.environ if environ is None else environ
    return {
        name: value
        for name, value in source.items()
        if not is_secret_variable(name) and not _CREDENTIAL_URL.search(value)
    }


def _words(pattern: str) -> list[str]:
    """A pattern's words; none (it matches nothing) when it cannot be split."""
    try:
        return shlex.split(pattern)
    except ValueError:
        return []


def _matches(words: list[str], pattern: str, *, prefix: bool) -> bool:
    """A pattern is a command's words; a last word ending in `*` matches any word it starts (and
    any words after it). `prefix`: the pattern's words need only begin the command (deny rules)."""
    wanted = _words(pattern)
    if not wanted:
        return False
    last = wanted[-1]
    if last.endswith("*"):
        head, stem = wanted[:-1], last[:-1]
        if words[: len(head)] != head:
            return False
        if not stem:  # "git *": git and any words after it
            return len(words) >= len(head)
        return len(words) > len(head) and words[len(head)].startswith(stem)
    if prefix:
        return words[: len(wanted)] == wanted
    return words == wanted


# Options that make a program run another program or write a file by themselves (`git -c
# alias.x='!cmd' x`, `git log --output=FILE`, `find -exec`): refused unless the --allow-command
# pattern that admits the command names the option. The sandbox is what holds; these keep a pattern
# such as "git log *" meaning what a person reads in it.
RISKY_OPTIONS: dict[str, tuple[str, ...]] = {
    "git": (
        "-c", "--config-env", "--exec-path", "--output", "--upload-pack", "--receive-pack", "--exec",
        "--extcmd", "--open-files-in-pager", "-O", "--git-dir", "--work-tree",
    ),
    "find": ("-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"),
    "sort": ("-o", "--output", "--compress-program"),
    "sed": ("-i", "--in-place"),
    "tar": ("--to-command", "--use-compress-program", "-I", "--checkpoint-action", "--info-script", "-F"),
    "rsync": ("-e", "--rsh", "--rsync-path"),
    "zip": ("-T", "-TT", "--unzip-command"),
    "ssh": ("-o", "-F"),
    "scp": ("-o", "-S", "-F"),
    "curl": ("-o", "--output", "-O", "--remote-name", "-K", "--config"),
    "wget": ("-O", "--output-document", "-o", "--output-file", "-e", "--execute"),
}  # fmt: skip
# the same for any program
RISKY_ANYWHERE = ("--output", "--output-file", "--exec", "--pager")


def _is_option(word: str, option: str) -> bool:
    if option.startswith("--"):
        return word == option or word.startswith(option + "=")
    if len(option) == 2:  # a short option, its value possibly glued on (-oFILE)
        return word.startswith(option)
    return word == option  # find's -exec


def _risky_option(words: list[str]) -> str | None:
    program = os.path.basename(words[0])
    options = RISKY_OPTIONS.get(program, ()) + RISKY_ANYWHERE
    for word in words[1:]:
        if word == "--":
            break
        for option in options:
            if word.startswith("-") and _is_option(word, option):
                return option
    return None


def _names(pattern: str, option: str) -> bool:
    return any(_is_option(word, option) or word == option + "*" for word in _words(pattern))


def _denied(words: list[str], pattern: str) -> bool:
    """A deny pattern matches a command holding its words in order, wherever options (and their
    values) stand among them and whatever runs it: "git push" refuses `git -C . push`, `git
    --no-pager push origin` and `env git push`. Broader than the words alone, as a refusal may be."""
    if _matches(words, pattern, prefix=True):
        return True
    wanted = _words(pattern)
    if not wanted:
        return False
    # the program by its name (/usr/bin/git is git), the words between as they are, a last word
    # ending in `*` as the start of one
    steps = [(wanted[0], "name"), *((want, "word") for want in wanted[1:-1])]
    if len(wanted) > 1:
        last = wanted[-1]
        steps.append((last[:-1], "stem") if last.endswith("*") else (last, "word"))
    rest = iter(words)  # each step finds its word after the one the step before found
    return all(any(_fits(word, want, how) for word in rest) for want, how in steps)


def _fits(word: str, want: str, how: str) -> bool:
    if how == "name":
        return os.path.basename(word) == want
    return word.startswith(want) if how == "stem" else word == want


def rule_refusal(command: str, allow: tuple[str, ...], deny: tuple[str, ...]) -> str | None:
    """Why the agent's rules refuse a command, or None when they allow it."""
    if OPERATORS.search(command):
        return "the command has shell operators (; & | < > ` $( ): shell runs one command, without a shell"
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return f"the command cannot be split into words: {exc}"
    if not words:
        return "the command is empty"
    for pattern in deny:
        if _denied(words, pattern):
            return f"refused by the agent's rule --deny-command {pattern!r}"
    if not allow:
        return "the agent has no --allow-command rule (agentik agents update NAME --allow-command 'git status')"
    matching = [pattern for pattern in allow if _matches(words, pattern, prefix=False)]
    if not matching:
        return "no --allow-command rule of the agent matches this command"
    risky = _risky_option(words)
    if risky is not None and not any(_names(pattern, risky) for pattern in matching):
        return (
            f"{risky} makes {os.path.basename(words[0])} run a program or write a file by itself: "
            "refused unless an --allow-command pattern names it"
        )
    return None


class _Capped:
    """Reads a pipe to its end, keeping at most `limit` bytes: the head and the tail."""

    def __init__(self, pipe: Any, limit: int) -> None:
        self.half = max(limit // 2, 1)
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe: Any) -> None:
        while chunk := pipe.read1(65536) if hasattr(pipe, "read1") else pipe.read(65536):
            self.total += len(chunk)
            room = self.half - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail.append(chunk)
                self.tail_size += len(chunk)
                while self.tail_size - len(self.tail[0]) >= self.half:
                    self.tail_size -= len(self.tail.popleft())

    def text(self) -> tuple[str, bool]:
        tail = b"".join(self.tail)[-self.half :] if self.tail else b""
        kept = len(self.head) + len(tail)
        if kept >= self.total:
            return (bytes(self.head) + tail).decode("utf-8", "replace"), False
        cut = self.total - kept
        middle = f"\n[... {cut:,} bytes cut ...]\n"
        return bytes(self.head).decode("utf-8", "replace") + middle + tail.decode("utf-8", "replace"), True


def _feed(pipe: Any, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_argv(
    argv: list[str],
    *,
    confinement: Confinement,
    stdin: bytes | None = None,
    cwd: Path | None = None,
    timeout: float = TIMEOUT,
    max_output: int = MAX_OUTPUT,
) -> Outcome:
    """Run a program (no shell) in a process group of its own, confined (skills/sandbox.py);
    its output (stdout and stderr together) capped. Non-zero exit: status "error". Ctrl-C kills the
    group, then goes on up. Whatever it left running is killed when it ends, sandbox or not."""
    sandbox.harden()
    before = sandbox.children()
    workdir = Path(cwd) if cwd is not None else Path.cwd()
    try:
        process = subprocess.Popen(
            confinement.argv(argv, workdir),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=clean_environment(),
            start_new_session=True,
        )
    except OSError as exc:
        return Outcome("error", error=f"cannot run {argv[0]}: {exc.strerror or exc}")
    reader = _Capped(process.stdout, max_output)
    status = "ok"
    try:
        if stdin is not None:  # fed from a thread: a program that never reads it still meets its timeout
            threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True).start()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status = "timeout"
    except BaseException:  # Ctrl-C: nothing the command started is left running
        _kill_group(process)
        process.wait()
        sandbox.reap(before)
        raise
    finally:
        _kill_group(process)
    process.wait()
    sandbox.reap(before)
    reader.thread.join(timeout=2)
    output, truncated = reader.text()
    if status == "timeout":
        return Outcome("timeout", output, truncated, error=f"killed after {timeout:g} s")
    if process.returncode != 0:
        return Outcome("error", output, truncated, error=f"exit code {process.returncode}")
    return Outcome("ok", output, truncated)


class ShellSkill(Builtin, name="shell", risk="exec"):
    description = "Run a command in the agent's workspace (only commands its --allow-command rules allow)."

    def tools(self) -> list[Tool]:
        description = "Run one command (no pipes or redirections); its output."
        return [one_text_tool(self, description, "command", "One command and its arguments")]

    def check(self, tool: str, arguments: dict[str, Any], context: Context) -> str | None:
        return rule_refusal(
            str(arguments.get("command", "")), context.rules.allow_commands, context.rules.deny_commands
        )

    def describe(self, tool: str, arguments: dict[str, Any]) -> str:
        """The words as they will run (split as `run` splits them, joined back), not the model's text:
        quoting and spacing that change nothing are shown as what they are."""
        command = str(arguments.get("command", ""))
        try:
            return shlex.join(shlex.split(command))
        except ValueError:  # unbalanced quotes: refused by the rules before anyone is asked
            return command

    def run(self, tool: str, arguments: dict[str, Any], context: Context) -> Outcome:
        refusal = self.check(tool, arguments, context)
        if refusal:  # checked again: nothing runs that the rules refuse
            return Outcome("denied", error=refusal)
        outcome = run_argv(
            shlex.split(arguments["command"]),
            cwd=context.workspace,
            confinement=sandbox.confinement(context, self.risk),
        )
        return outcome
