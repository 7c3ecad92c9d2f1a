"""Issue 8, items 3, 14, 15 and 16 (parts): what comes in from outside (numbers, prices, text, a
reader that goes away, a shell) is checked once where it enters, so that nothing fails later, above
all not after a paid reply has arrived."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperArgument

from agentik_cli import limits
from agentik_cli.cli.app import app
from tests.conftest import db_rows
from tests.fakeprovider import Reply, words

ROOT = Path(__file__).resolve().parents[2]
INT64_MAX = 2**63 - 1
RECORD = ["costs", "record", "--model", "m", "--provider", "openai", "--input-tokens", "1", "--output-tokens", "1"]


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("agentik: error: "), result.stderr
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("hint: ")), result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    return lines[0]


@pytest.fixture
def helper(cli, fake):
    cli("agents", "create", "helper", "--model", "gpt-4o-mini")
    return fake


def run(*args: str | bytes, input: bytes | None = None, env: dict[str, str] | None = None):
    """agentik as a separate process: real stdin and stdout, the console script's exit path."""
    return subprocess.run(
        [sys.executable, "-m", "agentik_cli", *args],
        input=input,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


# ---- every numeric parameter of every command (item 14) ----


def numeric_params() -> list[tuple[str, object, object, type]]:
    """(command path, command, parameter, int or float) for every number the app takes."""
    found = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, (*path, name))
            return
        for param in command.params:  # type: ignore[attr-defined]
            annotation = param.type_descriptor.annotation
            kinds = [a for a in (typing.get_args(annotation) or (annotation,)) if a in (int, float)]
            if kinds:
                found.append((" ".join(path), command, param, kinds[0]))

    walk(typer.main.get_command(app), ())
    return found


NUMERIC = numeric_params()


def invocation(path: str, command, target, value: str) -> list[str]:
    """The command with `value` for `target` and a plain value for every other required parameter."""
    options: list[str] = []
    positional: list[str] = []
    for param in command.params:
        if param is target:
            given = value
        elif param.required:
            annotation = param.type_descriptor.annotation
            given = "1" if annotation in (int, float) else "x"
        else:
            continue
        if isinstance(param, TyperArgument):
            positional.append(given)
        else:
            options += [param.opts[0], given]
    return [*path.split(), *options, *positional]


def test_the_walk_finds_the_numbers_of_the_issue():
    names = {(path, param.opts[0]) for path, _, param, _ in NUMERIC}
    assert {
        ("costs list", "--limit"),
        ("costs history", "--days"),
        ("costs cleanup", "--older-than"),
        ("costs record", "--input-tokens"),
        ("costs record", "--cost"),
        ("sessions show", "session_id"),
        ("chat", "--session"),
        ("prices set", "--input"),
    } <= names


@pytest.mark.parametrize(
    ("path", "command", "param", "kind"), NUMERIC, ids=[f"{p} {q.opts[0]}" for p, _, q, _ in NUMERIC]
)
def test_every_number_past_its_type_is_a_usage_error(cli, path, command, param, kind):
    values = ["99999999999999999999"] if kind is int else ["nan", "inf", "-inf"]
    for value in values:
        result = cli(*invocation(path, command, param, value), code=2, input="")
        line = one_error_line(result)
        label = param.opts[0] if param.opts[0].startswith("-") else param.name.upper()
        assert label in line, line


@pytest.mark.parametrize(
    ("path", "command", "param", "kind"), NUMERIC, ids=[f"{p} {q.opts[0]}" for p, _, q, _ in NUMERIC]
)
def test_every_number_at_the_edge_of_its_type_is_never_unexpected(cli, helper, path, command, param, kind):
    cli("chat", "helper", "-m", "hello")
    value = str(INT64_MAX) if kind is int else "1e308"
    result = cli.runner.invoke(app, invocation(path, command, param, value), input="")
    assert result.exit_code in (0, 1, 2), result.stderr
    if result.exit_code:
        one_error_line(result)


@pytest.mark.parametrize(
    "args",
    [
        ["agents", "show", "99999999999999999999"],
        ["agents", "default", "99999999999999999999"],
        ["chat", "99999999999999999999", "-m", "hi"],
        ["costs", "list", "--agent", "99999999999999999999"],
        ["costs", "history", "--agent", "99999999999999999999"],
        [*RECORD, "--agent", "99999999999999999999"],
    ],
)
def test_an_agent_id_past_64_bits_is_a_usage_error(cli, agentik_home, args):
    cli("agents", "create", "helper", "--model", "gpt-4o")
    line = one_error_line(cli(*args, code=2))
    assert "99999999999999999999" in line and ("ids are below 2^63" in line or "unknown agent" in line), line
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]


