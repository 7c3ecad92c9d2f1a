"""Usage beyond a call's worst case (issue 21, item 5): a server that reports more output tokens
than max_tokens, or more prompt tokens than the ceiling the reservation used, is recorded as
reported (what the provider bills), the cost row marked `over_limit`, the reports counting
`over_limit_calls` beside `estimated_calls`, and one warning line giving both numbers. Through the
real SDKs against the local fake server, both wire formats, streamed and not, on both stores."""

from __future__ import annotations

import pytest

from tests.conftest import db_rows
from tests.fakeprovider import Reply

PROMPT = "hi"
# what agentik holds for the prompt "hi" (providers.tokens.ceiling_prompt): its 2 bytes and 16 tokens
# of framing for it and for the request, the agent having no system prompt and no tools
CEILING = 2 + 16 * 2

# model, provider, the warning's dollars for 100,000 output tokens (and 20 in) against a worst case
# of CEILING prompt tokens at the dearest input rate and 100 output tokens:
# claude-sonnet-4-0 ($3 in, $3.75 cache write, $15 out a million): 20 x 3 + 100,000 x 15 = $1.50006;
#   34 x 3.75 + 100 x 15 = $0.0016275, shown to six places as $0.001628 (half to even)
# gpt-4o-mini ($0.15 in, $0.60 out): 20 x 0.15 + 100,000 x 0.6 = $0.060003; 34 x 0.15 + 100 x 0.6 = $0.0000651
MODELS = {
    "anthropic": ("claude-sonnet-4-0", "$1.50", "$0.001628", 1.50006),
    "openai": ("gpt-4o-mini", "$0.060003", "$0.000065", 0.060003),
}
STREAMED = {"streamed": [], "not streamed": ["--no-stream"]}


@pytest.fixture(params=sorted(MODELS))
def provider(request, cli):
    model = MODELS[request.param][0]
    cli("agents", "create", "small", "--model", model, "--max-tokens", "100")
    return request.param


@pytest.fixture(params=sorted(STREAMED))
def stream_args(request):
    return STREAMED[request.param]


def over_limit_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "the server reported" in line]


def test_output_beyond_max_tokens_is_recorded_as_reported_marked_and_warned_once(
    cli, fake, agentik_home, provider, stream_args
):
    model, reported, worst, cost = MODELS[provider]
    cli("budgets", "set", "--agent", "small", "--daily", "0.01")
    fake.default = Reply(text="ok", input_tokens=20, output_tokens=100_000)
    result = cli("chat", "small", *stream_args, "-m", PROMPT)
    # the request asked for 100 tokens at most
    body = fake.requests[-1].body
    assert body.get("max_tokens", body.get("max_completion_tokens")) == 100
    # one line, with both numbers in tokens and in dollars
    assert over_limit_lines(result.stderr) == [
        "agentik: warning: the server reported 100,000 output tokens for a call allowed 100 (max tokens): "
        f"recorded as reported ({reported}, against a worst case of {worst})"
    ]
    # recorded as reported, and marked
    (row,) = cli.json("costs", "list")
    assert (row["output_tokens"], row["input_tokens"], row["total_cost"]) == (100_000, 20, cost)
    assert row["over_limit"] is True and row["estimated"] is False
    assert db_rows(agentik_home, "SELECT output_tokens, over_limit FROM costs") == [(100_000, True)]
    # the budget shows the overspend: the call's worst case fitted under $0.01, what it cost does not
    (budget,) = cli.json("budgets", "list")
    assert budget["spent"] == cost and budget["percent"] == round(100 * cost / 0.01, 1) and budget["left"] == 0
    # the next call is refused by what was spent
    refused = cli("chat", "small", *stream_args, "-m", PROMPT, code=3)
    assert "refused by the daily budget of small" in refused.stderr
    assert len(fake.requests) == 1


def test_a_call_at_its_limits_is_not_marked(cli, fake, provider, stream_args):
    # exactly max_tokens out and exactly the ceiling in (cache reads among them): within the worst case
    fake.default = Reply(text="ok", input_tokens=CEILING, cache_read=10, output_tokens=100)
    result = cli("chat", "small", *stream_args, "-m", PROMPT)
    assert over_limit_lines(result.stderr) == []
    (row,) = cli.json("costs", "list")
    assert (row["input_tokens"], row["output_tokens"], row["over_limit"]) == (CEILING, 100, False)
    assert cli.json("costs", "summary")["over_limit_calls"] == 0


def test_prompt_tokens_beyond_the_ceiling_count_cache_reads_and_writes(cli, fake, provider, stream_args):
    # the uncached part alone (CEILING - 10) is within the ceiling; with the cache tokens it is 1 over
    fake.default = Reply(text="ok", input_tokens=CEILING + 1, cache_read=6, cache_write=5, output_tokens=50)
    result = cli("chat", "small", *stream_args, "-m", PROMPT)
    (line,) = over_limit_lines(result.stderr)
    assert line.startswith(
        f"agentik: warning: the server reported {CEILING + 1} prompt tokens for a prompt of at most {CEILING} "
    )
    assert "output tokens" not in line and ": recorded as reported ($" in line
    (row,) = cli.json("costs", "list")
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (CEILING + 1, 6, 5)
    assert row["over_limit"] is True


