"""`agentik chat` through the real SDKs against the fake provider server."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from tests.conftest import db_rows, stored_bytes
from tests.fakeprovider import Reply


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def claude(cli, fake):
    cli(
        "agents",
        "create",
        "claude",
        "--model",
        "claude-sonnet-4-0",
        "--system",
        "You are terse.",
        "--temperature",
        "0.4",
    )
    return fake


@pytest.fixture
def gpt(cli, fake):
    cli(
        "agents",
        "create",
        "gpt",
        "--model",
        "gpt-4o-mini",
        "--system",
        "Be exact.",
        "--temperature",
        "0.3",
        "--max-tokens",
        "256",
    )
    return fake


def test_anthropic_one_shot_request_and_log(cli, claude, agentik_home):
    claude.add(Reply(text="Hi **there**.", input_tokens=1000, output_tokens=500, cache_read=200, cache_write=100))
    result = cli("chat", "claude", "-m", "hello")
    assert result.stdout == "Hi **there**.\n"  # piped: the raw text
    assert "1,000 in" in result.stderr and "500 out" in result.stderr and "$0.010035" in result.stderr
    request = claude.requests[0]
    assert request.path == "/v1/messages"
    assert request.headers["authorization"] == "Bearer sk-ant-test-key-0123456789"
    assert request.body["model"] == "claude-sonnet-4-0"
    assert request.body["system"] == "You are terse."
    assert request.body["max_tokens"] == 8192
    assert request.body["messages"] == [{"role": "user", "content": "hello"}]
    assert request.body["stream"] is True
    assert "temperature" not in request.body  # the API takes no sampling parameters
    messages = db_rows(
        agentik_home,
        "SELECT role, content, model, input_tokens, output_tokens, cost_nd, error, "
        "interrupted FROM messages ORDER BY id",
    )
    assert messages == [
        ("user", "hello", None, None, None, None, None, 0),
        ("assistant", "Hi **there**.", "claude-sonnet-4-0", 1000, 500, 10_035_000, None, 0),
    ]
    cost = db_rows(
        agentik_home,
        "SELECT agent_name, model, provider, input_tokens, output_tokens, cache_read_tokens, "
        "cache_write_tokens, input_cost_nd, output_cost_nd, total_cost_nd, channel, "
        "endpoint FROM costs",
    )
    assert cost == [
        (
            "claude",
            "claude-sonnet-4-0",
            "anthropic",
            1000,
            500,
            200,
            100,
            2_535_000,
            7_500_000,
            10_035_000,
            "cli",
            claude.url + "/v1/messages",
        )
    ]
    stats = cli.json("agents", "stats", "claude")
    assert stats["sessions"] == 1 and stats["messages"] == 2 and stats["total_cost"] == 0.010035
    assert stats["avg_response_ms"] is not None


def test_openai_one_shot_request_and_cost(cli, gpt, agentik_home):
    gpt.add(Reply(text="Four.", input_tokens=1000, output_tokens=100, cache_read=200))
    data = cli.json("chat", "gpt", "-m", "2+2?")
    request = gpt.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-openai-test-key-0123456789"
    assert request.body["messages"] == [{"role": "system", "content": "Be exact."}, {"role": "user", "content": "2+2?"}]
    assert request.body["temperature"] == 0.3
    assert request.body["max_completion_tokens"] == 256
    assert request.body["stream_options"] == {"include_usage": True}
    # 800 * 0.15 + 200 * 0.075 = 135 (input), 100 * 0.60 = 60 (output), per million
    assert data == {
        "session_id": 1,
        "message_id": 2,
        "content": "Four.",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "usage": {
            "input_tokens": 1000,
            "output_tokens": 100,
            "cache_read_tokens": 200,
            "cache_write_tokens": 0,
            "total_tokens": 1100,
            "estimated": False,
        },
        "cost": {"input": 0.000135, "output": 0.00006, "total": 0.000195},
        "response_ms": data["response_ms"],
        "rounds": 1,
        "tool_calls": [],
    }


def test_per_call_overrides_reach_the_request(cli, gpt):
    cli(
        "chat",
        "gpt",
        "-m",
        "x",
        "--model",
        "gpt-4o",
        "--system",
        "Other.",
        "--temperature",
        "1.5",
        "--max-tokens",
        "99",
    )
    body = gpt.requests[0].body
    assert body["model"] == "gpt-4o" and body["temperature"] == 1.5 and body["max_completion_tokens"] == 99
    assert body["messages"][0] == {"role": "system", "content": "Other."}


def test_reasoning_models_get_no_temperature(cli, fake):
    cli("agents", "create", "o", "--model", "o3-mini", "--temperature", "0.5")
    cli("chat", "o", "-m", "think")
    assert "temperature" not in fake.requests[0].body


def test_no_stream_json(cli, claude):
    claude.add(Reply(text="Whole.", thinking="hmm", input_tokens=10, output_tokens=3))
    data = cli.json("chat", "claude", "-m", "x", "--no-stream")
    assert "stream" not in claude.requests[0].body
    assert data["content"] == "Whole." and data["usage"]["output_tokens"] == 3


def test_thinking_is_not_content_and_not_piped(cli, claude, agentik_home):
    claude.add(Reply(text="The answer.", thinking="Let me think about this carefully."))
    result = cli("chat", "claude", "-m", "q")
    assert result.stdout == "The answer.\n"
    assert "think" not in result.stdout
    assert db_rows(agentik_home, "SELECT content FROM messages WHERE role='assistant'") == [("The answer.",)]


def test_piped_stdin_is_the_message(cli, gpt):
    cli("chat", "gpt", input="from a pipe\n")
    assert gpt.requests[0].body["messages"][-1] == {"role": "user", "content": "from a pipe\n"}


def test_piped_text_and_a_message_go_together(cli, gpt):
    """As llm users give them: `git diff | agentik chat reviewer -m "review this"` sends the piped
    text, a blank line, then the message, in one user message."""
    cli("chat", "gpt", "-m", "summarise this", input="line one\nline two\n")
    assert gpt.requests[0].body["messages"][-1] == {"role": "user", "content": "line one\nline two\n\nsummarise this"}
    cli("chat", "gpt", "-m", "just this", input="")  # an empty pipe (cron, </dev/null) adds nothing
    assert gpt.requests[1].body["messages"][-1] == {"role": "user", "content": "just this"}


@pytest.mark.slow
def test_piped_text_and_a_prompt_through_a_real_pipe(fake, cli, tmp_path):
    import subprocess
    import sys

    from tests.conftest import base_env

    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    env = base_env(ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="sk-ant-test-key-0123456789")
    done = subprocess.run(
        [sys.executable, "-m", "agentik_cli", "chat", "helper", "summarise this"],
        input=b"data\n",
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert fake.requests[-1].body["messages"][-1] == {"role": "user", "content": "data\n\nsummarise this"}


def test_a_prompt_argument_is_the_message(cli, claude, agentik_home):
    cli("chat", "claude", "what does a pool buy me?")
    assert claude.requests[0].body["messages"][-1] == {"role": "user", "content": "what does a pool buy me?"}
    result = cli("chat", "claude", "one", "-m", "two", code=2)
    assert result.stderr.splitlines() == ["agentik: error: give the message once: as PROMPT or with -m, not both"]
    cli("chat", "claude", "-c", "and a second?")  # with options, in any order
    assert len(claude.requests[1].body["messages"]) == 3


@pytest.mark.parametrize("status", ["paused", "archived"])
def test_an_agent_that_is_not_active_does_not_chat(cli, claude, agentik_home, status):
    cli("agents", "update", "claude", "--status", status)
    result = cli("chat", "claude", "-m", "hi", code=2)
    assert result.stderr.splitlines() == [
        f"agentik: error: claude is {status}: `agentik agents update claude --status active` lets it chat again"
    ]
    assert claude.requests == [] and db_rows(agentik_home, "SELECT count(*) FROM messages") == [(0,)]
    cli("agents", "update", "claude", "--status", "active")
    cli("chat", "claude", "-m", "hi")


def test_continue_and_session_send_the_whole_history(cli, claude):
    claude.add(Reply(text="first answer"), Reply(text="second answer"), Reply(text="third"))
    cli("chat", "claude", "-m", "first question")
    cli("chat", "claude", "-c", "-m", "second question")
    assert claude.requests[1].body["messages"] == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]
    cli("chat", "--session", "1", "-m", "third question")  # the session's agent, without naming it
    assert len(claude.requests[2].body["messages"]) == 5
    sessions = cli.json("agents", "stats", "claude")
    assert sessions["sessions"] == 1 and sessions["messages"] == 6


def test_session_of_another_agent_or_unknown(cli, claude, gpt):
    cli("chat", "claude", "-m", "hi")
    result = cli("chat", "gpt", "--session", "1", "-m", "hi", code=2)
    assert "belongs to another agent" in result.stderr
    result = cli("chat", "claude", "--session", "99", "-m", "hi", code=1)
    assert "no session 99" in result.stderr
    assert len(claude.requests) == 1


def test_first_use_creates_the_assistant(cli, fake, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    cli("chat", "-m", "hello")
    agent = cli.json("agents", "show", "assistant")
    assert agent["provider"] == "openai" and agent["model"] == "gpt-4o-mini"
    cli("chat", "-m", "again")  # the assistant is used when no agent is named
    assert len(cli.json("agents", "list")) == 1


def test_default_agent_is_used(cli, claude, gpt):
    cli("agents", "default", "gpt")
    cli("chat", "-m", "hi")
    assert claude.requests[0].path == "/v1/chat/completions"


def test_several_agents_and_no_default_is_a_usage_error(cli, claude, gpt):
    result = cli("chat", "-m", "hi", code=2)
    assert "agents default" in result.stderr
    assert claude.requests == []


def test_unknown_agent_suggests_m(cli, claude):
    result = cli("chat", "what is the time?", code=1, input="")
    assert "no agent named 'what is the time?'" in result.stderr and "-m" in result.stderr
    assert claude.requests == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-m", ""], 2, "the message is empty"),
        (["-m", "   "], 2, "the message is empty"),
        (["-m", "x", "--temperature", "3"], 2, "temperature must be between 0 and 2"),
        (["-m", "x", "--max-tokens", "0"], 2, "max tokens must be a positive number"),
        (["-m", "x", "--session", "1", "-c"], 2, "not both"),
    ],
)
def test_bad_input_sends_and_stores_nothing(cli, claude, agentik_home, args, code, message):
    result = cli("chat", "claude", *args, code=code)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert claude.requests == []
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(0,)]


def test_empty_stdin_is_refused(cli, claude):
    assert "empty" in cli("chat", "claude", input="  \n", code=2).stderr
    assert claude.requests == []


def test_missing_key_names_the_variable_and_command(cli, claude, monkeypatch, agentik_home):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = cli("chat", "claude", "-m", "hi", code=2)
    assert "ANTHROPIC_API_KEY" in result.stderr and "agentik keys set anthropic" in result.stderr
    assert claude.requests == []
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(0,)]


def test_stored_key_is_used(cli, claude, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    cli("keys", "set", "anthropic", input="sk-ant-from-the-file-1234\n")
    cli("chat", "claude", "-m", "hi")
    assert claude.requests[0].headers["authorization"] == "Bearer sk-ant-from-the-file-1234"


# ---- OpenAI-compatible servers ----


def test_compatible_server_gets_no_key_and_max_tokens(cli, fake, agentik_home):
    cli("agents", "create", "local", "--model", "llama3.2", "--base-url", fake.url + "/v1", "--temperature", "0.9")
    fake.add(Reply(text="local reply", usage=False))
    result = cli("chat", "local", "-m", "hi")
    request = fake.requests[0]
    assert "authorization" not in request.headers  # OPENAI_API_KEY never goes to another host
    assert request.body["max_tokens"] == 8192 and "max_completion_tokens" not in request.body
    assert request.body["temperature"] == 0.9
    assert "no price known for llama3.2" in result.stderr
    # no usage came: agentik's own count of "hi" (and framing) and "local reply", never a silent 0
    assert db_rows(agentik_home, "SELECT input_tokens, output_tokens, total_cost_nd FROM costs") == [(9, 4, None)]


def test_compatible_server_with_its_own_key_variable(cli, fake, monkeypatch):
    cli(
        "agents",
        "create",
        "router",
        "--model",
        "meta/llama-3",
        "--base-url",
        fake.url + "/v1",
        "--api-key-env",
        "ROUTER_KEY",
    )
    assert "ROUTER_KEY" in cli("chat", "router", "-m", "hi", code=2).stderr
    monkeypatch.setenv("ROUTER_KEY", "rk-123456789")
    cli("chat", "router", "-m", "hi")
    assert fake.requests[0].headers["authorization"] == "Bearer rk-123456789"


def test_user_price_prices_an_unknown_model(cli, fake, agentik_home):
    cli("agents", "create", "local", "--model", "llama3.2", "--base-url", fake.url + "/v1")
    cli("prices", "set", "llama3.2", "--provider", "openai", "--input", "1", "--output", "2")
    fake.add(Reply(input_tokens=1000, output_tokens=1000))
    data = cli.json("chat", "local", "-m", "hi")
    assert data["cost"] == {"input": 0.001, "output": 0.002, "total": 0.003}
    assert db_rows(agentik_home, "SELECT price_input_nd, price_output_nd FROM costs") == [
        (1_000_000_000, 2_000_000_000)
    ]


# ---- faults ----


@pytest.mark.parametrize("status", [401, 403])
def test_refused_key(cli, claude, agentik_home, status):
    claude.add(Reply(status=status, error_type="authentication_error", error_message="invalid x-api-key"))
    result = cli("chat", "claude", "-m", "hi", code=1)
    line = result.stderr.splitlines()[0]
    assert line == f"agentik: error: Anthropic refused the key ({status}): invalid x-api-key"
    assert "sk-ant-test" not in result.stderr
    assert len(claude.requests) == 1  # not retried
    assert db_rows(agentik_home, "SELECT role, error FROM messages") == [
        ("user", f"Anthropic refused the key ({status}): invalid x-api-key")
    ]


@pytest.mark.parametrize("status", [429, 500, 503, 529])
def test_retried_then_fails_with_the_reason(cli, claude, agentik_home, status):
    failure = Reply(status=status, error_message="overloaded, slow down", headers={"retry-after-ms": "5"})
    claude.add(failure, failure, failure)
    result = cli("chat", "claude", "-m", "hi", code=1)
    assert f"answered {status} (after 2 retries): overloaded, slow down" in result.stderr
    assert len(claude.requests) == 3
    assert db_rows(agentik_home, "SELECT role, error IS NOT NULL FROM messages") == [("user", 1)]


def test_retry_then_success(cli, gpt):
    failure = Reply(status=429, error_message="rate limited", headers={"retry-after-ms": "5"})
    gpt.add(failure, Reply(text="made it"))
    assert cli("chat", "gpt", "-m", "hi").stdout == "made it\n"
    assert len(gpt.requests) == 2


def test_failed_message_is_kept_but_not_resent(cli, claude):
    claude.add(Reply(status=400, error_message="bad"), Reply(text="ok"))
    cli("chat", "claude", "-m", "doomed", code=1)
    cli("chat", "claude", "-c", "-m", "second")
    assert claude.requests[1].body["messages"] == [{"role": "user", "content": "second"}]


@pytest.mark.slow
def test_connection_refused_names_the_url(cli, claude, monkeypatch, agentik_home):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    result = cli("chat", "claude", "-m", "hi", code=1)
    assert f"cannot reach Anthropic at http://127.0.0.1:{port}/v1/messages" in result.stderr
    assert db_rows(agentik_home, "SELECT role, error IS NOT NULL FROM messages") == [("user", 1)]


def test_timeout_names_the_url(cli, gpt, monkeypatch):
    monkeypatch.setenv("AGENTIK_TIMEOUT", "0.3")
    gpt.add(*[Reply(text="late " * 5, delay=1.0)] * 3)
    result = cli("chat", "gpt", "-m", "hi", code=1)
    assert "/v1/chat/completions" in result.stderr
    assert "did not answer in time" in result.stderr or "cannot reach" in result.stderr


def test_dropped_stream_keeps_the_partial_reply(cli, claude, agentik_home):
    claude.add(Reply(text="one two three four five six", drop_after=3), Reply(text="next"))
    result = cli("chat", "claude", "-m", "hi", code=1)
    assert result.stdout.startswith("one two three")
    rows = db_rows(agentik_home, "SELECT role, content, error IS NOT NULL FROM messages ORDER BY id")
    assert rows == [("user", "hi", 0), ("assistant", "one two three ", 1)]
    assert db_rows(agentik_home, "SELECT input_tokens FROM costs") == [(25,)]  # known from message_start
    cli("chat", "claude", "-c", "-m", "go on")
    assert claude.requests[1].body["messages"][1] == {"role": "assistant", "content": "one two three "}


# ---- attachments ----


def test_image_and_text_attachments(cli, claude, gpt, tmp_path, agentik_home):
    image = tmp_path / "pixel.png"
    image.write_bytes(png_bytes())
    notes = tmp_path / "notes.txt"
    notes.write_text("line one\n")
    cli("chat", "claude", "-m", "look", "--attach", str(image), "--attach", str(notes))
    content = claude.requests[0].body["messages"][0]["content"]
    assert content[0]["type"] == "image" and content[0]["source"]["media_type"] == "image/png"
    assert content[1]["type"] == "text" and "line one" in content[1]["text"] and "notes.txt" in content[1]["text"]
    cli("chat", "gpt", "-m", "look", "--attach", str(image))
    parts = gpt.requests[1].body["messages"][1]["content"]
    assert parts[0] == {"type": "text", "text": "look"}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    stored = db_rows(agentik_home, "SELECT attachments FROM messages WHERE id = 1")[0][0]
    stored = json.loads(stored) if isinstance(stored, str) else stored  # PostgreSQL's json comes parsed
    assert [(a["name"], a["type"], a["size"]) for a in stored] == [
        ("pixel.png", "image/png", len(png_bytes())),
        ("notes.txt", "text/plain", 9),
    ]
    assert len(stored[0]["sha256"]) == 64


def test_bad_attachments_are_refused_before_sending(cli, claude, tmp_path, agentik_home):
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02garbage")
    big = tmp_path / "big.png"
    big.write_bytes(png_bytes() + b"\x00" * (5 * 1024 * 1024 + 1))
    for path, message in (
        (binary, "only images"),
        (tmp_path / "missing.txt", "no such file"),
        (big, "over the anthropic limit"),
    ):
        result = cli("chat", "claude", "-m", "x", "--attach", str(path), code=2)
        assert message in result.stderr
    assert claude.requests == []
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(0,)]


def test_secrets_never_reach_the_database(cli, claude, agentik_home):
    cli("chat", "claude", "-m", "hi")
    raw = stored_bytes(agentik_home)  # the WAL too
    assert b"Hello from the fake provider" in raw and b"sk-ant-test-key" not in raw


def test_a_key_in_an_error_body_never_reaches_the_screen_or_the_store(cli, gpt, agentik_home):
    gpt.add(Reply(status=401, error_message="Incorrect API key provided: sk-openai-test-key-0123456789"))
    result = cli("chat", "gpt", "-m", "hi", code=1)
    assert "test-key" not in result.stderr and "[key]" in result.stderr
    stored = stored_bytes(agentik_home)
    assert b"[key]" in stored and b"test-key" not in stored