@pytest.mark.parametrize(
    "args",
    [
        ["costs", "list", "--since", "99999999999d"],
        ["costs", "by-agent", "--until", "9999-12-31"],
        ["sessions", "list", "--since", "0001-01-01"],
        ["costs", "history", "--since", "99999999999999999999999w"],
        ["costs", "history", "--days", "1000000000000"],
        ["costs", "cleanup", "--older-than", "99999999", "--dry-run"],
        ["costs", "cleanup", "--older-than", "99999999", "--yes"],
        [*RECORD, "--at", "0001-01-01T00:00"],
    ],
)
def test_times_beyond_the_calendar_are_usage_errors(cli, agentik_home, args):
    one_error_line(cli(*args, code=2))
    if (agentik_home / "agentik.db").exists():
        assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]


# ---- prices and costs: every door (item 3) ----


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "-1", "1e30", "100000.01"])
@pytest.mark.parametrize("option", ["--input", "--output", "--cache-read", "--cache-write"])
def test_prices_set_refuses_what_is_no_price(cli, agentik_home, option, value):
    prices = {"--input": "1", "--output": "2", option: value}
    args = [part for pair in prices.items() for part in pair]
    one_error_line(cli("prices", "set", "m", "--provider", "openai", *args, code=2))
    assert not (agentik_home / "prices.toml").exists()


def test_the_highest_price_and_the_most_tokens_fit_in_the_store(cli):
    top = str(limits.MAX_PRICE)
    prices = ["--input", top, "--output", top, "--cache-read", top, "--cache-write", top]
    cli("prices", "set", "m", "--provider", "openai", *prices)
    most = str(limits.MAX_TOKENS)
    counts = ["--input-tokens", most, "--output-tokens", most, "--cache-write-tokens", most]
    row = cli.json("costs", "record", "--model", "m", "--provider", "openai", *counts)
    assert row["total_cost"] == 2 * limits.MAX_TOKENS * float(limits.MAX_PRICE) / 1_000_000
    for option in ("--input-tokens", "--output-tokens"):
        line = one_error_line(cli(*RECORD, option, str(limits.MAX_TOKENS + 1), code=2))
        assert "more tokens than one call can have" in line
    most_usd = str(limits.MAX_CALL_COST_ND // 1_000_000_000)
    cli(*RECORD, "--cost", most_usd)
    for cost in ("1e30", str(limits.MAX_CALL_COST_ND // 1_000_000_000 + 1), "-0.01"):
        one_error_line(cli(*RECORD, "--cost", cost, code=2))
    summary = cli.json("costs", "summary")
    assert summary["total"] == row["total_cost"] + int(most_usd)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("input_tokens", 10**11, "more tokens than one call can have"),
        ("input_tokens", 1e20, "more tokens than one call can have"),
        ("cache_read_tokens", "99999999999999999999", "more tokens than one call can have"),
        ("cost", "NaN", "cost must be a number of dollars"),
        ("cost", "Infinity", "cost must be a number of dollars"),
        ("cost", 1e30, "more than one call can cost"),
        ("at", "0001-01-01T00:00:00Z", "out of range"),
        ("at", "99999999999d", "out of range"),
    ],
)
def test_import_rows_out_of_bounds_import_nothing(cli, tmp_path, agentik_home, field, value, message):
    good = {"model": "gpt-4o", "provider": "openai", "input_tokens": 5, "output_tokens": 5}
    bad = {**good, field: value}
    text = json.dumps(good) + "\n" + json.dumps(bad) + "\n"
    if value in ("NaN", "Infinity"):  # as JSON numbers, which Python's JSON reader takes
        text = text.replace(f'"{value}"', value)
    path = tmp_path / "usage.jsonl"
    path.write_text(text)
    line = one_error_line(cli("costs", "import", str(path), code=2))
    assert line.startswith("agentik: error: line 2: ") and message in line, line
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]


BAD_ENTRIES = {
    "infinite": "input = inf\noutput = 1.0",
    "not a number": "input = nan\noutput = 1.0",
    "negative": "input = -1.0\noutput = 1.0",
    "absurd": "input = 1e30\noutput = 1.0",
    "text": 'input = "cheap"\noutput = 1.0',
    "no output": "input = 1.0",
    "unknown field": "input = 1.0\noutput = 1.0\ncache_reads = 0.1",
}


