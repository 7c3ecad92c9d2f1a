"""The `files` skill against a hostile tree and hostile calls (issue 20): a link swapped in while a
file is read, a hard link out, secret files by every name a developer's tree holds them under, a
FIFO, a catastrophic regex, a folder too big to search; and the environment variables a command
never gets. Each test fails without its fix."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentik_cli.skills import files, secrets
from agentik_cli.skills.base import Context, Outcome, Rules
from agentik_cli.skills.files import FilesSkill
from agentik_cli.skills.shell import clean_environment, run_argv

pytestmark = pytest.mark.sqlite_only("the skills' own checks: no store is involved")


def context(folder: Path) -> Context:
    return Context(1, "a", Rules(allow_dirs=(str(folder),)), workspace=folder)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "notes.md").write_text("hello\n")
    (tmp_path / "outside.txt").write_text("private\n")
    return root


def call(folder: Path, tool: str, **arguments: Any) -> Outcome:
    return FilesSkill().run(tool, arguments, context(folder))


def within(seconds: float, run: Callable[[], Outcome]) -> Outcome:
    """`run()`'s outcome, failing the test (not hanging it) when it takes longer than `seconds`: run
    in a forked process, killed then, since a regex in `re` never lets go of the GIL to a thread."""
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=lambda: writer.send(run()), daemon=True)
    process.start()
    try:
        assert reader.poll(seconds), f"still running after {seconds} s (or it failed: exit code {process.exitcode})"
        return reader.recv()
    finally:
        process.kill()
        process.join()


# ---- links: no race, no hard link ----


@pytest.mark.slow
def test_a_link_swapped_in_while_reading_never_leads_out(folder):
    stop = threading.Event()

    def swap() -> None:  # swap.txt: a file inside, then a link out, each swap one atomic rename
        spare = folder / "swap.spare"
        while not stop.is_set():
            spare.write_text("inside\n")
            os.replace(spare, folder / "swap.txt")
            spare.symlink_to(folder.parent / "outside.txt")
            os.replace(spare, folder / "swap.txt")

    thread = threading.Thread(target=swap)
    thread.start()
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 3
        reads = 0
        while time.monotonic() < deadline or reads < 1000:
            outcome = call(folder, "read_file", path="swap.txt")
            assert "private" not in outcome.output, f"read the outside file after {reads} reads"
            seen.add(outcome.output or outcome.status)
            reads += 1
    finally:
        stop.set()
        thread.join()
    assert {"inside\n", "denied"} <= seen  # both were met: the file read, the link refused


def test_a_folder_swapped_for_a_link_while_reading_never_leads_out(folder):
    (folder / "real").mkdir()
    (folder / "real" / "outside.txt").write_text("inside\n")
    stop = threading.Event()

    def swap() -> None:
        spare = folder / "dir.spare"
        while not stop.is_set():
            spare.symlink_to(folder.parent)  # dir -> the folder above, which holds outside.txt
            os.replace(spare, folder / "dir")
            spare.symlink_to(folder / "real")  # a link inside: resolved, then opened as real/...
            os.replace(spare, folder / "dir")

    thread = threading.Thread(target=swap)
    thread.start()
    try:
        for _ in range(1500):
            outcome = call(folder, "read_file", path="dir/outside.txt")
            assert "private" not in outcome.output
    finally:
        stop.set()
        thread.join()


def test_a_link_inside_the_folder_is_still_read(folder):
    (folder / "link.md").symlink_to(folder / "notes.md")
    (folder / "linkdir").symlink_to(folder)
    assert call(folder, "read_file", path="link.md").output == "hello\n"
    assert call(folder, "read_file", path="linkdir/notes.md").output == "hello\n"
    assert "notes.md" in call(folder, "list_dir", path="linkdir").output


def test_a_hard_link_to_an_outside_file_is_refused(folder):
    os.link(folder.parent / "outside.txt", folder / "hard.txt")
    outcome = call(folder, "read_file", path="hard.txt")
    assert outcome.status == "denied" and "hard links" in (outcome.error or "")
    assert "private" not in call(folder, "grep", pattern="private").output
    assert "private" not in call(folder, "grep", pattern="private", path="hard.txt").output


# ---- secret files ----

# every name issue 20 found missing, and their kin
SECRET_FILES = [
    ".env",
    ".env.local",
    ".envrc",
    ".env_local",
    ".env-production",
    "prod.env",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    "credentials.json",
    "service-account.json",
    "service_account_prod.json",
    "kubeconfig",
    ".kube/config",
    ".docker/config.json",
    ".config/gh/hosts.yml",
    ".vault-token",
    "terraform.tfstate",
    "terraform.tfstate.backup",
    "prod.tfvars",
    ".cargo/credentials.toml",
    ".cargo/credentials",
    "release.jks",
    "app.keystore",
    ".htpasswd",
    "secrets.yaml",
    "secrets.toml",
    ".git/config",
    ".git/config.worktree",
    ".boto",
    ".s3cfg",
    ".yarnrc.yml",
    "vpn.ovpn",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    "server.pem",
    "tls.key",
    "id_rsa",
    "id_ed25519",
    ".ssh/config",
    ".aws/config",
    ".netrc",
    ".pgpass",
    ".my.cnf",
    "client_secret_123.json",
    ".config/gcloud/application_default_credentials.json",
    ".envs/.production/.django",
    ".ENV",
    "Credentials.JSON",
    ".KUBE/Config",
]


@pytest.mark.parametrize("name", SECRET_FILES)
def test_secret_files_are_refused_wherever_they_are(folder, name):
    path = folder / "deep" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("SECRET=1\n")
    outcome = call(folder, "read_file", path=f"deep/{name}")
    assert outcome.status == "denied" and "secrets" in (outcome.error or "")
    assert call(folder, "grep", pattern="SECRET").output == "no matches"
    assert secrets.is_secret_file(Path("/home/me/project") / name)


@pytest.mark.parametrize("name", ["notes.md", "main.py", "environment.md", "config.py", "keys.md", "docs/config"])
def test_ordinary_files_are_read(folder, name):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("plain\n")
    assert call(folder, "read_file", path=name).output == "plain\n"


def test_skills_show_lists_the_secret_files_and_variables(cli):
    shown = cli.json("skills", "show", "files")
    assert ".kube/config" in shown["refuses_files"] and ".ssh/" in shown["refuses_files"]
    assert "removes_variables" not in shown  # files runs no program
    shell = cli.json("skills", "show", "shell")
    assert "*TOKEN*" in shell["removes_variables"] and "PWD" in shell["keeps_variables"]
    assert "refuses_files" not in shell
    text = cli("skills", "show", "files").stdout
    assert "refuses files" in text and ".git-credentials" in text
    assert "removes variables" in cli("skills", "show", "shell").stdout


# ---- secret variables ----

SECRET_VARIABLES = [
    "DB_PASS",
    "SMTP_PASS",
    "MYSQL_PWD",
    "DOCKER_PASS",
    "CI_JOB_JWT",
    "GITLAB_PAT",
    "DB_CREDS",
    "PASSPHRASE",
    "STRIPE_SK",
    "SLACK_WEBHOOK_URL",
    "DB_PASSWORD",
    "PGPASSWORD",
    "DATABASE_URL",
    "OPENAI_API_KEY",
    "MY_TOKEN",
    "GITHUB_PAT",
    "AGENTIK_HOME",
    "SENTRY_DSN",
    "TLS_PRIVATE_KEY",
    "CLIENT_CERT",
    "SESSION_ID",
    "AUTH_COOKIE",
    "db_pw",
    "app_secret",
    "AZURE_STORAGE_CONNECTION_STRING",
]


@pytest.mark.parametrize("name", SECRET_VARIABLES)
def test_secret_variables_are_removed(name):
    assert name not in clean_environment({name: "leak-me", "PATH": "/usr/bin"})


@pytest.mark.parametrize(
    "name", ["PATH", "HOME", "LANG", "TERM", "TZ", "USER", "SHELL", "PWD", "OLDPWD", "SSL_CERT_FILE", "PATCH_LEVEL"]
)
def test_ordinary_variables_are_kept(name):
    assert clean_environment({name: "/somewhere"}) == {name: "/somewhere"}


def test_a_command_runs_without_the_secret_variables(monkeypatch):
    for name in SECRET_VARIABLES:
        monkeypatch.setenv(name, "leak-me")
    from agentik_cli.skills.sandbox import Confinement

    script = "import os; print(sorted(os.environ.items()))"
    outcome = run_argv([sys.executable, "-c", script], confinement=Confinement(False, (), False))
    assert outcome.status == "ok" and "leak-me" not in outcome.output and "PATH" in outcome.output


# ---- grep ----


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_grep_and_read_file_do_not_hang_on_a_fifo(folder):
    os.mkfifo(folder / "a.fifo")
    outcome = within(10, lambda: call(folder, "grep", pattern="hello"))
    assert outcome.output == "notes.md:1: hello"
    read = within(10, lambda: call(folder, "read_file", path="a.fifo"))
    assert read.status == "error" and "FIFO" in (read.error or "")


def test_grep_runs_a_catastrophic_pattern_in_linear_time(folder):
    (folder / "long.txt").write_text("a" * 50_000 + "b\n")
    started = time.monotonic()
    outcome = within(10, lambda: call(folder, "grep", pattern="(a+)+$", regex=True))
    assert outcome.output == "no matches" and time.monotonic() - started < 5
    found = call(folder, "grep", pattern=r"^a+b$", regex=True)
    assert found.output.startswith("long.txt:1: aaa")


def test_grep_says_why_a_pattern_cannot_run(folder):
    outcome = call(folder, "grep", pattern=r"(a)\1", regex=True)
    assert outcome.status == "error" and "backreferences" in (outcome.error or "") and "\\1" in (outcome.error or "")


def test_grep_stops_at_its_file_cap_over_the_whole_walk(folder, monkeypatch):
    # a cap of 300 rather than agentik's 20,000: the walk is the same, without 25,000 files to make
    monkeypatch.setattr(files, "GREP_FILES", 300)
    big = folder / "big"
    big.mkdir()
    for n in range(files.GREP_FILES + 100):
        os.close(os.open(big / f"f{n:05}", os.O_CREAT | os.O_WRONLY, 0o644))
    (big / "zz.txt").write_text("needle\n")  # after the cap, in name order
    outcome = within(60, lambda: call(folder, "grep", pattern="needle"))
    assert outcome.truncated and f"[stopped after {files.GREP_FILES:,} files" in outcome.output
    assert "zz.txt" not in outcome.output


def test_grep_still_finds_words_in_subfolders(folder):
    (folder / "src").mkdir()
    (folder / "src" / "a.py").write_text("x = 1\nneedle = 2\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("needle\n")
    assert call(folder, "grep", pattern="needle").output == "src/a.py:2: needle = 2"
    assert call(folder, "grep", pattern="needle", path="src/a.py").output == "a.py:2: needle = 2"
