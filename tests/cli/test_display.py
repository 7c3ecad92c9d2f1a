"""What agentik shows can be trusted (issue 8, items 9, 10, 12, 13 and parts of 16): an unknown cost
never reads as $0, an agent's money follows the ledger, text is never read as markup, a number
always means an id, search words are never wildcards, and money in JSON and CSV is plain decimal."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import db_execute, db_rows
from tests.fakeprovider import Reply

# gpt-4o-mini costs $0.15 per million input tokens: 73 tokens are $0.00001095, which float repr
# writes as 1.095e-05
TINY_INPUT = 73
TINY = "0.00001095"


def by_agent(cli, name: str) -> dict:
    rows = [r for r in cli.json("costs", "by-agent") if r["agent"] == name]
    assert len(rows) == 1, rows
    return rows[0]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def table_row(text: str, first_cell: str) -> str:
    lines = [line for line in text.splitlines() if line.split() and line.split()[0] == first_cell]
    assert len(lines) == 1, text
    return lines[0]


# -- 9. unpriced spend is never shown as $0 -------------------------------------------------------


@pytest.fixture
def spend(cli, fake):
    """`local`: one chat on a model with no price. `mixed`: one priced chat and one unpriced call."""
    cli("agents", "create", "local", "--model", "llama-local", "--provider", "openai")
    cli("agents", "create", "mixed", "--model", "gpt-4o-mini")
    fake.add(
        Reply(text="Hi.", input_tokens=30, output_tokens=10), Reply(text="Yo.", input_tokens=1000, output_tokens=0)
    )
    cli("chat", "local", "-m", "hello")
    cli("chat", "mixed", "-m", "hello")  # 1000 * $0.15/M = $0.00015
    cli(
        "costs", "record", "--model", "llama-local", "--provider", "openai", "--input-tokens", "5",
        "--output-tokens", "5", "--agent", "mixed",
    )  # fmt: skip
    return fake


def test_unpriced_spend_reads_as_unpriced_in_every_table(cli, spend):
    listing = cli("agents", "list").stdout
    assert "unpriced" in table_row(listing, "1") and "$" not in table_row(listing, "1")
    assert "$0.00015 +1 unpriced" in table_row(listing, "2")
    assert "$0.00 " not in listing
    stats = cli("agents", "stats").stdout
    assert "unpriced" in table_row(stats, "local") and "$" not in table_row(stats, "local")
    assert "$0.00015 +1 unpriced" in table_row(stats, "mixed")
    assert "$0.00 " not in stats
    show = cli("agents", "show", "local").stdout
    assert [line.split(None, 1)[1].strip() for line in show.splitlines() if line.startswith("cost")] == ["unpriced"]
    assert "$0.00015 +1 unpriced" in cli("agents", "show", "mixed").stdout
    sessions = cli("sessions", "list").stdout
    assert "unpriced" in table_row(sessions, "1") and "$" not in table_row(sessions, "1")
    transcript = cli("sessions", "show", "1", "--markdown").stdout
    assert "- Cost: unpriced\n" in transcript
    assert "llama-local · unpriced*" in transcript  # the reply's own line


def test_every_money_total_in_json_and_csv_carries_unpriced_calls(cli, spend):
    stats = cli.json("agents", "stats", "local")
    assert (stats["total_cost"], stats["unpriced_calls"]) == (0.0, 1)
    assert [(s["name"], s["unpriced_calls"]) for s in cli.json("agents", "stats")] == [("local", 1), ("mixed", 1)]
    assert [a["stats"]["unpriced_calls"] for a in cli.json("agents", "list")] == [1, 1]
    assert cli.json("agents", "show", "mixed")["stats"]["unpriced_calls"] == 1
    assert [r["unpriced_calls"] for r in csv_rows(cli("agents", "list", "--csv").stdout)] == ["1", "1"]
    assert [r["unpriced_calls"] for r in csv_rows(cli("sessions", "list", "--csv").stdout)] == ["0", "1"]


def test_money_helper():
    from agentik_cli.cli.render import money

    assert money(1_200_000) == "$0.0012"
    assert money(1_200_000, 2) == "$0.0012 +2 unpriced"
    assert money(0, 2) == "unpriced"
    assert money(None) == "unpriced"
    assert money(0) == "$0.00"
    assert money(12_346_000_000, 1500) == "$12.35 +1,500 unpriced"


# -- 10. counts follow what exists; tokens, cost and unpriced calls follow the ledger ---------------


def test_agent_money_follows_the_ledger_when_a_session_goes(cli, spend, agentik_home):
    spend.add(Reply(text="More.", input_tokens=2000, output_tokens=100))
    cli("chat", "mixed", "-c", "-m", "more")
    before = cli.json("agents", "stats", "mixed")
    assert (before["sessions"], before["messages"]) == (1, 4)
    session_id = db_rows(agentik_home, "SELECT id FROM sessions WHERE agent_id = 2")[0][0]
    cli("sessions", "remove", session_id, "--yes")
    after = cli.json("agents", "stats", "mixed")
    # counts of things follow what exists
    assert (after["sessions"], after["messages"]) == (0, 0)
    # money spent stays spent: the agent's figures are its row of the ledger
    ledger = by_agent(cli, "mixed")
    for key in ("input_tokens", "output_tokens", "unpriced_calls"):
        assert after[key] == ledger[key] == before[key], key
    assert after["total_cost"] == ledger["cost"] == before["total_cost"]
    assert (after["input_tokens"], after["unpriced_calls"]) == (3005, 1)
    shown = cli.json("agents", "show", "mixed")["stats"]
    assert {k: shown[k] for k in ("input_tokens", "output_tokens", "total_cost", "unpriced_calls")} == {
        k: after[k] for k in ("input_tokens", "output_tokens", "total_cost", "unpriced_calls")
    }


def test_agent_money_drops_when_the_ledger_rows_go(cli):
    cli("agents", "create", "batch", "--model", "gpt-4o-mini")
    for at, tokens in (("400d", "1000000"), ("1h", "2000000")):
        cli(
            "costs", "record", "--model", "gpt-4o-mini", "--provider", "openai", "--input-tokens", tokens,
            "--output-tokens", "0", "--agent", "batch", "--at", at,
        )  # fmt: skip
    cli("costs", "record", "--model", "x-unpriced", "--provider", "openai", "--input-tokens", "1",
        "--output-tokens", "1", "--agent", "batch", "--at", "400d")  # fmt: skip
    assert cli.json("agents", "stats", "batch")["total_cost"] == 0.45
    cli("costs", "cleanup", "--older-than", "365", "--yes")
    stats = cli.json("agents", "stats", "batch")
    ledger = by_agent(cli, "batch")
    assert (stats["input_tokens"], stats["total_cost"], stats["unpriced_calls"]) == (2_000_000, 0.3, 0)
    assert (ledger["input_tokens"], ledger["cost"], ledger["unpriced_calls"]) == (2_000_000, 0.3, 0)


def test_a_listing_reads_every_agents_figures_in_one_query(cli, store):
    from sqlalchemy import event

    from agentik_cli.services import agents

    for name in ("a", "b", "c"):
        cli("agents", "create", name, "--model", "gpt-4o-mini")
        cli("costs", "record", "--model", "gpt-4o-mini", "--provider", "openai", "--input-tokens", "10",
            "--output-tokens", "1", "--agent", name)  # fmt: skip
    found = agents.list_agents(store)
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if "cost_totals" in statement:
            statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        figures = agents.ledger_figures(store, found)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert [f.input_tokens for f in figures] == [10, 10, 10]


# -- 12. text is never read as markup ------------------------------------------------------------

NASTY = ("[/INST]", "[x] done [beta]", "[bold red]x[/]", ":smile:")


@pytest.fixture
def nasty(cli, fake):
    cli(
        "agents", "create", "[/INST]", "--model", "gpt-4o-mini", "--description", "[x] done [beta]",
        "--system", "[bold red]x[/] :smile:",
    )  # fmt: skip
    cli("agents", "create", ":smile:", "--model", "gpt-4o-mini", "--description", "[bold red]x[/]")
    fake.add(Reply(text="Answer: [x] done [beta] [bold red]x[/] :smile: [/INST] end", input_tokens=10))
    cli("chat", "[/INST]", "-m", "[x] done [beta] [/INST] [bold red]x[/] :smile:")
    return fake


def assert_all_shown(text: str, *pieces: str) -> None:
    for piece in pieces or NASTY:
        assert piece in text, f"{piece!r} missing from:\n{text}"


def test_agent_listings_show_brackets_as_typed(cli, nasty):
    assert_all_shown(cli("agents", "list").stdout, "[/INST]", ":smile:")
    assert_all_shown(cli("agents", "show", "[/INST]").stdout)
    assert_all_shown(cli("agents", "show", ":smile:").stdout, ":smile:", "[bold red]x[/]")
    assert_all_shown(cli("agents", "stats").stdout, "[/INST]", ":smile:")
    assert_all_shown(cli("agents", "search", "x").stdout, "[/INST]", "[x] done [beta]", ":smile:", "[bold red]x[/]")
    cli("agents", "default", "[/INST]")
    assert cli("agents", "default").stdout == "[/INST]\n"
    assert "updated agent [/INST] (1)" in cli("agents", "update", "[/INST]", "--description", "d").stderr


def test_session_listings_show_brackets_as_typed(cli, nasty, monkeypatch):
    from agentik_cli.cli import render

    message = "[x] done [beta] [/INST] [bold red]x[/] :smile:"
    assert_all_shown(cli("sessions", "list").stdout)
    assert_all_shown(cli("sessions", "recent").stdout)
    assert_all_shown(cli("sessions", "search", "done").stdout, "[/INST]", "[x] done [beta]", "[bold red]x[/]")
    assert_all_shown(cli("sessions", "show", "1", "--markdown").stdout, message)
    # on a terminal the transcript is rendered Markdown: still no markup
    monkeypatch.setattr(render, "stdout_is_terminal", lambda: True)
    shown = cli("sessions", "show", "1").stdout
    assert_all_shown(shown)
    assert "Answer: [x] done [beta] [bold red]x[/] :smile: [/INST] end" in shown
    cli("sessions", "rename", "1", "[/INST] [x] done [beta]")
    assert "[/INST] [x] done [beta]" in cli("sessions", "list").stdout
    assert "[/INST]" in cli("costs", "by-agent").stdout
    assert "[/INST]" in cli("costs", "list").stdout


def test_errors_notes_and_warnings_show_brackets_as_typed(cli, nasty):
    failed = cli("agents", "show", "[bold]nobody[/bold]", code=1)
    assert "no agent named '[bold]nobody[/bold]'" in failed.stderr
    cli("agents", "create", "[b]t[/b]", "--model", "claude-sonnet-4-0", "--temperature", "0.5")
    removed = cli("agents", "remove", "[b]t[/b]", "--yes")
    assert "removed agent [b]t[/b]" in removed.stderr


def test_consoles_and_cells_never_read_markup(capsys):
    from agentik_cli.cli import render

    render.print_table(["name", "n"], [["[/INST]", 1], ["[x] done [beta]", 2], ["[bold red]x[/] :smile:", 3]])
    render.print_fields([("[k]", "[/INST]"), ("b", "[x] done [beta]")])
    render.note("note [/INST] :smile:")
    render.warn("warn [x] done [beta]")
    render.out().print("[bold red]x[/]")
    render.err().print("[/INST]")
    out, err = capsys.readouterr()
    assert_all_shown(out)
    assert "[k]" in out
    assert_all_shown(err, "note [/INST] :smile:", "warn [x] done [beta]", "[/INST]")


def test_streamed_markdown_shows_brackets_as_typed(monkeypatch):
    from agentik_cli.cli.render_stream import MarkdownPrinter

    sink = io.StringIO()
    monkeypatch.setattr(sys, "stdout", sink)
    printer = MarkdownPrinter()
    printer.thinking("thinking [/INST] :smile:")
    for chunk in ("First [x] done ", "[beta]\n\nthen [bold red]x[/] ", ":smile: [/INST]"):
        printer.text(chunk)
    printer.close()
    assert_all_shown(sink.getvalue(), *NASTY, "thinking [/INST] :smile:")


# -- 13. a number is always an id ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["1", "0012", "  12  ", "١٢", "²", "12\n"])
def test_a_name_made_of_digits_is_refused(cli, agentik_home, name):
    result = cli("agents", "create", name, "--model", "gpt-4o-mini", code=2)
    assert "only digits" in result.stderr and "Traceback" not in result.stderr
    assert db_rows(agentik_home, "SELECT count(*) FROM agents") == [(0,)]


def test_a_new_name_made_of_digits_is_refused(cli, agentik_home):
    cli("agents", "create", "helper", "--model", "gpt-4o-mini")
    cli("agents", "update", "helper", "--name", "7", code=2)
    assert db_rows(agentik_home, "SELECT name FROM agents") == [("helper",)]


def test_control_characters_and_blank_names_are_refused(cli, agentik_home):
    cli("agents", "create", "a\nb", "--model", "gpt-4o-mini", code=2)
    cli("agents", "create", "a\tb", "--model", "gpt-4o-mini", code=2)
    cli("agents", "create", "   ", "--model", "gpt-4o-mini", code=2)
    assert cli.json("agents", "create", "  spaced  ", "--model", "gpt-4o-mini")["name"] == "spaced"
    assert cli.json("agents", "show", " SPACED ")["name"] == "spaced"


def test_a_number_means_the_id_even_beside_a_legacy_digit_name(cli, agentik_home):
    for name in ("first", "second", "legacy"):
        cli("agents", "create", name, "--model", "gpt-4o-mini")
    # a store from before digit names were refused: agent 3 is named "1"
    db_execute(agentik_home, ("UPDATE agents SET name = '1', name_key = '1' WHERE id = 3", ()))
    assert cli.json("agents", "show", "1")["name"] == "first"
    assert cli.json("agents", "show", "0001")["name"] == "first"
    cli("costs", "record", "--model", "gpt-4o-mini", "--provider", "openai", "--input-tokens", "1",
        "--output-tokens", "1", "--agent", "1")  # fmt: skip
    assert db_rows(agentik_home, "SELECT agent_id FROM costs") == [(1,)]
    cli("agents", "remove", "1", "--yes")
    assert db_rows(agentik_home, "SELECT id, name FROM agents ORDER BY id") == [(2, "second"), (3, "1")]
    # the legacy agent is still reachable by its id, and the miss says so
    assert cli.json("agents", "show", "3")["name"] == "1"
    missing = cli("agents", "show", "1", code=1)
    assert "no agent with id 1" in missing.stderr and "has id 3" in missing.stderr
    cli("agents", "update", "3", "--name", "renamed")
    assert cli.json("agents", "show", "renamed")["id"] == 3


def test_an_id_past_64_bits_is_a_usage_error(cli, tmp_path):
    cli("agents", "create", "a", "--model", "gpt-4o-mini")
    result = cli("agents", "show", "99999999999999999999", code=2)
    assert result.stderr.startswith("agentik: error:") and "Traceback" not in result.stderr
    cli("sessions", "list", "--agent", "99999999999999999999", code=2)
    # in an import it is a bad row like any unknown agent, and the error names its line
    usage = tmp_path / "usage.jsonl"
    row = {"model": "gpt-4o", "provider": "openai", "input_tokens": 1, "output_tokens": 1}
    usage.write_text(json.dumps(row) + "\n" + json.dumps({**row, "agent": "99999999999999999999"}) + "\n")
    failed = cli("costs", "import", str(usage), code=2)
    assert "line 2" in failed.stderr and "99999999999999999999" in failed.stderr


# -- 16. search words are not wildcards; money in JSON and CSV is plain decimal --------------------


def test_agent_search_takes_percent_and_underscore_literally(cli):
    cli("agents", "create", "plain", "--model", "gpt-4o-mini", "--description", "nothing special")
    cli("agents", "create", "snake_case", "--model", "gpt-4o-mini")
    cli("agents", "create", "pct", "--model", "gpt-4o-mini", "--system", "Answer 100% of the time.")
    cli("agents", "create", "slash", "--model", "gpt-4o-mini", "--description", r"C:\temp")
    assert [a["name"] for a in cli.json("agents", "search", "_")] == ["snake_case"]
    assert [a["name"] for a in cli.json("agents", "search", "%")] == ["pct"]
    assert [a["name"] for a in cli.json("agents", "search", "0%")] == ["pct"]
    assert [a["name"] for a in cli.json("agents", "search", "\\")] == ["slash"]
    assert [a["name"] for a in cli.json("agents", "search", "e_c")] == ["snake_case"]


def assert_plain(text: str) -> None:
    assert TINY in text, text
    assert "e-0" not in text and "E-0" not in text, text


def test_money_in_json_and_csv_is_plain_decimal(cli, fake):
    cli("agents", "create", "mini", "--model", "gpt-4o-mini")
    fake.add(Reply(text="ok", input_tokens=TINY_INPUT, output_tokens=0))
    chat = cli("chat", "mini", "-m", "hi", "--json").stdout
    assert_plain(chat)
    assert json.loads(chat)["cost"]["total"] == 0.00001095
    for args in (
        ("costs", "list", "--json"),
        ("costs", "list", "--csv"),
        ("costs", "summary", "--json"),
        ("costs", "by-agent", "--json"),
        ("costs", "by-model", "--csv"),
        ("costs", "history", "--json"),
        ("agents", "list", "--csv"),
        ("agents", "list", "--json"),
        ("agents", "stats", "--json"),
        ("sessions", "list", "--json"),
        ("sessions", "list", "--csv"),
        ("sessions", "show", "1", "--json"),
    ):
        assert_plain(cli(*args).stdout)
    assert json.loads(cli("costs", "summary", "--json").stdout)["total"] == 0.00001095
    assert csv_rows(cli("agents", "list", "--csv").stdout)[0]["total_cost"] == TINY


def test_json_writer_matches_the_json_module_but_for_numbers():
    from decimal import Decimal

    from agentik_cli.cli import render

    data = {"a": [1, {"b": None, "c": True}, [], {}], "é": 'quote " and\nnewline', "n": -3}
    assert render.to_json(data) == json.dumps(data, indent=2, ensure_ascii=False)
    assert render.to_json(data, indent=None) == json.dumps(data, ensure_ascii=False)
    assert render.to_json([1.095e-05, 2.0, 0.3, 1e16, Decimal("0.000001230"), 0.1 + 0.2]) == (
        "[\n  0.00001095,\n  2.0,\n  0.3,\n  10000000000000000.0,\n  0.00000123,\n  0.3\n]"
    )
    assert json.loads(render.to_json({"x": 1.095e-05})) == {"x": 1.095e-05}


def test_csv_cells_are_plain_decimal(capsys):
    from agentik_cli.cli import render

    render.print_csv(
        [{"cost": 1.095e-05, "n": 3, "tags": ["a", "b"], "meta": {"x": 1e-07}}], ["cost", "n", "tags", "meta"]
    )
    assert capsys.readouterr().out == 'cost,n,tags,meta\n0.00001095,3,a;b,"{""x"": 0.0000001}"\n'


# -- issue 9: control characters reach no terminal raw; a closed pipe is how output ends ----------

# an OSC that retitles the window and rings, a clear screen, colours, a carriage return that hides
# what came before, a C1 CSI, a right-to-left override
HOSTILE = "see \x1b]0;pwned\x07 \x1b[2J\x1b[31mred\x1b[0m \rover \x9b1m \u202eevil"
SHOWN = ("\\x1b]0;pwned\\x07", "\\x1b[2J\\x1b[31mred\\x1b[0m", "\\rover", "\\x9b1m", "\\u202eevil")
RAW = ("\x1b]0;", "\x07", "\x1b[2J", "\x1b[31mred", "\rover", "\x9b", "\u202e")


def assert_escaped(text: str, *shown: str) -> None:
    text = text.replace("\n", "")  # a table cell may wrap anywhere
    for piece in RAW:
        assert piece not in text, f"{piece!r} reached the terminal:\n{text!r}"
    for piece in shown or SHOWN:
        assert piece in text, f"{piece!r} missing from:\n{text!r}"


def terminal(**given):
    """A terminal as the environment sees it: what is written is kept for the test to read."""
    from agentik_cli.environment import Environment

    streams = {"stdout": io.StringIO(), "stderr": io.StringIO(), "stdout_isatty": True, "stderr_isatty": True}
    return Environment(**{**streams, **given})


@pytest.fixture
def hostile(cli, fake):
    cli("agents", "create", "h", "--model", "gpt-4o-mini", "--description", HOSTILE, "--system", HOSTILE)
    fake.add(Reply(text="reply " + HOSTILE))
    cli("chat", "h", "-m", "ask " + HOSTILE)
    cli("sessions", "rename", "1", "title " + HOSTILE)
    cli(
        "costs",
        "record",
        "--model",
        "m" + HOSTILE,
        "--provider",
        "openai",
        "--input-tokens",
        "1",
        "--output-tokens",
        "1",
        "--channel",
        "c" + HOSTILE,
    )
    return fake


@pytest.mark.parametrize("color", [True, False])
def test_stored_text_is_shown_escaped_on_a_terminal(cli, hostile, color):
    from agentik_cli import environment

    assert_escaped(cli("agents", "stats").stdout, "h")
    commands = [
        ("agents", "show", "h"),
        ("agents", "search", "see"),
        ("sessions", "list"),
        ("sessions", "show", "1"),
        ("sessions", "recent"),
        ("costs", "list"),
        ("costs", "by-model"),
    ]
    for args in commands:
        with environment.use(terminal(no_color=not color)) as env:
            cli(*args, env={"COLUMNS": "400"})
        shown = env.stdout.getvalue()
        assert_escaped(shown, "pwned")  # the narrow listings may cut the rest short
        if not color:
            assert "\x1b" not in shown, args  # no colour: not one escape sequence of rich's either
    # data stays data: JSON and CSV carry the text exactly as stored
    assert cli.json("agents", "show", "h")["description"] == HOSTILE
    assert cli.json("sessions", "show", "1")["messages"][1]["content"] == "reply " + HOSTILE
    assert HOSTILE in csv_rows(cli("agents", "list", "--csv").stdout)[0]["description"]


def test_errors_notes_and_warnings_are_shown_escaped(cli, hostile):
    from agentik_cli import environment

    with environment.use(terminal(no_color=True)) as env:
        cli("agents", "show", "x" + HOSTILE, code=1)
        cli("agents", "update", "h", "--description", "d" + HOSTILE)
        cli(
            "costs",
            "record",
            "--model",
            "n" + HOSTILE,
            "--provider",
            "openai",
            "--input-tokens",
            "1",
            "--output-tokens",
            "1",
        )
    shown = env.stderr.getvalue()
    assert_escaped(shown)
    assert "agentik: error: no agent named 'x" + "see \\x1b]0;pwned\\x07" in shown
    assert "agentik: warning: no price known for n" in shown


def test_a_streamed_reply_is_shown_escaped_on_a_terminal(cli, fake):
    from agentik_cli import environment

    cli("agents", "create", "h", "--model", "gpt-4o-mini")
    fake.add(Reply(text="# Title\n\nline " + HOSTILE + "\n\n```\ncode " + HOSTILE + "\n```\n\nlast\ttab", chunks=9))
    with environment.use(terminal()) as env:
        cli("chat", "h", "-m", "hi")
    shown = env.stdout.getvalue()
    assert_escaped(shown)
    assert shown.count("\\x1b]0;pwned\\x07") == 2
    # piped, the reply is the program's data: exactly as it came
    fake.add(Reply(text=HOSTILE))
    assert cli("chat", "h", "-m", "again").stdout == HOSTILE + "\n"


def test_the_escaping_rule():
    from agentik_cli.cli.render import safe_text

    assert safe_text("a\tb\nc") == "a\tb\nc"
    assert safe_text("\x00\x08\x0b\x0c\r\x1b\x7f\x85\x9f") == "\\0\\b\\v\\f\\r\\x1b\\x7f\\x85\\x9f"
    assert safe_text("\u202a\u202e\u2066\u2069 é 中文 🙂 \u200d") == "\\u202a\\u202e\\u2066\\u2069 é 中文 🙂 \u200d"


def run_into_closed_pipe(home, *args: str, closed: str = "stdout") -> subprocess.CompletedProcess:
    """The command with its stdout (or stderr) a pipe whose reader has gone, as `agentik ... | true`
    ends up when `true` has exited: deterministic, unlike a real `| true`."""
    from tests.conftest import base_env

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        streams = {"stdout": write_end, "stderr": subprocess.PIPE}
        if closed == "stderr":
            streams = {"stdout": subprocess.PIPE, "stderr": write_end}
        return subprocess.run(
            [sys.executable, "-m", "agentik_cli", *args],
            # unbuffered, each write meets the closed pipe at once, not in the final flush
            env=base_env(home, PYTHONUNBUFFERED="1"),
            text=True,
            timeout=120,
            **streams,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [("--version",), ("--help",), ("agents", "--help"), ("agents",), ("agents", "list"), ("agents", "list", "--json")],
)
def test_a_reader_that_went_away_is_a_quiet_exit_0(cli, agentik_home, args):
    """As ripgrep does (git dies of SIGPIPE, 141): `agentik agents list | head -1` under `set -o
    pipefail` must not fail. rich used to exit 1 (Console.on_broken_pipe), and Click wrote help and
    the version outside any command."""
    cli("agents", "create", "a", "--model", "gpt-4o-mini", "--description", "d" * 5000)
    result = run_into_closed_pipe(agentik_home, *args)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.slow
def test_a_closed_stderr_stops_nothing(cli, agentik_home):
    result = run_into_closed_pipe(agentik_home, "agents", "list", closed="stderr")  # "no agents yet" on stderr
    assert result.returncode == 0
    result = run_into_closed_pipe(agentik_home, "agents", "create", "b", "--model", "gpt-4o-mini", closed="stderr")
    assert result.returncode == 0
    assert [a["name"] for a in cli.json("agents", "list")] == ["b"]
