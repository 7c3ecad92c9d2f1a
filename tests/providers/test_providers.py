"""Issue 8, the provider layer: no key where it must not go (checked on the wire, at the fake server),
every usage field priced at its own rate, usage from a server checked before it is believed, a call
whose usage never arrived counted rather than recorded as 0, and clear errors for answers that are
not replies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentik_cli import values
from agentik_cli.providers import base
from agentik_cli.providers import tokens as token_counts
from tests.conftest import db_rows
from tests.fakeprovider import FakeProvider, Reply

MODELS = {"anthropic": "claude-sonnet-4-0", "openai": "gpt-4o-mini"}
ENDPOINTS = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions"}

# Credentials the SDKs would pick up by themselves, each a string that must never reach an agent's
# own server.
SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-env-key-secret-1",
    "ANTHROPIC_AUTH_TOKEN": "sk-ant-auth-token-secret-2",
    "OPENAI_API_KEY": "sk-openai-env-key-secret-3",
    "OPENAI_ADMIN_KEY": "sk-admin-key-secret-4",
    "OPENAI_ORG_ID": "org-secret-5",
    "OPENAI_PROJECT_ID": "proj-secret-6",
    "ANTHROPIC_CUSTOM_HEADERS": "x-api-key: sk-ant-custom-secret-7\nAuthorization: Bearer sk-ant-custom-secret-8",
    "OPENAI_CUSTOM_HEADERS": "Authorization: Bearer sk-openai-custom-secret-9\nX-Team-Token: team-secret-10",
}
STORED = {"anthropic": "sk-ant-stored-secret-11", "openai": "sk-openai-stored-secret-12"}
PROFILE_TOKEN = "sk-ant-oat-profile-secret-13"
IDENTITY_TOKEN = "eyJ-identity-token-secret-14"


EVERY_SECRET = [
    *(v for k, v in SECRETS.items() if "HEADERS" not in k),
    "sk-ant-custom-secret-7",
    "sk-ant-custom-secret-8",
    "sk-openai-custom-secret-9",
    "team-secret-10",
    *STORED.values(),
    PROFILE_TOKEN,
    IDENTITY_TOKEN,
]


def tokens(text: str) -> int:
    """agentik's estimate: a token for every three UTF-8 bytes, rounded up."""
    return -(-len(text.encode()) // 3)


def store_keys(cli) -> None:
    for provider, key in STORED.items():
        cli("keys", "set", provider, input=key + "\n")


def anthropic_profile(tmp_path: Path) -> Path:
    """An Anthropic SDK profile on disk (as its login writes one): the SDK sends its token when it
    finds no key."""
    folder = tmp_path / "anthropic-config"
    (folder / "configs").mkdir(parents=True)
    (folder / "credentials").mkdir()
    (folder / "configs" / "default.json").write_text(json.dumps({"authentication": {"type": "user_oauth"}}))
    credentials = folder / "credentials" / "default.json"
    credentials.write_text(json.dumps({"access_token": PROFILE_TOKEN, "expires_at": int(time.time()) + 3600}))
    credentials.chmod(0o600)
    return folder


def set_scene(scene: str, cli, monkeypatch, tmp_path: Path) -> None:
    """Every way an SDK finds a credential by itself, one scene at a time (some hide others)."""
    store_keys(cli)
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    if scene == "environment":
        for name, value in SECRETS.items():
            monkeypatch.setenv(name, value)
    elif scene == "profile":  # the key only in keys.json, an Anthropic login on disk
        monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(anthropic_profile(tmp_path)))
    elif scene == "federation":  # the key only in keys.json, workload identity in the environment
        monkeypatch.setenv("ANTHROPIC_FEDERATION_RULE_ID", "fdrl_secret")
        monkeypatch.setenv("ANTHROPIC_ORGANIZATION_ID", "00000000-0000-0000-0000-000000000000")
        monkeypatch.setenv("ANTHROPIC_IDENTITY_TOKEN", IDENTITY_TOKEN)