def test_an_estimate_is_never_over_limit(cli, fake):
    # an OpenAI-compatible server that sends no usage: agentik counts the reply itself (3 bytes a
    # token, erring high), 200 output tokens for 600 bytes, over max_tokens, but not what a server reported
    cli("agents", "create", "local", "--model", "gpt-4o-mini", "--max-tokens", "100")
    fake.default = Reply(text="word " * 120, usage=False)
    result = cli("chat", "local", "-m", PROMPT)
    (row,) = cli.json("costs", "list")
    assert row["estimated"] is True and row["output_tokens"] > 100
    assert row["over_limit"] is False and over_limit_lines(result.stderr) == []


def test_the_reports_count_over_limit_calls(cli, fake, provider):
    within = Reply(text="ok", input_tokens=20, output_tokens=10)
    beyond = Reply(text="ok", input_tokens=20, output_tokens=1_000)
    fake.script.extend([within, beyond, within])
    for _ in range(3):
        cli("chat", "small", "-m", PROMPT)
    model = MODELS[provider][0]
    summary = cli.json("costs", "summary")
    assert (summary["over_limit_calls"], summary["today_over_limit_calls"], summary["month_over_limit_calls"]) == (
        1,
        1,
        1,
    )
    assert [(m["model"], m["over_limit_calls"]) for m in summary["models"]] == [(model, 1)]
    # beside estimated_calls, in the JSON and the CSV alike
    keys = list(summary["models"][0])
    assert keys.index("over_limit_calls") == keys.index("estimated_calls") + 1
    for command in ("by-agent", "by-model", "by-provider", "by-user"):
        for window in ([], ["--since", "1d"]):  # the running totals, and the ledger
            (row,) = cli.json("costs", command, *window)
            assert (row["calls"], row["over_limit_calls"]) == (3, 1), (command, window)
    header = cli("costs", "by-model", "--csv").stdout.splitlines()[0]
    assert header.endswith(",estimated_calls,over_limit_calls")
    assert cli.json("costs", "history", "--days", "1")[-1]["over_limit_calls"] == 1  # the buckets
    assert cli.json("costs", "history", "--days", "1", "--agent", "small")[-1]["over_limit_calls"] == 1
    assert [r["over_limit"] for r in cli.json("costs", "list")] == [False, True, False]
    assert [s["over_limit_calls"] for s in cli.json("sessions", "list")] == [0, 1, 0]
    assert cli.json("agents", "show", "small")["stats"]["over_limit_calls"] == 1
    assert cli.json("agents", "stats")[0]["over_limit_calls"] == 1
    assert "over-limit calls" in cli("agents", "show", "small").stdout


def test_a_tool_loop_warns_once_per_call(cli, fake, agentik_home):
    cli("agents", "create", "looper", "--model", "claude-sonnet-4-0", "--max-tokens", "100", "--skill", "calc")
    call = {"name": "calc", "arguments": {"expression": "1+1"}}
    fake.script.extend(
        [
            Reply(text="", input_tokens=20, output_tokens=500, tool_calls=[call]),
            Reply(text="2", input_tokens=20, output_tokens=700),
        ]
    )
    result = cli("chat", "looper", "-m", "add")
    assert [line.split(" for a call")[0] for line in over_limit_lines(result.stderr)] == [
        "agentik: warning: the server reported 500 output tokens",
        "agentik: warning: the server reported 700 output tokens",
    ]
    assert db_rows(agentik_home, "SELECT output_tokens, over_limit FROM costs ORDER BY id") == [
        (500, True),
        (700, True),
    ]
    assert cli.json("costs", "summary")["over_limit_calls"] == 2


def test_recorded_and_imported_usage_is_never_over_limit(cli, helper_agent):
    record = ("costs", "record", "--model", "claude-sonnet-4-0", "--provider", "anthropic", "--agent", "small")
    row = cli.json(*record, "--input-tokens", "5000000", "--output-tokens", "1000000")
    assert row["over_limit"] is False
    lines = '{"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 9000000, "output_tokens": 9000000}\n'
    cli("costs", "import", "-", "--format", "jsonl", input=lines * 2)
    assert [r["over_limit"] for r in cli.json("costs", "list")] == [False, False, False]
    assert cli.json("costs", "summary")["over_limit_calls"] == 0


@pytest.fixture
def helper_agent(cli):
    cli("agents", "create", "small", "--model", "claude-sonnet-4-0", "--max-tokens", "100")


def test_db_copy_carries_the_mark_and_its_count(cli, fake, helper_agent, tmp_path):
    fake.script.extend([Reply(text="ok", input_tokens=20, output_tokens=1_000), Reply(text="ok", output_tokens=10)])
    cli("chat", "small", "-m", PROMPT)
    cli("chat", "small", "-m", PROMPT)
    target = tmp_path / "copy.db"
    cli("db", "copy", "--to", f"sqlite:///{target}", "--yes")
    import sqlite3

    with sqlite3.connect(target) as db:
        assert db.execute("SELECT output_tokens, over_limit FROM costs ORDER BY id").fetchall() == [(1_000, 1), (10, 0)]
        # the target's running totals moved by the copied rows count it, as its ledger does
        assert db.execute("SELECT sum(over_limit_calls) FROM cost_totals").fetchone() == (1,)
        assert db.execute("SELECT sum(over_limit_calls) FROM cost_buckets").fetchone() == (1,)
    assert cli.json("--db", str(target), "costs", "summary")["over_limit_calls"] == 1
