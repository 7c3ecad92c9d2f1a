"""What a person does at a terminal, through a real pseudo-terminal (pexpect): the interactive chat,
line editing and history, Ctrl-C during a reply, Ctrl-D, and Markdown rendering."""

from __future__ import annotations

import re
import sys

import pexpect
import pytest

from tests.conftest import base_env, db_rows
from tests.fakeprovider import Reply

PROMPT = "› "
LEFT, UP = "\x1b[D", "\x1b[A"
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
# The longest any one step may take: a start that imports the SDK takes over a second alone and
# several times that with other jobs on a 2-core machine. Every wait is for something the terminal
# shows, so a generous limit costs nothing when all is well.
WAIT = 180


@pytest.fixture
def term(fake, agentik_home, cli):
    cli("agents", "create", "claude", "--model", "claude-sonnet-4-0", "--system", "Be brief.")
    # The terminal is the one the test says (size from the pty, no COLUMNS or LINES to override it),
    # and readline reads no one's key bindings.
    env = base_env(
        agentik_home,
        TERM="xterm-256color",
        INPUTRC="/dev/null",
        ANTHROPIC_BASE_URL=fake.url,
        ANTHROPIC_API_KEY="sk-ant-test-key-0123456789",
        PYTHONUNBUFFERED="1",
    )
    children = []

    def spawn(*args: str, **extra_env: str) -> pexpect.spawn:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "agentik_cli", *args],
            env={**env, **extra_env},
            encoding="utf-8",
            timeout=WAIT,
            dimensions=(30, 100),
        )
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.close(force=True)