def assert_nothing_leaked(
    fake: FakeProvider, provider: str, allowed_authorization: str | None = None, allowed_api_key: str | None = None
) -> None:
    assert fake.requests, "no request reached the server"
    for request in fake.requests:
        assert request.path == ENDPOINTS[provider]  # no token exchange, no discovery
        headers = dict(request.headers)
        assert headers.pop("authorization", None) == allowed_authorization
        assert headers.pop("x-api-key", None) == allowed_api_key
        for name in ("x-api-key", "openai-organization", "openai-project", "x-team-token", "anthropic-beta"):
            assert name not in headers
        wire = json.dumps(headers) + json.dumps(request.body)
        for secret in EVERY_SECRET:
            assert secret not in wire


# ---- 1. no key where it must not go ----


@pytest.mark.parametrize(
    "provider, scene",
    [("anthropic", "environment"), ("anthropic", "profile"), ("anthropic", "federation"), ("openai", "environment")],
)
def test_own_server_is_sent_no_credential(cli, fake, monkeypatch, tmp_path, agentik_home, provider, scene):
    base = fake.url + ("/v1" if provider == "openai" else "")
    cli("agents", "create", "own", "--model", MODELS[provider], "--provider", provider, "--base-url", base)
    set_scene(scene, cli, monkeypatch, tmp_path)
    for stream in ([], ["--no-stream"]):
        assert cli("chat", "own", "-m", "hi", *stream).stdout == "Hello from the fake provider.\n"
    assert len(fake.requests) == 2
    assert_nothing_leaked(fake, provider)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_own_server_gets_its_own_key_and_nothing_else(cli, fake, monkeypatch, tmp_path, provider):
    base = fake.url + ("/v1" if provider == "openai" else "")
    cli("agents", "create", "own", "--model", MODELS[provider], "--base-url", base, "--api-key-env", "OWN_SERVER_KEY")
    set_scene("environment", cli, monkeypatch, tmp_path)
    monkeypatch.setenv("OWN_SERVER_KEY", "own-server-key-0123")
    for stream in ([], ["--no-stream"]):
        cli("chat", "own", "-m", "hi", *stream)
    assert len(fake.requests) == 2
    # in the provider's own header: Anthropic's API (and every server that speaks it) reads x-api-key
    if provider == "anthropic":
        assert_nothing_leaked(fake, provider, allowed_api_key="own-server-key-0123")
    else:
        assert_nothing_leaked(fake, provider, allowed_authorization="Bearer own-server-key-0123")


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_the_sdk_debug_log_never_shows_a_key(cli, fake, monkeypatch, caplog, provider):
    """ANTHROPIC_LOG=debug / OPENAI_LOG=debug turn the SDKs' debug log on; anthropic's prints each
    request's options, its headers included."""
    import logging

    base = fake.url + ("/v1" if provider == "openai" else "")
    cli("agents", "create", "own", "--model", MODELS[provider], "--base-url", base, "--api-key-env", "OWN_SERVER_KEY")
    cli("agents", "create", "plain", "--model", MODELS[provider])
    monkeypatch.setenv("OWN_SERVER_KEY", "own-server-key-0123")
    with caplog.at_level(logging.DEBUG, logger=provider):
        cli("chat", "own", "-m", "hi")
        cli("chat", "plain", "-m", "hi")
    assert "POST" in caplog.text  # the log was on
    assert "own-server-key-0123" not in caplog.text and "test-key-0123456789" not in caplog.text


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_provider_base_url_from_the_environment_gets_the_key(cli, fake, monkeypatch, provider):
    """No --base-url: ANTHROPIC_BASE_URL / OPENAI_BASE_URL (here the fake server) is the user's own
    choice of the provider's address, honoured as the SDKs honour it, so the key goes there."""
    cli("agents", "create", "plain", "--model", MODELS[provider])
    env_key = "ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY"
    from_env = os.environ[env_key]
    cli("chat", "plain", "-m", "hi")
    monkeypatch.delenv(env_key)
    store_keys(cli)
    cli("chat", "plain", "-m", "hi", "--no-stream")
    assert [r.headers["authorization"] for r in fake.requests] == [f"Bearer {from_env}", f"Bearer {STORED[provider]}"]


