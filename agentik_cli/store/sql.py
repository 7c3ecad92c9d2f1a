"""SQL fragments shared by the store's modules and the migrations."""

# The quarter hour a ledger timestamp falls in, in the text form SQLAlchemy stores datetimes in on
# SQLite ('2026-11-26 13:15:00.000000'): the keys of cost_buckets.
QUARTER_HOUR_SQLITE = (
    "substr(timestamp, 1, 14) || printf('%02d', (CAST(substr(timestamp, 15, 2) AS INTEGER) / 15) * 15) || ':00.000000'"
)
# The same on PostgreSQL, for a timestamp column of either kind (every time zone's offset is a whole
# number of quarter hours, so truncating in the session's zone gives the same instant)
QUARTER_HOUR_POSTGRES = (
    "date_trunc('hour', \"timestamp\") + floor(extract(minute FROM \"timestamp\") / 15) * interval '15 minutes'"
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


def quarter_hour_sql(dialect: str) -> str:
    return QUARTER_HOUR_POSTGRES if dialect == "postgresql" else QUARTER_HOUR_SQLITE
