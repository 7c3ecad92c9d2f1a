"""The light reads (store/lightreads.py) give what the ORM reads give: the same output, byte for
byte, from the same SQLite store (AGENTIK_ORM_READS forces the ORM path)."""

from __future__ import annotations

import pytest

from agentik_cli.store import lightreads, migrations, models

LISTINGS = [
    ["costs", "summary"],
    ["costs", "summary", "--json"],
    ["agents", "list"],
    ["agents", "list", "--json"],
    ["agents", "list", "--csv"],
    ["agents", "list", "--sort", "last-active", "--limit", "2", "--csv"],
    ["sessions", "list"],
    ["sessions", "list", "--json"],
    ["sessions", "list", "--csv", "--limit", "1"],
]


def test_the_light_reads_know_the_latest_schema():
    assert (lightreads.MIGRATION_COUNT, lightreads.LATEST_MIGRATION) == (
        len(migrations.MIGRATION_NAMES),
        migrations.MIGRATION_NAMES[-1],
    )
    assert lightreads.FIGURES == models.SUM_COLUMNS


@pytest.mark.sqlite_only("the light reads are SQLite's")
def test_the_light_and_the_orm_reads_print_the_same(cli, monkeypatch):
    for name, model in (("helper", "claude-sonnet-4-0"), ("Writer", "gpt-4o-mini"), ("idle", "gpt-4o")):
        assert cli("agents", "create", name, "--model", model, "--channel", "web").exit_code == 0
    for agent, model, provider, tokens in (
        ("helper", "claude-sonnet-4-0", "anthropic", "10"),
        ("Writer", "gpt-4o-mini", "openai", "7"),
    ):
        recorded = cli("costs", "record", "--agent", agent, "--model", model, "--provider", provider,
                       "--input-tokens", tokens, "--output-tokens", "3")  # fmt: skip
        assert recorded.exit_code == 0, recorded.output
    for args in LISTINGS:
        monkeypatch.delenv("AGENTIK_ORM_READS", raising=False)
        light = cli(*args)
        monkeypatch.setenv("AGENTIK_ORM_READS", "1")
        orm = cli(*args)
        assert light.exit_code == orm.exit_code == 0, (args, light.output, orm.output)
        assert (light.stdout, light.stderr) == (orm.stdout, orm.stderr), args
