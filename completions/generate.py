"""Write the shell completion scripts from the app: python completions/generate.py

The scripts come from agentik_cli/cli/shells.py, which also gives them to `agentik
--show-completion` and `agentik --install-completion`. tests/test_completion.py fails when these
files drift from the app."""

from __future__ import annotations

import sys
from pathlib import Path

from agentik_cli.cli.shells import script

HERE = Path(__file__).resolve().parent
SHELLS = {"bash": "agentik.bash", "zsh": "agentik.zsh", "fish": "agentik.fish"}


def main() -> None:
    for shell, name in SHELLS.items():
        (HERE / name).write_text(script(shell))
        print(f"wrote completions/{name}", file=sys.stderr)


if __name__ == "__main__":
    main()