# ---- 6. every usage field, each at its own rate ----


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_openai_cache_writes_are_priced_as_cache_writes(cli, fake, agentik_home, stream):
    # gpt-6-cyber: $20 input, $25 cache write, $2 cache read, $100 output per million tokens
    cli("agents", "create", "cyber", "--model", "gpt-6-cyber")
    fake.add(
        Reply(
            input_tokens=10_000,
            cache_read=2_000,
            cache_write=3_000,
            output_tokens=1_000,
            usage_extra={
                "prompt_tokens_details": {"text_tokens": 10_000, "audio_tokens": 0, "image_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 600, "text_tokens": 400, "audio_tokens": 0},
            },
        )
    )
    cli("chat", "cyber", "-m", "hi", *([] if stream else ["--no-stream"]))
    rows = db_rows(
        agentik_home,
        "SELECT input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, input_cost_nd, "
        "output_cost_nd, total_cost_nd FROM costs",
    )
    # 5,000 uncached * 20,000 nd + 2,000 read * 2,000 nd + 3,000 written * 25,000 nd; 1,000 out * 100,000 nd
    assert rows == [(10_000, 2_000, 3_000, 1_000, 179_000_000, 100_000_000, 279_000_000)]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_anthropic_usage_with_every_field(cli, claude_agent, agentik_home, stream):
    """The fields the SDK types define beside the four counts (cache writes by lifetime, server
    tools, output details, tier, region) change nothing that is already right."""
    claude_agent.add(
        Reply(
            input_tokens=1_000,
            cache_read=200,
            cache_write=100,
            output_tokens=500,
            usage_extra={
                "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
                "output_tokens_details": {"thinking_tokens": 300},
                "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
                "service_tier": "standard",
                "inference_geo": "global",
            },
        )
    )
    cli("chat", "claude", "-m", "hi", *([] if stream else ["--no-stream"]))
    rows = db_rows(agentik_home, "SELECT input_tokens, cache_read_tokens, cache_write_tokens, total_cost_nd FROM costs")
    assert rows == [(1_000, 200, 100, 10_035_000)]


def test_anthropic_cache_writes_known_only_by_lifetime_are_counted(cli, claude_agent, agentik_home):
    claude_agent.add(
        Reply(
            input_tokens=1_000,
            output_tokens=10,
            usage_extra={
                "cache_creation_input_tokens": None,
                "cache_creation": {"ephemeral_5m_input_tokens": 400, "ephemeral_1h_input_tokens": 0},
            },
        )
    )
    cli("chat", "claude", "-m", "hi", "--no-stream")
    # 1,000 uncached + 400 written; 1,000 * 3,000 nd + 400 * 3,750 nd + 10 * 15,000 nd
    assert db_rows(agentik_home, "SELECT input_tokens, cache_write_tokens, total_cost_nd FROM costs") == [
        (1_400, 400, 4_650_000)
    ]


# ---- 8. usage is checked, and never silently zero ----


@pytest.fixture
def claude_agent(cli, fake):
    cli("agents", "create", "claude", "--model", "claude-sonnet-4-0")
    return fake


@pytest.fixture
def gpt_agent(cli, fake):
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    return fake


def conversation(store, name: str):
    from agentik_cli.services.chat import ChatOptions, open_conversation

    return open_conversation(store, ChatOptions(agent=name))


NONSENSE = [-5_000, 12.5, "many", 10**12, None]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_nonsense_usage_is_counted_instead(store, cli, fake, provider, stream):
    """Negative, fractional, non-numeric, absurd or null counts are refused; the call is counted by
    agentik and marked, and no total ever goes down."""
    from agentik_cli.services.chat import ChatOptions, open_conversation

    cli("agents", "create", "a", "--model", MODELS[provider])
    talk = open_conversation(store, ChatOptions(agent="a", stream=stream))
    fields = ("input_tokens", "output_tokens") if provider == "anthropic" else ("prompt_tokens", "completion_tokens")
    first = talk.send("first, a normal call").usage
    assert not first.estimated
    totals = (first.input_tokens, first.output_tokens)
    for value in NONSENSE:
        fake.add(Reply(text="a reply of some words", usage_extra=dict.fromkeys(fields, value)))
        usage = talk.send("again").usage
        assert usage.estimated, value
        assert tokens("first, a normal call") <= usage.input_tokens < 1_000
        assert tokens("a reply of some words") <= usage.output_tokens < 1_000
        stats = cli.json("agents", "stats", "a")
        totals = (totals[0] + usage.input_tokens, totals[1] + usage.output_tokens)
        assert (stats["input_tokens"], stats["output_tokens"]) == totals


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_negative_cache_counts_never_lower_the_cost(store, fake, cli, agentik_home, provider):
    cli("agents", "create", "a", "--model", MODELS[provider])
    details = (
        {"cache_read_input_tokens": -900, "cache_creation_input_tokens": -900}
        if provider == "anthropic"
        else {"prompt_tokens_details": {"cached_tokens": -900, "cache_write_tokens": -900}}
    )
    fake.add(Reply(input_tokens=1_000, output_tokens=10, usage_extra=details))
    usage = conversation(store, "a").send("hi").usage
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (0, 0)
    assert usage.input_tokens >= 1_000 and db_rows(agentik_home, "SELECT min(total_cost_nd) > 0 FROM costs") == [(1,)]


def test_openai_parts_never_exceed_the_whole(store, gpt_agent):
    gpt_agent.add(
        Reply(
            input_tokens=100,
            cache_read=500,
            output_tokens=10,
            usage_extra={"completion_tokens_details": {"reasoning_tokens": 90}},
        )
    )
    usage = conversation(store, "gpt").send("hi").usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (500, 500, 90)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_server_that_sends_no_usage_is_counted(store, fake, cli, provider):
    base = fake.url + ("/v1" if provider == "openai" else "")
    cli("agents", "create", "own", "--model", "local-model", "--provider", provider, "--base-url", base)
    fake.add(Reply(text="twelve bytes", usage=False, usage_extra={"input_tokens": None, "output_tokens": None}))
    usage = conversation(store, "own").send("hello there").usage
    assert usage.estimated
    assert usage.input_tokens >= tokens("hello there") and usage.output_tokens == tokens("twelve bytes") == 4


def test_chat_json_says_when_the_usage_is_an_estimate(cli, fake):
    cli("agents", "create", "own", "--model", "llama3.2", "--base-url", fake.url + "/v1")
    fake.add(Reply(usage=False), Reply())
    counted = cli("chat", "own", "-m", "hi", "--json")
    assert json.loads(counted.stdout)["usage"]["estimated"] is True
    assert "tokens estimated" in counted.stderr and " ~" in counted.stderr  # the usage line says so too
    reported = cli("chat", "own", "-m", "hi", "--json")
    assert json.loads(reported.stdout)["usage"]["estimated"] is False
    assert "estimated" not in reported.stderr


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_dropped_stream_counts_what_arrived(store, fake, cli, agentik_home, monkeypatch, provider):
    from agentik_cli.errors import ProviderError
    from agentik_cli.services import recording

    entries = spy_on_replies(monkeypatch, recording)
    cli("agents", "create", "a", "--model", MODELS[provider], "--system", "Be brief.")
    fake.add(Reply(text="one two three four five six", input_tokens=25, drop_after=3))
    with pytest.raises(ProviderError, match="closed the connection"):
        conversation(store, "a").send("hi")
    usage = entries[0].usage
    assert usage.estimated
    assert usage.output_tokens == tokens("one two three ") == 5
    if provider == "anthropic":
        assert usage.input_tokens == 25  # message_start's count is the provider's own: kept
    else:
        assert usage.input_tokens == 8 + tokens("Be brief.") + 8 + tokens("hi")  # system and message
    assert db_rows(agentik_home, "SELECT input_tokens, output_tokens FROM costs") == [
        (usage.input_tokens, usage.output_tokens)
    ]


def test_openai_stream_dropped_before_any_text_is_still_a_paid_call(store, gpt_agent, agentik_home, monkeypatch):
    from agentik_cli.errors import ProviderError
    from agentik_cli.services import recording

    entries = spy_on_replies(monkeypatch, recording)
    gpt_agent.add(Reply(text="never sent", drop_after=0))
    with pytest.raises(ProviderError):
        conversation(store, "gpt").send("hi")
    assert entries[0].usage.estimated and entries[0].usage.input_tokens > 0
    assert db_rows(agentik_home, "SELECT role, error IS NOT NULL FROM messages ORDER BY id") == [
        ("user", 0),
        ("assistant", 1),
    ]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_ctrl_c_mid_stream_counts_what_arrived(store, fake, cli, agentik_home, monkeypatch, provider):
    from agentik_cli.errors import Interrupted
    from agentik_cli.services import recording

    entries = spy_on_replies(monkeypatch, recording)
    cli("agents", "create", "a", "--model", MODELS[provider])
    fake.add(Reply(text="one two three four five six seven eight", delay=0.01))
    seen: list[str] = []

    def press_ctrl_c(chunk) -> None:
        seen.append(chunk.text)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        conversation(store, "a").send("hi", on_chunk=press_ctrl_c)
    usage = entries[0].usage
    assert usage.estimated and usage.input_tokens > 0
    assert usage.output_tokens == tokens("".join(seen)) > 1
    assert db_rows(agentik_home, "SELECT output_tokens, total_cost_nd > 0 FROM costs") == [(usage.output_tokens, 1)]


def spy_on_replies(monkeypatch, recording) -> list:
    """The cost entries handed to the ledger (whose `estimated` column is the lead's)."""
    entries: list = []
    real = recording.add_reply

    def add_reply(*args, **kwargs):
        entries.append(kwargs["cost"])
        return real(*args, **kwargs)

    monkeypatch.setattr(recording, "add_reply", add_reply)
    return entries


def test_what_counts_as_a_token_count():
    token_count = token_counts.token_count
    assert [token_count(v) for v in (0, 12, 12.0, "12", 100_000_000)] == [0, 12, 12, 12, 100_000_000]
    assert {token_count(v) for v in (-1, 12.5, "-3", "1e3", "", True, None, 100_000_001, float("nan"))} == {None}


def test_the_prompt_estimate_counts_system_history_and_attachments():
    image = values.Attachment(name="a.png", mime="image/png", size=3, sha256="0", data=b"png")
    notes = values.Attachment(name="n.txt", mime="text/plain", size=300, sha256="1", text="x" * 300)
    request = values.ChatRequest(
        model="m",
        system="s" * 30,
        messages=[
            values.Turn("user", "q" * 30),
            values.Turn("assistant", "a" * 30),
            values.Turn("user", "é" * 15, [image, notes]),
        ],
    )
    # three 30-byte texts; then 30 bytes of é, "\n\n", the file in its 28 bytes of wrapper; an image;
    # 8 tokens of framing a message
    assert token_counts.estimate_prompt(request) == 3 * (8 + 10) + 8 + (30 + 2 + 28 + 300) // 3 + 1_600
    state = base.CallState(input_tokens=5_000)
    state.text, state.thinking = "b" * 30, "t" * 30
    state.settle(request)
    assert (state.input_tokens, state.output_tokens, state.estimated) == (5_000, 20, True)


# ---- 16. answers that are not replies, Ctrl-C while the client is built, AGENTIK_TIMEOUT ----


NOT_REPLIES = {
    "html": (Reply(raw="<!DOCTYPE html><html><body>Sign in</body></html>"), "text/html"),
    "json-of-another-shape": (Reply(raw='{"status": "ok"}', content_type="application/json"), "application/json"),
}


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_no_stream_answered_with_something_else(cli, fake, agentik_home, provider):
    cli("agents", "create", "a", "--model", MODELS[provider])
    label = "Anthropic" if provider == "anthropic" else "OpenAI"
    answers = [*NOT_REPLIES.values(), (Reply(stream=True), "text/event-stream")]
    for reply, kind in answers:
        fake.add(reply)
        lines = cli("chat", "a", "-m", "hi", "--no-stream", code=1).stderr.splitlines()
        assert lines[0] == (
            f"agentik: error: {label} at {fake.url}{ENDPOINTS[provider]} answered with something that is not "
            f"a reply ({kind})"
        )
        assert lines[1].startswith("hint: check the base URL") and len(lines) == 2
    assert db_rows(agentik_home, "SELECT role, error IS NOT NULL FROM messages") == [("user", 1)] * len(answers)
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_stream_answered_with_something_else(cli, fake, agentik_home, provider):
    cli("agents", "create", "a", "--model", MODELS[provider])
    answers = list(NOT_REPLIES.values())
    for reply, kind in answers:
        fake.add(reply)
        result = cli("chat", "a", "-m", "hi", code=1)
        assert f"answered with something that is not a reply ({kind})" in result.stderr.splitlines()[0]
    assert db_rows(agentik_home, "SELECT role, error IS NOT NULL FROM messages") == [("user", 1)] * len(answers)


def test_bad_timeout_is_a_usage_error_before_anything(cli, claude_agent, agentik_home, monkeypatch):
    for value in ("0", "-5", "nan", "inf", "-inf", "1e300", "soon"):
        monkeypatch.setenv("AGENTIK_TIMEOUT", value)
        result = cli("chat", "claude", "-m", "hi", code=2)
        assert result.stderr.startswith("agentik: error: AGENTIK_TIMEOUT takes a number of seconds")
        assert len(result.stderr.splitlines()) == 1
    assert claude_agent.requests == []
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(0,)]


