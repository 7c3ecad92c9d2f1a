"""issue 22, item 7: the table forms of the listings start quickly. The console script builds only
the commands its command line names (cli/narrow.py), a plain value skips Typer's pydantic adapter
(cli/coercion.py), and a table to a pipe is written without rich (cli/plain_table.py); each of
these must change nothing of what is written."""

from __future__ import annotations

import io
import random
import subprocess
import sys

import pytest
import typer.main
from typer._click import Context
from typer._coercion import build_runtime_param

from agentik_cli.cli.app import app
from tests.conftest import base_env
from tests.fakeprovider import Reply

# what the table forms of the listings used to import, and must not again
SLOW = ("rich", "pydantic", "typer._adapters", "sqlalchemy")


def _console_script(args: list[str], env: dict[str, str], cwd=None) -> subprocess.CompletedProcess[str]:
    """The console script (app.main), reporting at exit (its atexit handlers run before os._exit)
    the slow modules it imported."""
    code = (
        "import atexit, sys\n"
        f"sys.argv = ['agentik', *{args!r}]\n"
        f"atexit.register(lambda: sys.stderr.write('SLOW=' + ','.join(m for m in {SLOW!r} if m in sys.modules)))\n"
        "from agentik_cli.entry import main\n"
        "main()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


@pytest.fixture
def listed(cli, fake):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--description", "does things")
    cli("agents", "create", "second", "--model", "gpt-4o-mini")
    fake.add(Reply(text="Hi.", input_tokens=30, output_tokens=10))
    cli("chat", "second", "-m", "hello")
    cli(
        "costs", "record", "--agent", "helper", "--model", "claude-sonnet-4-0", "--provider", "anthropic",
        "--input-tokens", "10", "--output-tokens", "5",
    )  # fmt: skip
    return cli


@pytest.mark.parametrize("args", [["agents", "list"], ["sessions", "list"], ["agents", "list", "--limit", "1"]])
@pytest.mark.sqlite_only("the light reads are SQLite's; PostgreSQL reads through the ORM")
def test_the_listing_tables_import_neither_rich_nor_pydantic(args, listed):
    result = _console_script(args, base_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr == "SLOW=", result.stderr
    assert ("second" if args[0] == "sessions" else "helper") in result.stdout


# -- the narrowed app answers as the whole app -------------------------------------------------

_WHOLE_APP = (
    "import sys\nsys.argv = ['agentik', *sys.argv[1:]]\nfrom agentik_cli.cli.app import app\napp(prog_name='agentik')\n"
)


@pytest.mark.parametrize(
    "args",
    [
        ["agents", "list"],
        ["--no-color", "agents", "list", "--json"],
        ["--db=elsewhere.db", "agents", "list"],
        ["agents", "list", "--help"],
        ["agents", "list", "--bogus"],
        ["agents", "list", "--limit", "0"],
        ["agents", "list", "--limit", "abc"],
        ["agents", "list", "--limit", "05"],
        ["agents", "list", "--status", "ARCHIVED"],
        ["agents", "lst"],
        ["agents"],
        ["agents", "--help"],
        ["sessions", "show", "99999999999999999999"],
        ["sessions", "list", "--csv", "--json"],
        ["costs", "summary"],
        ["statusline", "--help"],
        ["nothing-here"],
        ["--db"],
        ["--version"],
    ],
)
@pytest.mark.sqlite_only("the same output on either store; the PostgreSQL half adds nothing but time")
def test_the_console_script_answers_as_the_whole_app(args, listed, tmp_path):
    env = base_env(COLUMNS="100")
    narrowed = _console_script(args, env, cwd=tmp_path)  # cwd: where --db=elsewhere.db goes
    whole = subprocess.run(
        [sys.executable, "-c", _WHOLE_APP, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert narrowed.stdout == whole.stdout
    assert narrowed.stderr.rpartition("SLOW=")[0] == whole.stderr
    assert narrowed.returncode == whole.returncode


def _names(command) -> dict:
    return {name: _names(child) for name, child in (getattr(command, "commands", None) or {}).items()}


def test_only_the_commands_named_are_built(monkeypatch):
    from agentik_cli.cli.narrow import narrowed

    complete = "_AGENTIK_TEST_COMPLETE"
    monkeypatch.delenv(complete, raising=False)
    whole = _names(typer.main.get_command(app))
    assert _names(typer.main.get_command(narrowed(app, ["agents", "list"], complete))) == {"agents": {"list": {}}}
    assert _names(typer.main.get_command(narrowed(app, ["--db", "x.db", "--no-color", "chat", "a"], complete))) == {
        "chat": {}
    }
    assert _names(typer.main.get_command(narrowed(app, ["agents", "nope"], complete))) == {"agents": whole["agents"]}
    for args in (["--help"], ["--version"], [], ["nope"], ["-h", "agents"], ["--db"], ["--no-color=1", "agents"]):
        assert narrowed(app, args, complete) is app, args
    monkeypatch.setenv(complete, "bash_complete")  # completion sees the whole app
    assert narrowed(app, ["agents", "list"], complete) is app
    assert _names(typer.main.get_command(app)) == whole  # the app itself is left whole


# -- plain values skip the adapter, and come out as the adapter makes them -------------------------

SAMPLES = [
    None, "", "x", "text with spaces", "\udcff", "a\x00b", "0", "1", "5", "05", "+5", "-3", " 7", "7 ", "1_000",
    "1e3", "2.5", "abc", "99999999999999999999", "123456789012345678", "1234567890123456789", 0, 1, 7, -1, 2.5,
    True, False, (), [], ("a", "b"), ["a"], ("1", "2"), [1], b"bytes",
]  # fmt: skip


def _params(command):
    yield from ((command, param) for param in command.params)
    for child in (getattr(command, "commands", None) or {}).values():
        yield from _params(child)


def _outcome(runtime, value, param, ctx):
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # noqa: BLE001 - the error is the outcome compared
        return ("error", type(exc), str(exc))
    return ("value", type(result), result, [type(item) for item in result] if isinstance(result, list | tuple) else [])


def test_a_plain_value_is_what_typers_adapter_makes_of_it():
    from agentik_cli.cli.coercion import Deferred

    root = typer.main.get_command(app)
    compared = 0
    for command, param in _params(root):
        if getattr(param, "type_descriptor", None) is None:
            continue
        ctx = Context(command, info_name=command.name)
        adapter = build_runtime_param(param.type_descriptor)
        for value in SAMPLES:
            deferred = Deferred(param.type_descriptor)
            expected = _outcome(adapter, value, param, ctx)
            assert _outcome(deferred, value, param, ctx) == expected, (command.name, param.name, value)
            compared += 1
    assert compared > 1000


# -- a table to a pipe without rich: what rich writes ------------------------------------------------


def _printed(headers, rows, right, *, plain: bool, monkeypatch, **given) -> str:
    from agentik_cli import environment
    from agentik_cli.cli import plain_table, render
    from agentik_cli.environment import Environment

    with monkeypatch.context() as patch:
        if not plain:
            patch.setattr(plain_table, "table", lambda *args: None)
        env = Environment(**{"stdout": io.StringIO(), "stderr": io.StringIO(), "stdout_isatty": False, **given})
        with environment.use(env):
            render.print_table(headers, rows, right=right)
    return env.stdout.getvalue()


def _cell(rng: random.Random):
    kind = rng.random()
    if kind < 0.1:
        return None
    if kind < 0.2:
        return rng.randint(-5, 10 ** rng.randint(0, 12))
    if kind < 0.25:
        return ""
    alphabet = "abcXYZ 019$.,:-_/[]()+#'\"\\    "  # spaces at either end too
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))


def test_a_plain_table_is_what_rich_writes(monkeypatch):
    rng = random.Random(22)
    for _ in range(200):
        headers = [f"h{i}" + "x" * rng.randint(0, 12) for i in range(rng.randint(1, 9))]
        rows = [[_cell(rng) for _ in headers] for _ in range(rng.randint(1, 6))]
        right = [h for h in headers if rng.random() < 0.4]
        plain = _printed(headers, rows, right, plain=True, monkeypatch=monkeypatch)
        assert plain == _printed(headers, rows, right, plain=False, monkeypatch=monkeypatch), (headers, rows, right)


@pytest.mark.parametrize(
    ("rows", "given"),
    [
        ([["é", "1"]], {}),  # not ASCII: rich measures it
        ([["中文", "1"]], {}),
        ([["two\nlines", "1"]], {}),
        ([["a\tb", "1"]], {}),
        ([["x" * 1200, "1"]], {}),  # wider than the pipe's 1,000 columns: rich folds it
        ([["hostile \x1b]0;pwned\x07", "1"]], {}),  # escaped by safe_text, then plain ASCII
        ([["a", "1"]], {"stdout_isatty": True}),  # a terminal: rich's widths and styles
        ([["a", "1"]], {"no_color": True}),
    ],
)
def test_what_the_plain_table_leaves_to_rich_is_written_as_before(rows, given, monkeypatch):
    headers, right = ["name", "n"], ["n"]
    plain = _printed(headers, rows, right, plain=True, monkeypatch=monkeypatch, **given)
    assert plain == _printed(headers, rows, right, plain=False, monkeypatch=monkeypatch, **given)


def test_a_forced_colour_pipe_is_left_to_rich(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    shown = _printed(["name", "n"], [["a", "1"]], ["n"], plain=True, monkeypatch=monkeypatch, stdout_isatty=None)
    assert "\x1b[1m" in shown  # rich takes the pipe for a terminal: the bold header
