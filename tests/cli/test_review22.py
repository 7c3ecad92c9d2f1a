"""Regressions found reviewing issue 22's refactor: the listings must print what the release
before it printed (e40b8ee), whichever path reads them."""

from __future__ import annotations

import pytest

from tests.conftest import set_tz

LISTINGS_WITH_TIMES = [
    ["agents", "list"],
    ["agents", "list", "--sort", "last-active"],
    ["sessions", "list"],
    ["sessions", "list", "--limit", "1"],
]


@pytest.mark.sqlite_only("the light reads are SQLite's")
@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Pacific/Kiritimati"])
def test_light_reads_show_times_in_the_local_zone_as_the_orm_does(cli, fake, monkeypatch, zone):
    """The light path read stored times as naive datetimes; the table's astimezone() then took
    them for local times, so `agents list` and `sessions list` printed UTC clock times off UTC."""
    set_tz(monkeypatch, zone)
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-5")
    cli("chat", "helper", "-m", "hello")
    for args in LISTINGS_WITH_TIMES:
        monkeypatch.delenv("AGENTIK_ORM_READS", raising=False)
        light = cli(*args)
        monkeypatch.setenv("AGENTIK_ORM_READS", "1")
        orm = cli(*args)
        assert light.stdout == orm.stdout, args
