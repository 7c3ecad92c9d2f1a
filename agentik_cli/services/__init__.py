"""What the commands mean: agents, chat turns, reports, the ledger. No rendering, no CLI."""
