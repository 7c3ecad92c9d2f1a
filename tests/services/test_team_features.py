"""A store shared by a team: each user's default agent, names taken under concurrent creates and
renames, price overrides kept in the store (a prices.toml of an older agentik moved in once), the
`estimated_calls` and `user` of the records, and text from outside shown without its control
characters. Written against the CLI and agentik's store, so they run on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agentik_cli import environment
from agentik_cli.errors import UsageError
from agentik_cli.store import agents as agent_store
from agentik_cli.store import prices as price_store
from agentik_cli.store.models import Agent
from tests.fakeprovider import Reply

# a store a team shares: concurrent creates and renames, overrides kept in the store
pytestmark = pytest.mark.both_stores


def agentik(*args: str, user: str | None = None) -> subprocess.Popen[bytes]:
    """agentik as a separate process (another user, or another machine writing at the same time)."""
    env = dict(os.environ)
    if user is not None:
        env["AGENTIK_USER"] = user
    return subprocess.Popen(
        [sys.executable, "-m", "agentik_cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=60)
    return process.returncode, out.decode(), err.decode()


def run(*args: str, user: str | None = None) -> tuple[int, str, str]:
    return finish(agentik(*args, user=user))


# ---- the default agent is per user ----


def test_each_user_has_a_default_agent_of_their_own(cli):
    # in-process, each user by AGENTIK_USER as a process of theirs would give it (seven agentik
    # processes one after the other were 10-20 s of this test, and the same code runs in them)
    def as_user(user: str, *args: str) -> str:
        return cli("agents", "default", *args, env={"AGENTIK_USER": user}).stdout.strip()

    for name in ("alpha", "beta", "gamma"):
        cli("agents", "create", name, "--model", "gpt-4o-mini")
    as_user("a", "alpha")
    as_user("b", "beta")
    assert as_user("a") == "alpha"
    assert as_user("b") == "beta"
    assert as_user("c", "--json") == "null"
    # removing an agent clears the default of whoever had it, and only theirs
    cli("agents", "remove", "alpha", "--yes")
    assert as_user("a", "--json") == "null"
    assert as_user("b") == "beta"


def test_chat_without_an_agent_takes_the_users_default(cli, fake):
    cli("agents", "create", "first", "--model", "gpt-4o-mini")
    cli("agents", "create", "second", "--model", "gpt-4o-mini")
    with environment.use(environment.Environment(user="a")):
        cli("agents", "default", "second")
        assert cli.json("chat", "-m", "hi")["session_id"] == 1
    with environment.use(environment.Environment(user="b")):
        refused = cli("chat", "-m", "hi", code=2)
        assert "no default agent" in refused.stderr
    [session] = cli.json("sessions", "list")
    assert session["agent"] == "second"


# ---- a name is taken once, whoever asks at the same time ----


@pytest.mark.slow
def test_concurrent_creates_of_one_name_one_wins_the_others_exit_2(cli):
    cli("agents", "list")  # the store exists and is migrated before the race
    names = ("racer", "Racer", "RACER", "rAcEr")
    results = [finish(p) for p in [agentik("agents", "create", name, "--model", "gpt-4o-mini") for name in names]]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2, 2, 2], results
    for code, _, err in results:
        if code == 2:
            assert err.startswith("agentik: error: an agent named '") and "already exists" in err, err
            assert "Traceback" not in err
    assert [a["name"].lower() for a in cli.json("agents", "list")] == ["racer"]


@pytest.mark.slow
def test_concurrent_renames_to_one_name_one_wins_the_other_exits_2(cli):
    cli("agents", "create", "left", "--model", "gpt-4o-mini")
    cli("agents", "create", "right", "--model", "gpt-4o-mini")
    racing = [agentik("agents", "update", old, "--name", new) for old, new in (("left", "same"), ("right", "SAME"))]
    results = [finish(p) for p in racing]
    assert sorted(code for code, _, _ in results) == [0, 2], results
    assert any("an agent named" in err and "already exists" in err for _, _, err in results)
    assert len({a["name"].lower() for a in cli.json("agents", "list")} & {"same"}) == 1


def test_the_unique_constraint_is_what_refuses_a_taken_name(store):
    """No look before the insert: the store's constraint answers, as it must when two machines
    insert at once, and its refusal is the usage error, not a database failure."""
    with store.write() as unit:
        agent_store.insert(unit, Agent(name="Taken", name_key="taken", model="m", provider="openai"))
    with pytest.raises(UsageError, match="an agent named 'TAKEN' already exists"), store.write() as unit:
        agent_store.insert(unit, Agent(name="TAKEN", name_key="taken", model="m", provider="openai"))
    with store.write() as unit:
        other = agent_store.insert(unit, Agent(name="other", name_key="other", model="m", provider="openai"))
    other.name, other.name_key = "taKen", "taken"
    with pytest.raises(UsageError, match="already exists"), store.write() as unit:
        agent_store.save(unit, other, renamed=True)


def test_two_first_chats_at_once_share_the_assistant_one_creates(cli, fake, store):
    """The first chat on an empty store creates `assistant`; a second one racing it finds the name
    taken when it inserts, and uses the agent the first one made rather than failing."""
    from agentik_cli.services.chat import opening

    made = cli.json("agents", "create", "assistant", "--model", "gpt-4o-mini")  # the winner's
    assert opening._create_assistant(store).id == made["id"]


# ---- price overrides live in the store ----


def write_price_file(home, body: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "prices.toml").write_text(body)


PRICE_FILE = """
["openai/my-model"]
model = "my-model"
provider = "openai"
input = 2.0
output = 10.0

