"""`db copy` is a write like any other (store/copying): one unit of work on the target, through
`Store.write()`, whose running totals move by the ledger's one rule; and a copy whose rows differ
from the source's is rolled back whole."""

from __future__ import annotations

from agentik_cli.store.copying import run as copy_run
from agentik_cli.store.engine import Store
from tests.store.test_copy_origins import _copy, _held, _here, _local


def test_a_copy_is_one_unit_of_work_on_the_target(cli, fake, tmp_path, agentik_home, monkeypatch):
    local = _local(cli, fake, tmp_path, chats=2, imported=3)
    team = _here(agentik_home)
    before = _held(cli, local)
    written: list[str] = []
    real = Store.write

    def write(self: Store):  # noqa: ANN202
        written.append(self.url)
        return real(self)

    monkeypatch.setattr(Store, "write", write)
    data = _copy(cli, local, team)
    assert data["copied"]["costs"] == 5
    assert any(team in url for url in written), written  # the target was written through its unit of work
    monkeypatch.setattr(Store, "write", real)
    # the totals the copy moved (cost_totals, cost_buckets) are the ledger's: the reports agree
    assert _held(cli, team) == before
    assert data["check"]["totals_equal_ledger"] is True


def test_a_copy_whose_rows_differ_from_the_sources_writes_nothing(cli, fake, tmp_path, agentik_home, monkeypatch):
    local = _local(cli, fake, tmp_path, chats=1, imported=2)
    team = _here(agentik_home)
    empty = _held(cli, team)
    real = copy_run.Run.tally

    def off_by_one(self, name, row):  # noqa: ANN001, ANN202 - the source's sums read one nano-dollar more
        real(self, name, row)
        if name == "costs":
            self.sent["cost_nd"] += 1

    monkeypatch.setattr(copy_run.Run, "tally", off_by_one)
    result = cli("--db", local, "db", "copy", "--to", team, "--yes", code=1)
    assert "differ from the source's" in result.stderr and "nothing was copied" in result.stderr
    assert _held(cli, team) == empty