def write_prices(home: Path, body: str, model: str = "gpt-4o-mini") -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "prices.toml"
    path.write_text(f'["openai/{model}"]\nmodel = "{model}"\nprovider = "openai"\n{body}\n')
    return path


@pytest.mark.parametrize("body", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_a_bad_hand_edited_price_is_refused_before_anything_is_sent(cli, helper, agentik_home, body):
    path = write_prices(agentik_home, body)
    line = one_error_line(cli("chat", "helper", "-m", "hi", code=2))
    assert str(path) in line and '"openai/gpt-4o-mini"' in line
    assert helper.requests == []
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(0,)]
    for args in (["prices", "list"], ["prices", "show", "gpt-4o"], RECORD):
        assert str(path) in one_error_line(cli(*args, code=2))


def test_prices_set_and_remove_mend_a_bad_file(cli, agentik_home):
    """A prices.toml is moved into the store only whole and checked; the price a command sets or
    removes replaces its entry, so a bad entry can be mended with the commands themselves."""
    path = write_prices(agentik_home, BAD_ENTRIES["infinite"])
    cli("prices", "set", "gpt-4o-mini", "--provider", "openai", "--input", "1", "--output", "2")
    assert cli.json("prices", "show", "gpt-4o-mini")["input"] == 1
    assert not path.exists() and (agentik_home / "prices.toml.moved").exists()
    write_prices(agentik_home, "input = true\noutput = 1.0", model="other")
    assert '"openai/other"' in one_error_line(
        cli("prices", "set", "third", "--provider", "openai", "--input", "1", "--output", "2", code=2)
    )
    assert '"openai/other"' in one_error_line(cli("prices", "list", code=2))  # still there, still refused
    cli("prices", "remove", "other", "--provider", "openai")
    assert not path.exists() and (agentik_home / "prices.toml.moved-2").exists()
    assert [row["model"] for row in cli.json("prices", "list") if row["override"]] == ["gpt-4o-mini"]


def test_usage_a_server_sends_beyond_the_bounds_is_counted_instead(cli, helper, agentik_home):
    """An absurd count is no count (providers.tokens.token_count): the call's tokens are counted by
    agentik, marked estimated, and priced; nothing overflows after the reply has arrived."""
    helper.add(Reply(text="a reply that was paid for", output_tokens=10**17))
    result = cli("chat", "helper", "-m", "hi")
    assert "a reply that was paid for" in result.stdout
    [(output_tokens, cost_nd, estimated)] = db_rows(
        agentik_home, "SELECT output_tokens, total_cost_nd, estimated FROM costs"
    )
    assert 0 < output_tokens < 100 and cost_nd > 0 and estimated == 1
    assert db_rows(agentik_home, "SELECT role FROM messages ORDER BY id") == [("user",), ("assistant",)]


# ---- text from outside (item 15) ----


def sent_text(fake) -> str:
    return json.dumps(fake.requests[-1].body["messages"], ensure_ascii=False)


@pytest.mark.slow
def test_stdin_that_is_not_utf8_is_sent_and_stored_with_replacements(helper, agentik_home):
    result = run("chat", "helper", input=b"--- a/menu.txt\n+caf\xe9 cr\xe8me br\xfbl\xe9e\n")
    assert result.returncode == 0, result.stderr
    assert b"stdin is not all UTF-8: 4 bytes replaced" in result.stderr
    assert "caf\ufffd cr\ufffdme br\ufffdl\ufffde" in sent_text(helper)
    [(content,)] = db_rows(agentik_home, "SELECT content FROM messages WHERE role = 'user'")
    assert content == "--- a/menu.txt\n+caf\ufffd cr\ufffdme br\ufffdl\ufffde\n"


@pytest.mark.slow
def test_a_byte_order_mark_on_stdin_is_not_text(helper, agentik_home):
    result = run("chat", "helper", input="\ufeffhello".encode())
    assert result.returncode == 0 and b"UTF-8" not in result.stderr, result.stderr
    assert db_rows(agentik_home, "SELECT content FROM messages WHERE role = 'user'") == [("hello",)]


@pytest.mark.slow
def test_an_argument_that_is_not_utf8_is_repaired(helper, agentik_home):
    result = run("chat", "helper", "-m", b"caf\xe9")
    assert result.returncode == 0, result.stderr
    assert b"--message is not all UTF-8: 1 byte replaced" in result.stderr
    assert db_rows(agentik_home, "SELECT content FROM messages WHERE role = 'user'") == [("caf\ufffd",)]


