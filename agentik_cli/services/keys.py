"""Provider keys: the environment first, then `keys.json` in the data folder (mode 0600 from the
moment it exists). A key never reaches the database, a log, an error message or JSON output."""

from __future__ import annotations

import json
import os
import tempfile

from agentik_cli import paths
from agentik_cli.errors import UsageError
from agentik_cli.providers import registry


def check_provider(provider: str) -> str:
    return registry.check(provider)


def key_env(provider: str) -> str:
    """The environment variable that holds a provider's key: ANTHROPIC_API_KEY, OPENAI_API_KEY..."""
    return registry.get(provider).key_env


def _load() -> dict[str, str]:
    path = paths.keys_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{path} cannot be read as JSON ({type(exc).__name__})", hint="remove it and set the keys again"
        ) from None
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def _save(keys: dict[str, str]) -> None:
    directory = paths.ensure_data_dir()
    # mkstemp creates the file with mode 0600, so the key is never readable by others, not even briefly
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".keys.", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keys, handle, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, paths.keys_path())
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def stored_values() -> list[str]:
    """Every key the keys file holds (for redaction)."""
    return [value for value in _load().values() if isinstance(value, str)]


def get_key(provider: str) -> str | None:
    provider = check_provider(provider)
    return os.environ.get(key_env(provider)) or _load().get(provider)


def require_key(provider: str) -> str:
    key = get_key(provider)
    variable = key_env(provider)
    if not key:
        raise UsageError(
            f"no {provider} key: set {variable}",
            hint=f"or store one with `agentik keys set {provider}`",
        )
    where = f"${variable}" if os.environ.get(variable) else f"the stored {provider} key"
    return check_key(key, where)


def check_key(value: str, where: str) -> str:
    """A key goes in an HTTP header: printable ASCII without spaces, or the call would fail after the
    user's message was stored (found before anything is sent or written). The key is never shown."""
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        raise UsageError(
            f"{where} is not a key: it holds spaces or characters other than printable ASCII",
            hint="copy the key again, exactly as the provider shows it",
        )
    return value


def set_key(provider: str, value: str) -> None:
    provider = check_provider(provider)
    value = value.strip()
    if not value:
        raise UsageError("the key is empty")
    check_key(value, "that")
    keys = _load()
    keys[provider] = value
    _save(keys)


def remove_key(provider: str) -> bool:
    provider = check_provider(provider)
    keys = _load()
    if keys.pop(provider, None) is None:
        return False
    _save(keys)
    return True


def mask(value: str) -> str:
    return f"{value[:3]}…{value[-4:]}" if len(value) > 12 else "…" * 3


def list_keys() -> list[dict[str, str | None]]:
    stored = _load()
    rows: list[dict[str, str | None]] = []
    for provider in registry.names():
        env_value = os.environ.get(key_env(provider))
        if env_value:
            rows.append({"provider": provider, "source": f"${key_env(provider)}", "key": mask(env_value)})
        elif provider in stored:
            rows.append({"provider": provider, "source": str(paths.keys_path()), "key": mask(stored[provider])})
        else:
            rows.append({"provider": provider, "source": None, "key": None})
    return rows