def test_bad_timeout_on_first_use_creates_no_agent(cli, fake, agentik_home, monkeypatch):
    monkeypatch.setenv("AGENTIK_TIMEOUT", "0")
    cli("chat", "-m", "hi", code=2)
    assert db_rows(agentik_home, "SELECT count(*) FROM agents") == [(0,)]


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_ctrl_c_while_the_client_is_built_exits_130_quietly(cli, fake, agentik_home, provider):
    """SIGINT arrives inside the SDK's constructor (the real moment is the second-long import)."""
    cli("agents", "create", "a", "--model", MODELS[provider])
    script = (
        "import os, signal, sys, httpx2\n"
        "real = httpx2.Client.__init__\n"
        "def init(self, *args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    real(self, *args, **kwargs)\n"
        "httpx2.Client.__init__ = init\n"
        "sys.argv = ['agentik', 'chat', 'a', '-m', 'hi']\n"
        "from agentik_cli.cli.app import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert fake.requests == []
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(0,)]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_an_error_page_is_one_line(cli, fake, provider):
    """A body that is not the API's JSON (a proxy's page, plain text) is read from the response
    itself: one line with the status, the host and the page's title or first words, whatever the
    SDK release makes of it in its own message (anthropic 2.17 puts the raw page there)."""
    cli("agents", "create", "a", "--model", MODELS[provider])
    label = {"anthropic": "Anthropic", "openai": "OpenAI"}[provider]
    host = fake.url.split("//", 1)[1]
    titled = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1>\n</body>\n</html>\n"
    untitled = (
        "<!DOCTYPE html><html><body><script>x()</script><p>Access denied by the corporate proxy.</p></body></html>"
    )
    cases = [
        (400, titled, "text/html; charset=utf-8", "an HTML page (502 Bad Gateway)"),
        (502, titled, "text/html", "an HTML page (502 Bad Gateway)"),
        (403, untitled, "text/html", "an HTML page (Access denied by the corporate proxy.)"),
        (400, "upstream connect error or disconnect/reset before headers\n", "text/plain", None),
    ]
    for status, page, kind, reason in cases:
        answers = 3 if status >= 500 else 1
        fake.add(*[Reply(status=status, raw=page, content_type=kind, headers={"retry-after-ms": "5"})] * answers)
        lines = cli("chat", "a", "-m", "hi", code=1).stderr.splitlines()
        assert "<" not in lines[0], lines
        if status == 403:  # the error line, then the hint about keys
            assert lines[0] == f"agentik: error: {label} refused the key (403): {reason}" and len(lines) == 2
            continue
        assert len(lines) == 1, lines
        retried = " (after 2 retries)" if status >= 500 else ""
        reason = reason or "upstream connect error or disconnect/reset before headers"
        assert lines[0] == f"agentik: error: {label} at {host} answered {status}{retried}: {reason}"


