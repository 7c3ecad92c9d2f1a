"""SQL names shared by the store's modules (what differs between SQLite and PostgreSQL is in
store/dialect.py)."""

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
    "over_limit_calls",
)
