"""The README is executed: every block that shows commands and their output (a fenced block with no
language whose lines start with `$ `) is run here, command by command, in bash, against the local test
provider (tests/fakeprovider.py answering with tests/readme_replies.json), and what each command
prints (stdout and stderr, as a terminal shows them) is compared with what the README shows, times
and dates normalized.

A small runner of our own rather than pytest-examples, mktestdocs or cog: those run Python or
shell blocks and compare (at most) one output, while the README's examples are terminal transcripts
(several commands, each with its output, a chat's reply and its usage line on two streams) whose
state carries from one block to the next within a section.

Each `## ` section is one scene, run in a fresh home folder; its blocks run in order. Lines of the
form `<!-- readme-test: KEY: VALUE -->` right above a block say how to run it:
- `skip: REASON`: not run (a block needing a person at a terminal, or a server of its own), with why;
- `setup: COMMAND`: run before the block, its output not shown (state the block starts from);
- `env: NAME=VALUE`: set for the block and the rest of its scene.

`AGENTIK_README_UPDATE=1 pytest tests/project/test_readme_examples.py -n0` writes what the commands printed
into the README instead of comparing (read the diff before committing it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fakeprovider import README_REPLIES, FakeProvider, load_canned

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DIRECTIVE = re.compile(r"<!-- readme-test: (\w+): (.*?) -->")


@dataclass
class Step:
    command: str
    expected: list[str]
    gap: bool = False  # a blank line after it in the README


@dataclass
class Block:
    line: int  # where its fence opens (1-based)
    section: str
    text: str
    skip: str | None = None
    setup: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def steps(self) -> list[Step]:
        steps: list[Step] = []
        lines = self.text.split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.startswith("$ "):
                if steps:
                    steps[-1].expected.append(line)
                continue
            command = line[2:]
            while command.endswith("\\") and i < len(lines):
                command = command + "\n" + lines[i]
                i += 1
            steps.append(Step(command, []))
        for step in steps:
            while step.expected and not step.expected[-1].strip():
                step.expected.pop()
                step.gap = True
        return steps


def blocks(text: str) -> list[Block]:
    found: list[Block] = []
    lines = text.split("\n")
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("```"):
            language = line[3:].strip()
            end = lines.index("```", i + 1)
            body = "\n".join(lines[i + 1 : end])
            if not language and any(row.startswith("$ ") for row in lines[i + 1 : end]):
                block = Block(i + 1, section, body)
                j = i - 1
                while j >= 0 and (match := DIRECTIVE.fullmatch(lines[j].strip())):
                    key, value = match.groups()
                    if key == "skip":
                        block.skip = value
                    elif key == "setup":
                        block.setup.insert(0, value)
                    elif key == "env":
                        name, _, setting = value.partition("=")
                        block.env[name] = setting
                    else:
                        raise AssertionError(f"README line {j + 1}: unknown readme-test directive {key}")
                    j -= 1
                found.append(block)
            i = end + 1
            continue
        i += 1
    return found


ALL = blocks(README.read_text(encoding="utf-8"))
# read at import: every test runs with the environment cleared (tests/conftest.py)
UPDATE = os.environ.get("AGENTIK_README_UPDATE") == "1"
SECTIONS = list(dict.fromkeys(block.section for block in ALL))

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SECONDS = re.compile(r"\b\d+\.\d s\b")
_STAMP = re.compile(r"\b\d{8}-\d{6}\b")  # a backup's file name


def normalized(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        line = _TIME.sub(lambda m: "<time>".ljust(len(m.group(0))), line.rstrip())
        line = _STAMP.sub("<stamp>........", _DATE.sub("<date>....", line))
        out.append(_SECONDS.sub("<s> s", line).rstrip())
    return out


@pytest.fixture(scope="module")
def provider():
    server = FakeProvider(0, canned=load_canned(README_REPLIES)).start()
    yield server
    server.stop()


def _environment(home: Path, provider: FakeProvider, extra: dict[str, str]) -> dict[str, str]:
    """A newcomer's shell after following the README: the local provider's exports, agentik on the
    PATH, a home of its own (the data folder is the default one inside it)."""
    env = {name: os.environ[name] for name in ("PATH", "TMPDIR") if name in os.environ}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        LANG="C.UTF-8",
        TZ="UTC",
        ANTHROPIC_BASE_URL=provider.url,
        OPENAI_BASE_URL=provider.url + "/v1",
        ANTHROPIC_API_KEY="sk-ant-local",
        OPENAI_API_KEY="sk-local",
    )
    env.update(extra)
    return env


HOME_SHOWN = "/home/me"
LAST_STATUS = "README_LAST_STATUS"


def _run(command: str, cwd: Path, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """What the command prints (stdout and stderr as one stream; the home folder shown as the
    README's /home/me), and the environment it leaves (an `export` carries to the commands after
    it). Commands run in the home folder."""
    marker = "__readme_env__"
    # `$?` is the previous command's status, as in the shell the README was typed into
    last = env.get(LAST_STATUS, "0")
    script = f"(exit {last})\n{command}\n{LAST_STATUS}=$?\necho {marker}\nexport {LAST_STATUS}\nenv -0"
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
    )  # fmt: skip
    text = done.stdout.decode("utf-8", "replace")
    printed, _, rest = text.partition(marker + "\n")
    printed = printed.replace(str(cwd), HOME_SHOWN)
    after = dict(item.split("=", 1) for item in rest.split("\0") if "=" in item)
    return printed.rstrip("\n").split("\n") if printed.strip() else [], after


def test_every_block_is_run_or_says_why_not():
    assert len(ALL) >= 8
    for block in ALL:
        assert block.skip is None or len(block.skip) > 10, f"README line {block.line}: say why it is not run"
    run = {block.section for block in ALL if not block.skip}
    assert {"A five-minute tour", "Sessions", "Budgets"} <= run


# Slow by nature: every command of a section is a real agentik process started by bash (a hundred
# in all, about a second each), as a newcomer types them.
@pytest.mark.slow
@pytest.mark.parametrize("section", SECTIONS)
def test_the_readme_examples(section, provider, tmp_path, agentik_store):
    if agentik_store != "sqlite":
        pytest.skip("the README's examples run on the default store (SQLite)")
    home = work = tmp_path / "newcomer"
    home.mkdir()
    env: dict[str, str] = {}
    update = UPDATE
    replacements: list[tuple[str, str]] = []
    ran = 0
    for block in [b for b in ALL if b.section == section]:
        if block.skip:
            continue
        ran += 1
        env = {**env, **block.env} if env else _environment(home, provider, block.env)
        for command in block.setup:
            printed, env = _run(command, work, env)
        lines: list[str] = []
        for step in block.steps():
            printed, env = _run(step.command, work, env)
            lines += ["$ " + step.command, *(line.rstrip() for line in printed)] + ([""] if step.gap else [])
            if not update:
                assert normalized(printed) == normalized(step.expected), (
                    f"README line {block.line}: `{step.command}` printed\n" + "\n".join(printed)
                )
        if update:
            replacements.append((block.text, "\n".join(lines).rstrip("\n")))
    if not ran:
        pytest.skip("no block of this section is run")
    if update:
        text = README.read_text(encoding="utf-8")
        for old, new in replacements:
            text = text.replace(f"```\n{old}\n```", f"```\n{new}\n```", 1)
        README.write_text(text, encoding="utf-8")