def test_openai_events_that_are_not_json(cli, gpt_agent, agentik_home):
    gpt_agent.add(Reply(raw="data: not json\n\n", content_type="text/event-stream"))
    result = cli("chat", "gpt", "-m", "hi", code=1)
    assert "is not a reply (events or fields agentik cannot read)" in result.stderr.splitlines()[0]


def test_anthropic_event_of_another_shape_keeps_the_reply_so_far(cli, claude_agent, agentik_home):
    events = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {"model": "claude-sonnet-4-0", "usage": {"input_tokens": 30, "output_tokens": 1}},
            },
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello there"}},
        ),
        ("message_delta", {"type": "message_delta"}),  # no delta, no usage
    ]
    raw = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
    claude_agent.add(Reply(raw=raw, content_type="text/event-stream"))
    result = cli("chat", "claude", "-m", "hi", code=1)
    assert "is not a reply (events or fields agentik cannot read)" in result.stderr
    assert db_rows(agentik_home, "SELECT role, content FROM messages ORDER BY id") == [
        ("user", "hi"),
        ("assistant", "Hello there"),
    ]
    assert db_rows(agentik_home, "SELECT input_tokens, output_tokens FROM costs") == [(30, tokens("Hello there"))]


@pytest.mark.parametrize("where", ["env", "stored", "own"])
def test_a_key_no_header_can_carry_is_refused_before_anything(cli, fake, agentik_home, monkeypatch, where):
    """A key with a non-ASCII character (pasted with a typographic dash, say) used to store the
    user's message and then crash in the HTTP layer."""
    bad = "sk-proj-abc\u2013def0123456789"
    if where == "own":
        cli("agents", "create", "local", "--model", "llama3.2", "--base-url", fake.url + "/v1", "--api-key-env", "LK")
        monkeypatch.setenv("LK", bad)
        agent = "local"
    else:
        cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
        monkeypatch.delenv("OPENAI_API_KEY")
        if where == "env":
            monkeypatch.setenv("OPENAI_API_KEY", bad)
        else:
            agentik_home.mkdir(exist_ok=True)  # made by the first command only when it holds the database
            (agentik_home / "keys.json").write_text(json.dumps({"openai": bad}))
        agent = "gpt"
    result = cli("chat", agent, "-m", "hello", code=2)
    assert "not a key" in result.stderr and bad not in result.stderr
    assert fake.requests == []
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(0,)]
    refused = cli("keys", "set", "openai", input=bad + "\n", code=2)
    assert bad not in refused.stderr


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_stream_answered_with_the_whole_reply_as_json_is_taken(cli, fake, agentik_home, provider):
    """A compatible server that does not stream (some proxies, llama.cpp in some modes) answers a
    stream request with the complete body as JSON: its reply and its own usage are taken."""
    cli("agents", "create", "a", "--model", MODELS[provider])
    fake.add(Reply(stream=False, text="whole reply", input_tokens=40, output_tokens=7, cache_read=4))
    result = cli("chat", "a", "-m", "hi", "--json")
    reply = json.loads(result.stdout)
    assert reply["content"] == "whole reply" and not reply["usage"]["estimated"], reply
    assert fake.requests[0].body["stream"] is True
    assert db_rows(agentik_home, "SELECT input_tokens, output_tokens, cache_read_tokens, estimated FROM costs") == [
        (40, 7, 4, 0)
    ]
    assert db_rows(agentik_home, "SELECT content, error FROM messages WHERE role = 'assistant'") == [
        ("whole reply", None)
    ]


