"""`costs import` of a big JSONL file, parsed by forked processes while the importer writes (issue
22): the same rows, priced the same way, the same first bad line named and nothing written, as when
the importer parses the file itself. The file is made "big" by lowering the threshold, and cut into
blocks of a few lines, so that lines and their prices cross blocks and parsers."""

from __future__ import annotations

import json
import os
import signal

import pytest

from agentik_cli.services import cost_rows, costs
from tests.conftest import db_rows
from tests.services import test_costs_import_rows as in_process


@pytest.fixture
def forked(monkeypatch, tmp_path):
    """Every JSONL import parsed by the forked parsers, 500 characters (a few lines) a block; the
    pid of the process that parsed each block is listed in a file."""
    monkeypatch.setattr(costs, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(costs, "BLOCK_CHARS", 500)
    pids = tmp_path / "parsed-by"
    parse = cost_rows.parse_block

    def noted(*args):
        with pids.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return parse(*args)

    monkeypatch.setattr(cost_rows, "parse_block", noted)
    return lambda: [int(pid) for pid in pids.read_text().split()]


def test_forked_parsers_price_every_row_as_the_book_does(forked, cli, tmp_path, agentik_home):
    in_process.test_every_row_is_priced_as_the_book_prices_it_at_its_time(cli, tmp_path, agentik_home)
    assert len(forked()) > 100  # many blocks
    assert os.getpid() not in forked()  # none parsed here


def test_forked_parsers_keep_the_line_numbers(forked, cli, tmp_path, agentik_home):
    in_process.test_blank_lines_keep_the_line_numbers(cli, tmp_path, agentik_home)
    assert forked() and os.getpid() not in forked()


def test_forked_parsers_name_the_first_bad_line_and_write_nothing(forked, cli, tmp_path, agentik_home):
    good = {"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 10, "output_tokens": 1}
    lines = [json.dumps(good)] * 300
    lines[211] = json.dumps({**good, "agent": "nobody"})
    lines[250] = "{not json"
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = cli("costs", "import", str(path), code=2)
    assert result.stderr.splitlines()[0] == "agentik: error: line 212: unknown agent 'nobody'"
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]
    assert db_rows(agentik_home, "SELECT count(*) FROM cost_totals") == [(0,)]
    lines[211] = json.dumps(good)
    path.write_text("\n".join(lines) + "\n")
    result = cli("costs", "import", str(path), code=2)
    assert result.stderr.splitlines()[0].startswith("agentik: error: line 251: not valid JSON")
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]


def test_forked_parsers_look_agents_up_through_their_own_connection(forked, cli, tmp_path, agentik_home):
    """The parsers are forked inside the importer's write transaction: an agent is found all the same."""
    cli("agents", "create", "importer", "--model", "gpt-4o-mini")
    good = {"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 10, "output_tokens": 1}
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({**good, "agent": "importer"}) + "\n" for _ in range(200)))
    assert cli("costs", "import", str(path)).stdout == "200\n"
    assert db_rows(agentik_home, "SELECT agent_name, count(*) FROM costs GROUP BY agent_name") == [("importer", 200)]
    assert db_rows(agentik_home, "SELECT agent_name, calls FROM cost_totals") == [("importer", 200)]


@pytest.mark.parametrize("end", ["\r\n", "\r"])
def test_blocks_number_lines_of_every_line_end(forked, cli, tmp_path, agentik_home, end):
    """A file written on Windows (or an old Mac): its lines are the same lines, numbered the same."""
    good = json.dumps({"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 10, "output_tokens": 1})
    lines = [good] * 120
    lines[97] = json.dumps({"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 10})
    path = tmp_path / "rows.jsonl"
    path.write_bytes(end.join(lines).encode() + end.encode())
    result = cli("costs", "import", str(path), code=2)
    assert result.stderr.splitlines()[0] == "agentik: error: line 98: missing output_tokens"
    lines[97] = good
    path.write_bytes(end.join(lines).encode())
    assert cli("costs", "import", str(path)).stdout == "120\n"


def test_a_forked_parser_leaves_ctrl_c_to_the_importer(forked, monkeypatch, cli, tmp_path, agentik_home):
    """Ctrl-C reaches the whole foreground group: a parser ignores it (one that did not would die of
    it, and the import with it), the importer alone stops the import."""
    good = {"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 10, "output_tokens": 1}
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(good) + "\n" for _ in range(50)))
    started = cost_rows.parser_started

    def interrupted(*args):
        started(*args)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(cost_rows, "parser_started", interrupted)
    assert cli("costs", "import", str(path)).stdout == "50\n"
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(50,)]
