"""SQL fragments shared by the store's modules and the migrations (SQLite's; store/dialect.py has both)."""

# The quarter hour a ledger timestamp falls in, in the text form SQLAlchemy stores datetimes in on
# SQLite ('2026-11-26 13:15:00.000000'): the keys of cost_buckets.
QUARTER_HOUR_SQLITE = (
    "substr(timestamp, 1, 14) || printf('%02d', (CAST(substr(timestamp, 15, 2) AS INTEGER) / 15) * 15) || ':00.000000'"
)
# The sums kept by cost_totals and cost_buckets, in their column order.
SUM_COLUMNS = (
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_nd",
    "unpriced_calls",
    "estimated_calls",
)
SUMS_SQL = (
    "count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
    "coalesce(sum(total_cost_nd), 0), sum(CASE WHEN total_cost_nd IS NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN estimated THEN 1 ELSE 0 END)"
)