PROXY_EVENTS = {
    "anthropic": 'event: proxy_status\ndata: {"type": "proxy_status", "queue": 3}\n\n'
    'event: proxy_done\ndata: {"type": "proxy_done"}\n\n',
    "openai": 'data: {"status": "queued"}\n\ndata: {"status": "done"}\n\n',
}


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_events_that_are_not_the_apis_are_no_paid_call(cli, fake, agentik_home, provider):
    """A proxy's own events in place of the API's: nothing billable arrived, so an error and no
    cost row (an estimated cost used to be recorded for a call nobody answered)."""
    cli("agents", "create", "a", "--model", MODELS[provider])
    fake.add(Reply(raw=PROXY_EVENTS[provider], content_type="text/event-stream"))
    lines = cli("chat", "a", "-m", "hi", code=1).stderr.splitlines()
    assert lines[0].endswith("answered with something that is not a reply (events or fields agentik cannot read)")
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]
    assert db_rows(agentik_home, "SELECT role, error IS NOT NULL FROM messages") == [("user", 1)]


def test_a_replys_text_read_from_another_thread_while_it_grows_loses_no_piece():
    """CallState keeps the text as pieces, joined when read; the journal's thread reads it while the
    stream adds to it: every read is a prefix of the whole, and the whole is every piece in order."""
    import threading

    state = base.CallState()
    pieces = [f"w{n} " for n in range(50_000)]
    reads: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            reads.append(state.text)

    thread = threading.Thread(target=reader)
    thread.start()
    for n, piece in enumerate(pieces):
        state.add(0, "text", piece)
        if n % 5000 == 0:
            reads.append(state.text)
    done.set()
    thread.join()
    whole = "".join(pieces)
    assert state.text == whole
    assert len(reads) > 10 and all(whole.startswith(read) for read in reads)
    state.end(0)
    assert [part.text for part in state.parts] == [whole]
