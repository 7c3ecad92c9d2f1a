"""The local store: SQLModel tables, the engine, migrations and queries."""
