"""Where agentik keeps its files. Read lazily, never at import time."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    home = os.environ.get("AGENTIK_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return platformdirs.user_data_path("agentik")


def ensure_data_dir() -> Path:
    path = data_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    return data_dir() / "agentik.db"


def keys_path() -> Path:
    return data_dir() / "keys.json"


def prices_path() -> Path:
    return data_dir() / "prices.toml"


def history_path() -> Path:
    return data_dir() / "chat_history"
