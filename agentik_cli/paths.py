"""Where agentik keeps its files. Read lazily, never at import time.

The data folder is AGENTIK_HOME, else platformdirs' user data folder. On Linux and macOS that folder
is worked out here with os.path, by platformdirs' own rule (a test holds the two alike): importing
platformdirs and pathlib costs the status line, which runs on every shell prompt, about 25 ms."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

APP = "agentik"


def data_dir_text() -> str:
    home = os.environ.get("AGENTIK_HOME")
    if home:
        return os.path.expanduser(home)
    if sys.platform == "linux":
        base = os.environ.get("XDG_DATA_HOME", "")
        if not base.strip():
            base = os.path.expanduser("~/.local/share")
        return os.path.join(base, APP)
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~/Library/Application Support"), APP)
    import platformdirs

    return platformdirs.user_data_dir(APP)


def default_db_text() -> str:
    return os.path.join(data_dir_text(), "agentik.db")


def data_dir() -> Path:
    from pathlib import Path

    return Path(data_dir_text())


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