["anthropic/claude-sonnet-4-0"]
model = "claude-sonnet-4-0"
provider = "anthropic"
input = 1.0
output = 1.0
cache_read = 0.5
"""

RECORD = ("costs", "record", "--provider", "openai", "--input-tokens", "1000000", "--output-tokens", "100000")


def test_a_price_file_is_moved_into_the_store_once(cli, agentik_home, store):
    write_price_file(agentik_home, PRICE_FILE)
    first = cli(*RECORD, "--model", "my-model", "--json")
    # priced at the file's price: $2 for a million in, $10 a million out
    assert first.stdout and '"total_cost": 3.0' in first.stdout
    assert first.stderr.count("moved 2 prices from") == 1 and "prices.toml.moved" in first.stderr
    assert not (agentik_home / "prices.toml").exists()
    assert "cache_read = 0.5" in (agentik_home / "prices.toml.moved").read_text()
    again = cli(*RECORD, "--model", "my-model", "--json")
    assert '"total_cost": 3.0' in again.stdout and "moved" not in again.stderr
    listed = {(r["provider"], r["model"]): r for r in cli.json("prices", "list") if r["override"]}
    assert set(listed) == {("openai", "my-model"), ("anthropic", "claude-sonnet-4-0")}
    assert listed[("anthropic", "claude-sonnet-4-0")]["cache_read"] == 0.5
    with store.read() as session:
        rows = price_store.all_overrides(session)
    assert {(r.model, r.input_nd, r.output_nd, r.cache_read_nd) for r in rows} == {
        ("my-model", 2_000_000_000, 10_000_000_000, None),
        ("claude-sonnet-4-0", 1_000_000_000, 1_000_000_000, 500_000_000),
    }
    assert {r.set_by for r in rows} == {environment.current().user}


def test_a_price_already_in_the_store_stays_when_a_file_is_moved(cli, agentik_home):
    cli("prices", "set", "my-model", "--provider", "openai", "--input", "5", "--output", "5")
    write_price_file(agentik_home, PRICE_FILE)
    moved = cli("prices", "list")
    assert "moved 1 price from" in moved.stderr and "1 the store already had" in moved.stderr
    assert cli.json("prices", "show", "my-model", "--provider", "openai")["input"] == 5


def test_a_chat_is_priced_with_the_stores_price_and_the_setter_is_recorded(cli, fake, store):
    cli("agents", "create", "helper", "--model", "gpt-4o-mini")
    with environment.use(environment.Environment(user="pricer")):
        cli("prices", "set", "gpt-4o-mini", "--provider", "openai", "--input", "1000", "--output", "2000")
    fake.add(Reply(input_tokens=1000, output_tokens=100))
    reply = cli.json("chat", "helper", "-m", "hi")
    assert reply["cost"] == {"input": 1.0, "output": 0.2, "total": 1.2}
    with store.read() as session:
        [row] = price_store.all_overrides(session)
    assert row.set_by == "pricer" and row.input_nd == 1000 * 10**9
    cli("prices", "remove", "gpt-4o-mini", "--provider", "openai")
    with store.read() as session:
        assert price_store.all_overrides(session) == []


def test_tiny_prices_are_printed_as_plain_decimals(cli):
    result = cli("prices", "set", "tiny", "--provider", "openai", "--input", "0.0000001", "--output", "2e-9")
    assert "$0.0000001 in / $0.000000002 out" in result.stderr and "e-" not in result.stderr
    table = cli("prices", "list", "--provider", "openai").stdout
    [line] = [line for line in table.splitlines() if " tiny " in f" {line} "]
    assert "$0.0000001" in line and "$0.000000002" in line and "e-" not in line
    shown = cli("prices", "show", "tiny", "--provider", "openai").stdout
    assert "$0.0000001 per million tokens" in shown
    rounded = cli("prices", "set", "finer", "--provider", "openai", "--input", "1e-10", "--output", "1")
    assert "rounded" in rounded.stderr


# ---- the records carry estimated_calls and user ----


def test_estimated_calls_in_agent_stats_and_session_lists(cli, fake):
    cli("agents", "create", "helper", "--model", "gpt-4o-mini")
    fake.add(Reply(text="counted by agentik", output_tokens=10**17), Reply(text="counted by the provider"))
    cli("chat", "helper", "-m", "first")
    cli("chat", "helper", "-m", "second")
    stats = cli.json("agents", "stats", "helper")
    assert stats["estimated_calls"] == 1
    assert cli.json("agents", "stats")[0]["estimated_calls"] == 1
    assert cli.json("agents", "show", "helper")["stats"]["estimated_calls"] == 1
    sessions = {s["id"]: s for s in cli.json("sessions", "list")}
    assert [sessions[1]["estimated_calls"], sessions[2]["estimated_calls"]] == [1, 0]
    header, *rows = cli("sessions", "list", "--csv").stdout.splitlines()
    assert "estimated_calls" in header.split(",")
    assert "estimated_calls" in cli("agents", "list", "--csv").stdout.splitlines()[0].split(",")


def test_each_message_says_who_wrote_it(cli, fake):
    cli("agents", "create", "helper", "--model", "gpt-4o-mini")
    with environment.use(environment.Environment(user="ana")):
        session_id = cli.json("chat", "helper", "-m", "from ana")["session_id"]
    with environment.use(environment.Environment(user="bo")):
        cli("chat", "helper", "--session", str(session_id), "-m", "from bo")
        transcript = cli("sessions", "show", str(session_id), "--markdown").stdout
    messages = cli.json("sessions", "show", str(session_id))["messages"]
    assert [(m["role"], m["user"]) for m in messages] == [
        ("user", "ana"),
        ("assistant", "ana"),
        ("user", "bo"),
        ("assistant", "bo"),
    ]
    # for bo, ana's message is hers and bo's is "You"
    assert "## ana" in transcript and "## You" in transcript


# ---- text from outside reaches the terminal escaped ----

ESCAPE = "\x1b]0;pwned\x07\x1b[2J"


def test_control_characters_are_shown_escaped(cli, fake, monkeypatch):
    from agentik_cli.cli import render

    cli("agents", "create", "helper", "--model", "gpt-4o-mini", "--description", f"helps{ESCAPE}")
    fake.add(Reply(text=f"reply{ESCAPE}"))
    cli("chat", "helper", "-m", f"ask{ESCAPE}")
    shown = cli("agents", "show", "helper").stdout
    assert "\x1b" not in shown and "\x07" not in shown and "helps\\x1b]0;pwned\\x07\\x1b[2J" in shown
    assert "\x1b" not in cli("agents", "list").stdout
    listing = cli("sessions", "list").stdout
    assert "\x1b" not in listing and "ask\\x1b" in listing
    monkeypatch.setattr(render, "stdout_is_terminal", lambda: True)
    transcript = cli("sessions", "show", "1").stdout
    assert "\x1b" not in transcript and "\x07" not in transcript and "reply\\x1b" in transcript
    # the data is left as it is: JSON escapes it, --markdown to a file keeps it
    assert cli.json("sessions", "show", "1")["messages"][1]["content"] == f"reply{ESCAPE}"
