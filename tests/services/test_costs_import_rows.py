"""What `costs import` of a file must keep, however fast it is made (issue 22): each row priced as the
price book prices it at that row's time and prompt size (off-peak hours, tiers, a price change), and
each line named by its number, blank lines and all. (Written on the bulk22 branch.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from agentik_cli.services import costs
from agentik_cli.services.pricing import PriceBook
from tests.conftest import db_rows


def test_every_row_is_priced_as_the_book_prices_it_at_its_time(cli, tmp_path, agentik_home):
    """deepseek-chat is cheaper from 16:30 to 00:30 UTC (a price a half hour holds), gemini-2.5-pro
    dearer past 200k prompt tokens (tiers), claude-sonnet-4-6's long-prompt premium ended on
    2026-03-13 (tiered one day, not the next): rows every 7 minutes over two days and a half."""
    start = datetime(2026, 3, 11, 12, 1, tzinfo=UTC)
    models = [
        ("deepseek-chat", "deepseek", 1_000),
        ("gemini-2.5-pro", "google", 150_000),
        ("gemini-2.5-pro", "google", 250_000),
        ("claude-sonnet-4-6", "anthropic", 250_000),
        ("gpt-4o-mini", "openai", 3_000),
    ]
    records = []
    for n in range(900):
        model, provider, prompt = models[n % len(models)]
        at = (start + timedelta(minutes=7 * n)).isoformat().replace("+00:00", "Z")
        records.append({"model": model, "provider": provider, "input_tokens": prompt + n, "output_tokens": n, "at": at})
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    assert cli("costs", "import", str(path)).stdout == "900\n"

    rows = db_rows(
        agentik_home,
        "SELECT model, provider, input_tokens, output_tokens, input_cost_nd, output_cost_nd, "
        "price_input_nd, price_output_nd FROM costs ORDER BY id",
    )
    book = PriceBook(None)
    expected = []
    for record in records:
        at = datetime.fromisoformat(record["at"])
        prices = book.unit_prices(record["model"], record["provider"], record["input_tokens"], at)
        assert prices is not None
        cost = prices.cost_nd(record["input_tokens"], record["output_tokens"], 0, 0)
        stored = prices.stored
        expected.append(
            (record["model"], record["provider"], record["input_tokens"], record["output_tokens"])
            + (*cost, stored["price_input_nd"], stored["price_output_nd"])
        )
    assert [tuple(row) for row in rows] == expected
    # the rows cross prices that change: with a half hour's, a tier's or a day's change ignored they differ
    assert len({row[6] for row in rows if row[0] == "deepseek-chat"}) == 2
    assert len({row[6] for row in rows if row[0] == "gemini-2.5-pro"}) == 2
    assert len({row[6] for row in rows if row[0] == "claude-sonnet-4-6"}) == 2


def test_blank_lines_keep_the_line_numbers(cli, tmp_path, agentik_home):
    good = json.dumps({"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 10, "output_tokens": 1})
    bad = json.dumps({"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 10})
    lines = [good] * (costs.CHUNK + 40)
    lines[3] = lines[costs.CHUNK + 5] = "   "
    lines[10] = ""
    path = tmp_path / "blank.jsonl"
    path.write_text("\n".join(lines) + "\n\n")
    assert cli("costs", "import", str(path)).stdout == f"{costs.CHUNK + 37}\n"

    lines[costs.CHUNK + 20] = bad
    path.write_text("\n".join(lines) + "\n")
    result = cli("costs", "import", str(path), code=2)
    assert result.stderr.splitlines()[0] == f"agentik: error: line {costs.CHUNK + 21}: missing output_tokens"
    lines[costs.CHUNK + 20] = good + ", " + good  # two values on one line
    path.write_text("\n".join(lines) + "\n")
    result = cli("costs", "import", str(path), code=2)
    assert result.stderr.splitlines()[0].startswith(f"agentik: error: line {costs.CHUNK + 21}: not valid JSON")
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(costs.CHUNK + 37,)]


def test_an_empty_or_blank_file_imports_nothing(cli, tmp_path):
    for text in ("", "\n", "  \n\n"):
        path = tmp_path / "empty.jsonl"
        path.write_text(text)
        assert cli("costs", "import", str(path)).stdout == "0\n"
