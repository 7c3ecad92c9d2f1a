"""Live views: `costs watch` and `sessions tail -f` show a change made by another process within a
second, piped and on a terminal; `statusline` says what `costs summary` and `budgets list` say, by
its fast path and through the full command line alike. On both stores."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

import pexpect
import pytest

from tests.conftest import base_env
from tests.fakeprovider import Reply
from tests.terminal.test_chat import term  # noqa: F401 - the fixture

# a change seen through pg_notify and LISTEN on PostgreSQL, by polling on SQLite; the statusline's
# fast path reads either store
pytestmark = pytest.mark.both_stores

RECORD = ("costs", "record", "--provider", "anthropic", "--model", "claude-sonnet-4-0")
# how soon another process's change must show (the contract: within a second), with room for the
# recording process's own start on a loaded machine measured separately
WITHIN_S = 1.0


def agentik(*args: str) -> list[str]:
    return [sys.executable, "-m", "agentik_cli", *args]


class Lines:
    """A child process's stdout, read a line at a time with a deadline."""

    def __init__(self, child: subprocess.Popen) -> None:
        self.child = child
        self.buffer = b""

    def next(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            assert left > 0, f"no line within {timeout} s (so far: {self.buffer!r})"
            ready, _, _ = select.select([self.child.stdout], [], [], left)
            if ready:
                chunk = os.read(self.child.stdout.fileno(), 65536)
                assert chunk, f"the process ended: {self.child.stderr.read() if self.child.stderr else ''}"
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()


@pytest.fixture
def spawn(agentik_home):
    children: list[subprocess.Popen] = []

    def start(*args: str, **env: str) -> Lines:
        child = subprocess.Popen(
            agentik(*args), env=base_env(agentik_home, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        children.append(child)
        return Lines(child)

    yield start
    for child in children:
        child.kill()
        child.wait()


def change_shows_within(lines: Lines, change, first_timeout: float = 120):  # noqa: ANN001, ANN201
    """Run `change` (made by another process), and return the next line and how long after the
    change's own end it came."""
    change()
    done = time.monotonic()
    line = lines.next(first_timeout)
    return line, time.monotonic() - done


@pytest.mark.slow
def test_watch_piped_prints_a_summary_a_line_each_time_another_process_changes_it(cli, fake, spawn, agentik_home):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    cli("budgets", "set", "--daily", "10")
    lines = spawn("costs", "watch")
    first = json.loads(lines.next(120))
    assert first["today"] == 0 and first["budgets"][0]["spent"] == 0
    assert first == cli.json("costs", "summary")
    # a chat in another process: its reservation shows while the call is in flight, then its cost
    # a million prompt tokens to claude-sonnet-4-0: past 200k, the long-context rate, $6 a million
    fake.add(Reply(text="ok", input_tokens=1_000_000, output_tokens=0))
    env = base_env(agentik_home, ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="sk-ant-test-key-0123456789")
    chat = agentik("chat", "helper", "-m", "hello")
    line, late = change_shows_within(lines, lambda: subprocess.run(chat, env=env, check=True, capture_output=True))
    now = json.loads(line)
    while now["today"] == 0:  # the line of the reservation, printed while the chat ran
        assert now["budgets"][0]["reserved"] > 0
        now = json.loads(lines.next(WITHIN_S))
    assert now["today"] == 6.0 and now["budgets"][0]["spent"] == 6.0 and now["budgets"][0]["reserved"] == 0
    assert late < WITHIN_S, late
    assert now == cli.json("costs", "summary")
    record = agentik(*RECORD, "--input-tokens", "1000000", "--output-tokens", "0")
    line, late = change_shows_within(lines, lambda: subprocess.run(record, env=base_env(agentik_home), check=True))
    assert json.loads(line)["today"] == 12.0 and late < WITHIN_S, late


@pytest.mark.slow
def test_tail_follows_a_chat_in_another_process(cli, fake, spawn, agentik_home):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    cli("agents", "create", "other", "--model", "claude-sonnet-4-0")
    fake.add(Reply(text="first reply"))
    cli("chat", "helper", "-m", "an older message")
    lines = spawn("sessions", "tail", "-f", "--agent", "helper")
    older = [json.loads(lines.next(120)) for _ in range(2)]
    assert [m["content"] for m in older] == ["an older message", "first reply"]
    assert older[0]["agent"] == "helper" and older[0]["session_id"] == 1 and older[0]["role"] == "user"
    env = base_env(agentik_home, ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="sk-ant-test-key-0123456789")
    fake.add(Reply(text="not helper's"), Reply(text="second reply"))
    subprocess.run(agentik("chat", "other", "-m", "elsewhere"), env=env, check=True, capture_output=True)
    chat = agentik("chat", "helper", "-c", "-m", "a new message")
    line, late = change_shows_within(lines, lambda: subprocess.run(chat, env=env, check=True, capture_output=True))
    new = [json.loads(line), json.loads(lines.next(5))]
    assert [m["content"] for m in new] == ["a new message", "second reply"]
    assert late < WITHIN_S, late
    shown = cli.json("sessions", "show", "1")["messages"]
    assert {k: v for k, v in new[1].items() if k not in ("session_id", "agent")} == shown[-1]


def test_tail_without_follow_prints_the_last_messages(cli, fake):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    for n in range(7):
        fake.add(Reply(text=f"reply {n}"))
        cli("chat", "helper", "-m", f"question {n}")
    rows = [json.loads(line) for line in cli("sessions", "tail", "-n", "3").stdout.splitlines()]
    assert [r["content"] for r in rows] == ["reply 5", "question 6", "reply 6"]
    assert len(cli("sessions", "tail").stdout.splitlines()) == 10
    cli("sessions", "tail", "--agent", "ghost", code=1)


def statusline(agentik_home, *args: str) -> str:
    done = subprocess.run(agentik("statusline", *args), env=base_env(agentik_home), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_statusline_says_what_summary_and_budgets_say(cli, agentik_home):
    assert statusline(agentik_home) == "today $0.00 · month $0.00\n"  # nothing recorded yet
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    cli(*RECORD, "--agent", "helper", "--input-tokens", "1000", "--output-tokens", "100")
    cli(*RECORD, "--input-tokens", "200000", "--output-tokens", "160000")  # $0.60 + $2.40
    cli(*RECORD, "--input-tokens", "1000", "--output-tokens", "0", "--at", "2020-01-05T10:00:00Z")
    cli("budgets", "set", "--daily", "5", "--monthly", "100")
    cli("budgets", "set", "--agent", "helper", "--daily", "0.01")
    summary = cli.json("costs", "summary")
    budgets = {(b["scope"], b["period"]): b for b in cli.json("budgets", "list")}
    everything = json.loads(statusline(agentik_home, "--json"))
    assert everything == {
        "today": summary["today"],
        "month": summary["month"],
        "budget_left": min(budgets["all", "day"]["left"], budgets["all", "month"]["left"]),
    }
    assert statusline(agentik_home) == "today $3.00 · month $3.00 · budget left $2.00\n"
    mine = json.loads(statusline(agentik_home, "--agent", "HELPER", "--json"))
    assert mine == {"today": 0.0045, "month": 0.0045, "budget_left": budgets["helper", "day"]["left"]}
    # through the full command line (a global option first, or --help) it says the same
    assert cli("statusline", "--json").stdout.strip() == json.dumps(everything)
    with_db = subprocess.run(
        agentik("--no-color", "statusline"), env=base_env(agentik_home), capture_output=True, text=True
    )
    assert with_db.stdout == statusline(agentik_home)
    unknown = subprocess.run(
        agentik("statusline", "--agent", "ghost"), env=base_env(agentik_home), capture_output=True, text=True
    )
    assert unknown.returncode == 1 and unknown.stderr.startswith("agentik: error: no agent named 'ghost'")
    assert "Usage" in cli("statusline", "--help").stdout


def test_statusline_does_not_import_the_framework(agentik_home):
    probe = (
        "import sys; sys.argv = ['agentik', 'statusline']\n"
        "import os; os._exit = lambda code: (print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('typer', 'rich', 'sqlalchemy', 'sqlmodel', 'anthropic', 'openai', 'pathlib', 'platformdirs'))), "
        "sys.exit(code))\n"
        "from agentik_cli.entry import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=base_env(agentik_home), capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "[]", done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.sqlite_only(reason="one terminal test of the view is enough; the piped test runs on both")
def test_watch_on_a_terminal_redraws_on_a_change_and_ctrl_c_ends_it(term, cli, agentik_home):  # noqa: F811
    child = term("costs", "watch")
    try:
        child.expect("Ctrl-C to stop")
        child.expect("today")
        child.expect(r"\$0\.00")
        subprocess.run(
            agentik(*RECORD, "--input-tokens", "200000", "--output-tokens", "360000"),  # $0.60 + $5.40
            env=base_env(agentik_home),
            check=True,
            capture_output=True,
        )
        child.expect(r"\$6\.00", timeout=30)
        child.sendintr()
        child.expect(pexpect.EOF, timeout=30)
    finally:
        child.close(force=True)
    assert child.exitstatus == 130


@pytest.mark.parametrize("xdg", [None, "", "/srv/data"])
def test_the_data_folder_is_platformdirs_own(monkeypatch, tmp_path, xdg):
    """paths.py works the folder out without platformdirs (for the status line's speed): the same."""
    import platformdirs

    from agentik_cli import paths

    monkeypatch.delenv("AGENTIK_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    assert paths.data_dir() == platformdirs.user_data_path("agentik")
    assert paths.default_db_text() == str(platformdirs.user_data_path("agentik") / "agentik.db")


def test_only_a_plain_statusline_takes_the_fast_path():
    from agentik_cli.entry import _statusline_args as fast

    assert fast(["statusline"]) == (None, None, False)
    assert fast(["--db", "x.db", "statusline", "--agent", "h", "--json"]) == ("x.db", "h", True)
    assert fast(["--db=x.db", "--no-color", "statusline", "--agent=h"]) == ("x.db", "h", False)
    for args in (["statusline", "--help"], ["--db", "statusline"], ["statusline", "--db", "x"], ["chat"], []):
        assert fast(args) is None, args