@pytest.mark.slow
def test_interactive_chat_session(term, fake, agentik_home):
    fake.add(Reply(text="Hello, *world*."), Reply(text="Second."), Reply(text="Third."), Reply(text="Fresh."))
    child = term("chat", "claude")
    child.expect("/help for commands")
    child.expect(PROMPT)
    child.sendline("/help")
    child.expect("/cost")
    child.expect(PROMPT)
    # line editing: fix a typo with the arrow keys before pressing Enter
    child.send("hello wrld")
    child.send(LEFT * 3 + "o")
    child.send("\r")
    child.expect("Hello")
    child.expect("session 1")  # the usage line
    child.expect(PROMPT)
    assert fake.requests[0].body["messages"] == [{"role": "user", "content": "hello world"}]
    # history: the up arrow brings the last line back
    child.send(UP)
    child.send("\r")
    child.expect("Second")
    child.expect(PROMPT)
    assert fake.requests[1].body["messages"][-1] == {"role": "user", "content": "hello world"}
    assert len(fake.requests[1].body["messages"]) == 3
    child.sendline("/cost")
    child.expect("this session: 4 messages")
    child.expect(PROMPT)
    child.sendline("/new")
    child.expect("new session")
    child.expect(PROMPT)
    child.sendline("start over")
    child.expect("Third")
    child.expect(PROMPT)
    assert fake.requests[2].body["messages"] == [{"role": "user", "content": "start over"}]
    # Ctrl-C at the prompt just gives a fresh prompt
    child.send("half a line")
    child.expect("half a line")  # as a person would, press Ctrl-C once the line shows
    child.sendintr()
    child.expect(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert db_rows(agentik_home, "SELECT count(*) FROM sessions") == [(2,)]
    # the line history outlives the process
    assert "hello world" in (agentik_home / "chat_history").read_text()


@pytest.mark.slow
def test_ctrl_c_stops_the_reply_and_the_chat_goes_on(term, fake, agentik_home):
    # far longer than the wait for word5 plus Ctrl-C can take; the server stops when the client goes
    slow = " ".join(f"word{i}" for i in range(3000))
    fake.add(Reply(text=slow, delay=0.02), Reply(text="After."))
    child = term("chat", "claude")
    child.expect(PROMPT)
    child.sendline("tell me a long story")
    child.expect("word5")
    child.sendintr()
    child.expect("interrupted")
    child.expect(PROMPT)
    partial = db_rows(agentik_home, "SELECT content, error, interrupted FROM messages WHERE role='assistant'")
    assert len(partial) == 1
    content, error, interrupted = partial[0]
    assert content.startswith("word0 word1") and len(content) < len(slow)
    assert (error, interrupted) == ("interrupted", 1)
    child.sendline("go on")
    child.expect("After")
    child.expect(PROMPT)
    sent = fake.requests[1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": content}  # as the user saw it
    assert sent[2] == {"role": "user", "content": "go on"}
    child.sendline("/exit")
    child.expect(pexpect.EOF)


@pytest.mark.slow
def test_ctrl_c_during_one_shot_exits_130_and_keeps_the_partial_reply(term, fake, agentik_home):
    fake.add(Reply(text=" ".join(f"w{i}" for i in range(3000)), delay=0.02, input_tokens=40))
    child = term("chat", "claude", "-m", "long please")
    child.expect("w10")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 or child.signalstatus is None and child.status == 130 << 8
    rows = db_rows(agentik_home, "SELECT role, content, error, interrupted FROM messages ORDER BY id")
    assert rows[0][:2] == ("user", "long please")
    assert rows[1][0] == "assistant" and rows[1][1].startswith("w0 w1") and rows[1][2:] == ("interrupted", 1)
    assert db_rows(agentik_home, "SELECT input_tokens FROM costs") == [(40,)]


@pytest.mark.slow
def test_markdown_is_rendered_on_a_terminal(term, fake):
    fake.add(
        Reply(
            text="# Title\n\nSome **bold** words.\n\n```python\nx = 1\n```\n\n- one\n- two",
            thinking="Considering the question.",
        )
    )
    child = term("chat", "claude", "-m", "format something")
    child.expect(pexpect.EOF)
    raw = child.before
    screen = ANSI.sub("", raw)
    assert "Title" in screen and "bold" in screen and "x = 1" in screen and "• one" in screen
    assert "**bold**" not in screen and "# Title" not in screen  # rendered, not raw
    assert "\x1b[1m" in raw  # styled
    assert "\x1b[2;3mConsidering the question." in raw  # reasoning, dimmed, on a terminal only


@pytest.mark.parametrize("how", ["--no-color", "NO_COLOR"])
def test_no_color_on_a_terminal(term, fake, how):
    if how == "NO_COLOR":
        child = term("agents", "list", NO_COLOR="1")
    else:
        child = term("--no-color", "agents", "list")
    child.expect(pexpect.EOF)
    assert "claude" in child.before
    assert "\x1b[" not in child.before


def screen_lines(raw: str, columns: int = 100, rows: int = 30) -> list[str]:
    """What a person sees, scrollback included: the output replayed through a terminal emulator."""
    import pyte

    screen = pyte.HistoryScreen(columns, rows, history=5000, ratio=0.5)
    stream = pyte.Stream(screen)
    stream.feed(raw.replace("\n", "\r\n") if "\r\n" not in raw else raw)
    top = [
        "".join(ch.data for ch in line.values())
        if isinstance(line, dict)
        else "".join(line[x].data for x in range(columns))
        for line in screen.history.top
    ]
    return [line.rstrip() for line in [*top, *screen.display]]


@pytest.mark.slow
def test_a_long_reply_renders_once_on_a_small_terminal(term, fake):
    """A reply far taller than the terminal (a 60-line code block, then prose): every line is on
    the screen or in the scrollback exactly once, in order; nothing is drawn twice or lost."""
    code = "\n".join(f"print({i})" for i in range(60))
    prose = "\n\n".join(f"Paragraph {i} says something useful." for i in range(40))
    fake.add(Reply(text=f"# Listing\n\n```python\n{code}\n```\n\n{prose}", chunks=400, delay=0.002))
    child = term("chat", "claude", "-m", "show me")
    child.expect(pexpect.EOF)
    lines = screen_lines(child.before)
    printed = [line.strip() for line in lines if line.strip().startswith("print(")]
    assert printed == [f"print({i})" for i in range(60)]
    paragraphs = [line.strip() for line in lines if line.strip().startswith("Paragraph")]
    assert paragraphs == [f"Paragraph {i} says something useful." for i in range(40)]
    assert sum("session 1" in line for line in lines) == 1


@pytest.mark.slow
def test_ctrl_c_leaves_a_clean_screen(term, fake):
    """After Ctrl-C the partial reply is on the screen once, followed by the note and the prompt
    (the echoed ^C must not push the live line down and leave a copy)."""
    import io

    reply = " ".join(f"Step {i}: rebase." for i in range(1000))
    fake.add(Reply(text=reply, delay=0.02))
    child = term("chat", "claude")
    log = io.StringIO()
    child.logfile_read = log
    child.expect(PROMPT)
    child.sendline("rebase, step by step")
    child.expect("Step 3")
    child.sendintr()
    child.expect(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    lines = [line for line in screen_lines(log.getvalue()) if line]
    steps = [line for line in lines if line.startswith("Step 0:")]
    assert len(steps) == 1, lines
    # the reply (wrapped over as many screen lines as arrived before the Ctrl-C took effect: more
    # on a busy machine), then the note at once: no copy of the live line, nothing between
    after = lines[lines.index(steps[0]) + 1 :]
    note = after.index("interrupted: the reply so far is kept")
    assert all("Step 0:" not in line and line.strip() in reply for line in after[:note]), after[: note + 1]


@pytest.mark.slow
def test_import_shows_progress_on_a_terminal_and_search_highlights(term, fake, cli, tmp_path):
    import json

    path = tmp_path / "big.jsonl"
    line = json.dumps(
        {
            "model": "gpt-4o-mini",
            "provider": "openai",
            "input_tokens": 10,
            "output_tokens": 5,
            # long lines: over the 1 MB that earns a progress bar in a few thousand rows, not 30,000
            "channel": "a-long-channel-name-to-make-the-file-bigger-" * 8,
        }
    )
    path.write_text((line + "\n") * 3_000)
    assert path.stat().st_size > 1_000_000
    child = term("costs", "import", str(path))
    child.expect("importing")
    child.expect("3000")
    child.expect(pexpect.EOF)
    fake.add(Reply(text="The kettle is boiling."))
    cli("chat", "claude", "-m", "is the kettle on?")
    child = term("sessions", "search", "kettle")
    child.expect(pexpect.EOF)
    assert "\x1b[1;33mkettle" in child.before  # the matched word, highlighted


@pytest.mark.slow
def test_tail_lines_fit_the_terminal(term, fake, cli):
    # a line longer than the terminal's 100 columns would wrap: each is cut to fit, with …
    fake.add(Reply(text="short"))
    cli("chat", "claude", "-m", "word " * 60)
    child = term("sessions", "tail")
    child.expect(pexpect.EOF)
    lines = [ANSI.sub("", line) for line in child.before.splitlines() if line.strip()]
    assert len(lines) == 2, lines
    long, short = lines
    assert len(long) == 100 and long.endswith("…") and " claude #1  user: word word" in long
    assert short.endswith("claude #1  assistant: short")