def test_attached_text_files_in_latin1_or_with_a_bom(cli, helper, tmp_path, agentik_home):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café\n".encode("latin-1"))
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffnotes\n".encode())
    result = cli("chat", "helper", "-m", "see", "--attach", str(latin), "--attach", str(bom))
    assert f"--attach {latin} is not all UTF-8: 1 byte replaced" in result.stderr
    sent = sent_text(helper)
    assert "caf\ufffd" in sent and "notes" in sent and "\ufeff" not in sent
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(128, 256)) * 4)
    assert "only images" in one_error_line(cli("chat", "helper", "-m", "x", "--attach", str(junk), code=2))


def test_system_files_in_latin1_or_with_a_bom(cli, tmp_path):
    latin = tmp_path / "latin.md"
    latin.write_bytes("Réponds en français.".encode("latin-1"))
    result = cli("agents", "create", "fr", "--model", "gpt-4o", "--system-file", str(latin))
    assert "2 bytes replaced" in result.stderr
    assert cli.json("agents", "show", "fr")["system_prompt"] == "R\ufffdponds en fran\ufffdais."
    bom = tmp_path / "bom.md"
    bom.write_bytes("\ufeffBe brief.".encode())
    cli("agents", "update", "fr", "--system-file", str(bom))
    assert cli.json("agents", "show", "fr")["system_prompt"] == "Be brief."


def test_a_key_saved_with_a_bom_is_stored_without_it(cli, agentik_home):
    cli("keys", "set", "openai", input="\ufeffsk-from-notepad-0123456789\n".encode())
    stored = json.loads((agentik_home / "keys.json").read_text())
    assert stored == {"openai": "sk-from-notepad-0123456789"}


IMPORT_CSV = "model,provider,input_tokens,output_tokens\ngpt-4o,openai,10,5\ngpt-4o,openai,20,5\n"
IMPORT_JSONL = "".join(
    json.dumps({"model": "gpt-4o", "provider": "openai", "input_tokens": n, "output_tokens": 5}) + "\n" for n in (1, 2)
)


@pytest.mark.parametrize(("name", "text"), [("usage.csv", IMPORT_CSV), ("usage.jsonl", IMPORT_JSONL)])
def test_import_takes_a_byte_order_mark_from_a_file_and_stdin(cli, tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert cli("costs", "import", str(path)).stdout == "2\n"
    fmt = name.rsplit(".", 1)[1]
    assert cli("costs", "import", "-", "--format", fmt, input=b"\xef\xbb\xbf" + text.encode()).stdout == "2\n"
    assert len(cli.json("costs", "list")) == 4


@pytest.mark.parametrize("content", ["", "\n\n", "model,provider,input_tokens,output_tokens\n"])
def test_an_import_with_no_rows_is_a_quiet_success(cli, tmp_path, content):
    fmt = "csv" if content.startswith("model") else "jsonl"
    path = tmp_path / f"quiet.{fmt}"
    path.write_text(content)
    assert cli("costs", "import", str(path)).stdout == "0\n"
    assert cli.json("costs", "import", str(path)) == {"imported": 0}
    assert cli("costs", "import", "-", "--format", fmt, input=content).stdout == "0\n"


# ---- choices, flags, URLs (item 16) ----


@pytest.mark.parametrize(
    "args",
    [
        ["costs", "history", "--by", "DAY"],
        ["costs", "history", "--by", "Week", "--days", "14"],
        ["agents", "list", "--status", "ACTIVE", "--sort", "Last-Active"],
        ["costs", "import", "-", "--format", "CSV"],
    ],
)
def test_choices_are_read_in_any_case(cli, args):
    cli(*args, input=IMPORT_CSV)


def test_a_choice_in_capitals_filters_as_in_lower_case(cli):
    assert cli.json("prices", "list", "--provider", "ANTHROPIC") == cli.json(
        "prices", "list", "--provider", "anthropic"
    )
    assert cli.json("prices", "list", "--provider", "ANTHROPIC")


def test_choices_are_stored_as_the_word_they_stand_for(cli, agentik_home):
    agent = cli.json("agents", "create", "x", "--model", "gpt-4o", "--provider", "OPENAI", "--status", "Paused")
    assert (agent["provider"], agent["status"]) == ("openai", "paused")
    cli("prices", "set", "m", "--provider", "OpenAI", "--input", "1", "--output", "1")
    assert cli.json("prices", "show", "m", "--provider", "openai")["override"]
    cli("keys", "set", "OPENAI", input="sk-typed-in-capitals-0123\n")
    assert json.loads((agentik_home / "keys.json").read_text()) == {"openai": "sk-typed-in-capitals-0123"}


def leaf_commands() -> list[str]:
    found: list[str] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        for name, child in (getattr(command, "commands", None) or {}).items():
            walk(child, (*path, name))
        found.append(" ".join(path))

    walk(typer.main.get_command(app), ())
    return found


@pytest.mark.parametrize("path", leaf_commands())
def test_help_shows_no_value_after_a_flag(cli, path):
    result = cli(*path.split(), "--help")
    assert "--help" in result.stdout and "<bool>" not in result.stdout


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "localhost:11434",
        "ftp://example.com",
        "http://",
        "https://host:99999/v1",
        "http://user:secret@example.com/v1",
        "http://exa mple.com/v1",
    ],
)
def test_base_url_must_be_an_http_url_with_a_host(cli, agentik_home, url):
    one_error_line(cli("agents", "create", "local", "--model", "llama3.2", "--base-url", url, code=2))
    assert cli.json("agents", "list") == []
    cli("agents", "create", "ok", "--model", "llama3.2", "--base-url", "http://localhost:11434/v1")
    one_error_line(cli("agents", "update", "ok", "--base-url", url, code=2))
    assert cli.json("agents", "show", "ok")["base_url"] == "http://localhost:11434/v1"


