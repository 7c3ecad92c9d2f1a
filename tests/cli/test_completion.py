"""Shell completion: the scripts stay generated from the app; names, ids and choices complete
dynamically without importing anything heavy; bash completes a name with spaces as one word."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import base_env

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "completions"))

import generate  # noqa: E402


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_scripts_match_the_app(shell):
    path = ROOT / "completions" / generate.SHELLS[shell]
    assert path.read_text() == generate.script(shell), "run: python completions/generate.py"


def complete(home: Path, words: str, cword: int | None = None, shell: str = "bash") -> list[str]:
    env = base_env(home, _AGENTIK_COMPLETE=f"complete_{shell}")
    if shell == "bash":
        parts = words.split(" ")
        env.update(COMP_WORDS="\n".join(parts), COMP_CWORD=str(len(parts) - 1 if cword is None else cword))
    else:
        env.update(_TYPER_COMPLETE_ARGS=words, _TYPER_COMPLETE_FISH_ACTION="get-args")
    out = subprocess.run([sys.executable, "-m", "agentik_cli"], env=env, capture_output=True, text=True, timeout=120)
    return [line for line in out.stdout.split("\n") if line]


@pytest.fixture
def named(cli, fake):
    cli("agents", "create", "My Agent", "--model", "gpt-4o-mini")
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    cli("chat", "helper", "-m", "first")
    cli("chat", "helper", "-m", "second")


@pytest.mark.slow
def test_dynamic_values(named, agentik_home):
    assert complete(agentik_home, "agentik chat ") == ["helper", "My Agent"]
    assert complete(agentik_home, "agentik agents show h") == ["helper"]
    assert complete(agentik_home, "agentik agents show my") == ["my Agent"]  # any case, the typed prefix kept
    assert complete(agentik_home, "agentik sessions show ") == ["2", "1"]
    assert complete(agentik_home, "agentik chat --session ") == ["2", "1"]
    assert complete(agentik_home, "agentik costs history --agent M") == ["My Agent"]
    assert complete(agentik_home, "agentik agents list --status a") == ["active", "archived"]
    assert complete(agentik_home, "agentik agents create x --provider o") == ["openai"]
    assert complete(agentik_home, "agentik costs history --by ") == ["day", "week", "month"]
    assert "claude-sonnet-4-0" in complete(agentik_home, "agentik chat --model claude-sonnet")
    assert complete(agentik_home, "agentik agents show My", shell="fish") == ["My Agent\tgpt-4o-mini"]
    zsh = complete(agentik_home, "agentik agents show h", shell="zsh")
    assert any("helper" in line for line in zsh)


@pytest.mark.slow
def test_completion_imports_nothing_heavy(named, agentik_home):
    code = (
        "import sys\n"
        "from agentik_cli.cli.app import app\n"
        "try:\n    app(prog_name='agentik')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('anthropic', 'openai', 'genai_prices', 'sqlalchemy', 'sqlmodel') if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    env = base_env(agentik_home, _AGENTIK_COMPLETE="complete_bash", COMP_WORDS="agentik\nchat\n", COMP_CWORD="2")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines() == ["helper", "My Agent"]
    assert result.stderr.endswith("HEAVY=")


@pytest.mark.slow
def test_bash_completes_a_name_with_spaces_as_one_word(named, agentik_home, tmp_path):
    env = base_env(
        agentik_home,
        PS1="$ ",
        TERM="dumb",
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        INPUTRC="/dev/null",
    )
    if not (Path(sys.executable).parent / "agentik").exists():
        pytest.skip("the agentik console script is not installed beside this Python")
    shell = pexpect.spawn(
        "bash", ["--norc", "--noprofile", "-i"], env=env, encoding="utf-8", timeout=120, cwd=str(tmp_path)
    )
    try:
        shell.expect_exact("$ ")
        shell.sendline(f"source {ROOT / 'completions' / 'agentik.bash'}")
        shell.expect_exact("$ ")
        shell.send("agentik agents show My\t")
        shell.expect_exact("My\\ Agent ")
        shell.sendline(" --json | head -3")
        shell.expect('"name": "My Agent"')
    finally:
        shell.close(force=True)


@pytest.mark.parametrize("parent", ["/bin/sh", "/bin/bash"])
def test_install_completion(tmp_path, parent):
    """Started from sh (a Makefile, `sh -c`, CI), which has no completion, the login shell's script
    is installed, as from bash: the parent shell is not the user's."""
    home = tmp_path / "installer-home"
    home.mkdir()
    env = base_env(HOME=str(home), SHELL="/bin/bash")
    command = f"{shlex.quote(sys.executable)} -m agentik_cli --install-completion"
    result = subprocess.run([parent, "-c", command], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    installed = list(home.rglob("agentik*"))
    assert installed, result.stdout + result.stderr
    assert "_AGENTIK_COMPLETE=complete_bash" in installed[0].read_text()
    assert "agentik" in (home / ".bashrc").read_text()


def test_install_completion_for_a_shell_without_completion_says_so(tmp_path):
    env = base_env(HOME=str(tmp_path), SHELL="/bin/sh")
    command = f"{shlex.quote(sys.executable)} -m agentik_cli --install-completion"
    result = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "agentik: error: cannot tell which shell this is"