# ---- a reader that goes away (item 16) ----


def read_a_line_and_close(*args: str) -> tuple[int, bytes, bytes]:
    """Run agentik with its stdout in a real pipe, read one line, close the pipe (as `| head -1`)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "agentik_cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    error = process.stderr.read()
    return process.wait(timeout=60), first, error


@pytest.mark.slow
def test_a_closed_pipe_ends_a_listing_quietly(cli, tmp_path):
    rows = tmp_path / "many.jsonl"
    record = {"model": "gpt-4o", "provider": "openai", "input_tokens": 1, "output_tokens": 1, "endpoint": "x" * 100}
    rows.write_text((json.dumps(record) + "\n") * 3000)  # far more than a pipe's 64 KiB
    cli("costs", "import", str(rows))
    for args in (["costs", "list", "--csv", "--limit", "3000"], ["costs", "list", "--json", "--limit", "3000"]):
        code, first, error = read_a_line_and_close(*args)
        assert (code, error) == (0, b""), error
        assert first.startswith((b"id,", b"["))


@pytest.mark.slow
def test_a_chat_whose_reader_left_keeps_the_reply_so_far(helper, agentik_home):
    helper.add(Reply(text=words(4000), delay=0.005))
    code, first, error = read_a_line_and_close("chat", "helper", "-m", "write a lot")
    assert (code, error) == (0, b""), error
    rows = db_rows(agentik_home, "SELECT role, content, interrupted FROM messages ORDER BY id")
    assert [(role, interrupted) for role, _, interrupted in rows] == [("user", 0), ("assistant", 1)]
    assert rows[1][1].startswith(first.decode().rstrip("\n")) and len(rows[1][1]) < len(words(4000))


# ---- shell completion (item 16) ----


INSTALLED = {
    "bash": ".bash_completions/agentik.sh",
    "zsh": ".zfunc/_agentik",
    "fish": ".config/fish/completions/agentik.fish",
}


@pytest.mark.parametrize("shell", sorted(INSTALLED))
def test_install_completion_writes_agentiks_own_script(tmp_path, shell):
    env = {"HOME": str(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    result = run("--install-completion", shell, env=env)
    assert result.returncode == 0, result.stderr
    ours = (ROOT / "completions" / f"agentik.{shell}").read_text()
    assert (tmp_path / INSTALLED[shell]).read_text() == ours
    shown = run("--show-completion", shell, env=env)
    assert shown.stdout.decode() == ours
    if shell == "bash":
        assert "compopt -o filenames" in ours
        assert str(tmp_path / INSTALLED[shell]) in (tmp_path / ".bashrc").read_text()


def test_a_base_url_with_a_key_in_it_is_refused_without_echoing_it(cli):
    for url in ("http://127.0.0.1:8000/v1?api-key=sk-query123456", "http://u:sk-secret123456@127.0.0.1:99999"):
        result = cli("agents", "create", "q", "--model", "gpt-4o", "--base-url", url, code=2)
        assert "sk-" not in result.stderr
