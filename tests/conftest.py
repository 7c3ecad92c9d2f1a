"""Every test runs in its own AGENTIK_HOME, offline, with no real keys, and sees none of the
environment of whoever runs the suite (tests/project/test_hermetic.py keeps that true); child
processes start from `base_env()`.

Where a new test goes: the folders mirror the package. tests/cli/ for what a command prints and
parses (listings, completion, start-up, live views), tests/services/ for what a command means (a
chat turn, budgets, costs, webhooks, forgetting), tests/store/ for the store itself (the unit of
work, the ledger's totals, migrations, PostgreSQL, copies between stores, crashes, concurrency),
tests/providers/ for the SDKs and their wire formats, tests/skills/ for the skills and the sandbox,
tests/sources/ for other tools' logs and `costs import --from` (fixtures in tests/fixtures/),
tests/terminal/ for anything driven through a pseudo-terminal (pexpect), and tests/project/ for
checks of the project as a whole (the README and its examples, the layers, the scripting contract
across every command, a hermetic suite). Helpers shared by several files stay here, in tests/
(`from tests.conftest import db_rows`, `python -m tests.fakeprovider`).

Which store: a test runs on SQLite (`[sqlite]`, a file in its AGENTIK_HOME), unless what it tests
depends on the store; then it runs twice, on SQLite and on PostgreSQL (`[postgres]`, a database of
its own, made from a migrated template, on a server the suite starts; see tests/pgserver.py). A
test runs on both stores when it is under tests/store/, is marked `both_stores` (a module marks
itself with `pytestmark = pytest.mark.both_stores`), or asks for the `on_postgres` fixture;
`postgres_only` runs one as `[postgres]` only, and `sqlite_only(reason)` keeps one off PostgreSQL
(tests about SQLite files). Mark a test `both_stores` when the code it reaches differs by store:
pg_notify and LISTEN, COPY, locks and concurrent writers, full-text search, redaction of the
stored bytes, a store a team shares. PostgreSQL starts once per run, when the first such test runs,
and not at all when none is selected. `--store sqlite` runs everything on SQLite (the inner loop:
`pytest -m 'not slow' --store sqlite`), `--store postgres` runs everything on PostgreSQL
(AGENTIK_TEST_DB sets it too)."""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import os
import re
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.testing
from typer.testing import CliRunner

from agentik_cli.cli.app import app
from agentik_cli.services import opening
from agentik_cli.store import engine
from tests import pgserver

# From the environment of whoever runs the suite, only what finding programs and writing temporary
# files needs is kept: everything else (keys and base URLs of every SDK, proxies, NO_COLOR, FORCE_COLOR,
# COLUMNS, LINES, TERM, TZ, LANG, HOME, XDG_*, INPUTRC, PYTHONWARNINGS, AGENTIK_*...) is dropped, so
# an allowlist rather than a list of names that would miss the next variable an SDK starts to read.
_KEEP = ("PATH", "TMPDIR", "SYSTEMROOT")
_KEEP_PREFIXES = ("PYTEST_", "COV_CORE_", "COVERAGE_")


def base_env(home: Path | str | None = None, **extra: str) -> dict[str, str]:
    """The environment every test and every child process starts from: a fixed base, never the
    user's environment wholesale. `home` is the AGENTIK_HOME (default: the current test's)."""
    env = {name: os.environ[name] for name in _KEEP if name in os.environ}
    env.update(
        HOME=os.environ.get("HOME", ""),  # the test's own (see agentik_home), for platformdirs and readline
        LANG="C.UTF-8",
        TZ=os.environ.get("TZ", "UTC"),
        AGENTIK_HOME=str(home) if home is not None else os.environ.get("AGENTIK_HOME", ""),
    )
    if _test_db is not None:  # the current test's PostgreSQL database (set by agentik_home)
        env["AGENTIK_DB"] = _test_db
    env.update(extra)
    return env


# The PostgreSQL database of the test running in this process, if it runs on PostgreSQL.
_test_db: str | None = None
_db_numbers = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=("both", "sqlite", "postgres"),
        default=os.environ.get("AGENTIK_TEST_DB", "both"),
        help="run every test on SQLite, or every test on PostgreSQL; by default (both) the tests of the store "
        "on both and the others on SQLite (AGENTIK_TEST_DB sets it too)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Started in the background (`cmd &` in a script, nohup, some CI steps) the suite inherits SIGINT
    # ignored, and so would every agentik it starts: the Ctrl-C tests need it at its default, as in
    # a person's terminal. An ignored signal stays ignored across exec; a handled one is reset.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    config.addinivalue_line(
        "markers", "sqlite_only(reason): about SQLite files (the WAL, backups, completion reading the file)"
    )
    config.addinivalue_line("markers", "postgres_only: about PostgreSQL itself; runs only as [postgres]")
    config.addinivalue_line(
        "markers", "both_stores: what it tests depends on the store; runs as [sqlite] and [postgres]"
    )
    if config.getoption("store") != "sqlite":
        pgserver.configure(config)  # a folder for the server; it starts when a test first needs it


def pytest_unconfigure(config: pytest.Config) -> None:
    pgserver.unconfigure(config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [pgserver.header(config)]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    # at the end too, where it is seen (-q hides the header)
    if hasattr(config, "workerinput"):
        return
    missing = pgserver.missing(config)
    terminalreporter.write_line(pgserver.header(config, at_end=True), yellow=missing, bold=missing)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "agentik_store" not in metafunc.fixturenames:
        return
    chosen = metafunc.config.getoption("store")
    if metafunc.definition.get_closest_marker("postgres_only") is not None:
        stores = ["postgres"]
    elif chosen != "both":
        stores = [chosen]
    elif _on_both_stores(metafunc):
        stores = ["sqlite", "postgres"]
    else:
        stores = ["sqlite"]
    metafunc.parametrize("agentik_store", stores, indirect=True)


_STORE_TESTS = Path(__file__).parent / "store"


def _on_both_stores(metafunc: pytest.Metafunc) -> bool:
    """Under tests/store/, marked both_stores, or asking for on_postgres (see the docstring)."""
    return (
        _STORE_TESTS in Path(metafunc.definition.path).parents
        or metafunc.definition.get_closest_marker("both_stores") is not None
        or "on_postgres" in metafunc.fixturenames
    )


@pytest.fixture
def agentik_store(request: pytest.FixtureRequest) -> Iterator[str]:
    """'sqlite', or the URL of a fresh, migrated PostgreSQL database for this test alone."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    marker = request.node.get_closest_marker("sqlite_only")
    if marker is not None:
        pytest.skip("SQLite only: " + (marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")))
    reason = pgserver.ensure()
    if reason is not None:
        pytest.skip(f"PostgreSQL half not run: {reason}")
    name = f"t{os.getpid()}_{next(_db_numbers)}"
    url = pgserver.create_database(name)
    try:
        yield url
    finally:
        engine.reset_stores()
        _dispose_query_stores()
        pgserver.drop_database(name)


@pytest.fixture
def on_postgres(agentik_store: str) -> bool:
    return agentik_store != "sqlite"


@pytest.fixture(autouse=True)
def agentik_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, agentik_store: str, request: pytest.FixtureRequest
) -> Iterator[Path]:
    global _test_db
    zone = os.environ.get("AGENTIK_TEST_TZ", "UTC")
    home = tmp_path / "agentik-home"
    user_home = tmp_path / "home"
    user_home.mkdir()
    for name in list(os.environ):
        if name not in _KEEP and not name.startswith(_KEEP_PREFIXES):
            monkeypatch.delenv(name)
    for name, value in base_env(home, HOME=str(user_home)).items():
        monkeypatch.setenv(name, value)
    set_tz(monkeypatch, zone)
    engine.reset_stores()
    _test_db = None if agentik_store == "sqlite" else agentik_store
    if _test_db is not None:
        monkeypatch.setenv("AGENTIK_DB", _test_db)
    if _STORE_TESTS not in Path(request.node.path).parents:
        monkeypatch.setattr(engine.Store, "migrate", _migrate_from_template)
    try:
        yield home
    finally:
        _test_db = None
        engine.reset_stores()


_migrate = engine.Store.migrate
_sqlite_template: list[Path] = []


def _migrate_from_template(store: engine.Store) -> None:
    """A new SQLite database made in-process starts as a copy of one migrated once a process (a
    file copy, not the migrations' hundred statements): what the migrations make is the subject of
    tests/store/ (which migrate for real), not of the tests of commands. Then the real migrate runs,
    and finds nothing to do."""
    path = engine.sqlite_path(store.url) if store.is_sqlite else None
    if path is not None and not path.exists() and path.parent.is_dir():
        if not _sqlite_template:
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="agentik-template-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            template = engine.Store(f"sqlite:///{folder / 'agentik.db'}")
            _migrate(template)
            template.dispose()  # the last connection closed: the WAL is in the main file
            _sqlite_template.append(folder / "agentik.db")
        shutil.copyfile(_sqlite_template[0], path)
    _migrate(store)


_kept_homes: dict[str, Path] = {}


def built_once(name: str, home: Path, build: Callable[[], object]) -> None:
    """A store many tests of a module start from, built by `build` (commands run in `home`, the
    test's AGENTIK_HOME): on SQLite, the first test of a process builds it and keeps its files
    (every connection closed first, so the WAL is in agentik.db), and each next test starts from a
    copy of them in its own AGENTIK_HOME: a store of its own still, which nothing another test did
    reaches. A file copy instead of the commands (a chat, a webhook delivery...) a test. On
    PostgreSQL every test builds it. The store must hold no path of its home (the copy is
    elsewhere), and what `build` leaves outside the store (the fake server's requests) is not
    there for the tests that start from a copy."""
    if _test_db is None and name in _kept_homes:
        shutil.copytree(_kept_homes[name], home, dirs_exist_ok=True)
        return
    build()
    if _test_db is None:
        import tempfile

        engine.reset_stores()
        folder = Path(tempfile.mkdtemp(prefix=f"agentik-{name}-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        shutil.copytree(home, folder / "home")
        _kept_homes[name] = folder / "home"


def set_tz(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    import time

    monkeypatch.setenv("TZ", name)
    time.tzset()


# CliRunner builds the Click command tree from the Typer app on every invoke (25 ms, a tenth of a
# typical test); the console script builds it once a process, and so does the suite, once a session.
typer.testing._get_command = functools.cache(typer.testing._get_command)


def _one_tls_context_per_session() -> None:
    """Every SDK client loads the system's CA bundle (35 ms), a client a chat: the console script
    makes one client a process, the suite hundreds, and the fake provider speaks plain HTTP anyway."""
    try:
        import httpcore2
    except ImportError:  # an SDK on plain httpx: no shortcut, only slower
        return
    httpcore2.default_ssl_context = functools.cache(httpcore2.default_ssl_context)


_one_tls_context_per_session()


class _CompiledStatements:
    """SQLAlchemy compiles each statement once an engine (2 ms a statement, a chat turn runs some
    twenty): the console script opens one engine a process and pays that once per statement, the
    suite opens one a test and would pay it in every test, a fifth of a typical test's time. So
    every engine of this process shares one cache of compiled statements. What is cached is the SQL
    text a statement compiles to, a function of the statement and the dialect (the values are bound
    at each execution), so no row, connection or setting passes from one test to the next. The key
    is the dialect's class and server version, not the dialect object (one an engine): agentik makes
    every engine of one kind with the same options (store/engine.py _engine_options)."""

    def __init__(self) -> None:
        from sqlalchemy.util import LRUCache

        self._cache: LRUCache[Any, Any] = LRUCache(5000)

    @staticmethod
    def _key(key: tuple[Any, ...]) -> tuple[Any, ...]:
        dialect = key[0]
        return (type(dialect), dialect.server_version_info, *key[1:])

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        return self._cache.get(self._key(key), default)

    def __setitem__(self, key: tuple[Any, ...], value: Any) -> None:
        self._cache[self._key(key)] = value


def _one_statement_cache_per_process() -> None:
    compiled = _CompiledStatements()
    create_engine = engine.create_engine

    @functools.wraps(create_engine)
    def create_engine_sharing_the_cache(*args: Any, **kwargs: Any) -> Any:
        made = create_engine(*args, **kwargs)
        made._compiled_cache = compiled
        return made

    engine.create_engine = create_engine_sharing_the_cache  # type: ignore[assignment]


_one_statement_cache_per_process()


class Runner:
    """Runs the CLI in-process, through the same error boundary as the console script."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None, code: int = 0):
        result = self.runner.invoke(app, [str(a) for a in args], input=input, env=env)
        assert result.exit_code == code, (
            f"exit {result.exit_code} != {code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
            f"\nexception: {result.exception!r}"
        )
        return result

    def json(self, *args: str, **kwargs):
        return json.loads(self(*args, "--json", **kwargs).stdout)


@pytest.fixture
def cli() -> Runner:
    return Runner()


@pytest.fixture
def store():
    return opening.command_store()


@pytest.fixture(scope="session")
def fake_server():
    from tests.fakeprovider import FakeProvider

    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server, monkeypatch: pytest.MonkeyPatch):
    """The fake provider server, with both SDKs pointed at it and test keys in the environment.
    One server for the session (20 ms to start and stop one, 3 s of the suite), its
    script, default reply and record of requests made new for every test."""
    from tests.fakeprovider import Reply

    server = fake_server
    with server.lock:
        server.script.clear()
        server.requests.clear()
        server.default = Reply()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-0123456789")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test-key-0123456789")
    return server


_query_stores: dict[str, engine.Store] = {}


def _dispose_query_stores() -> None:
    for store in _query_stores.values():
        store.dispose()
    _query_stores.clear()


def db_rows(home: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of a query on the current test's store (`?` placeholders), whichever it is: the SQLite
    file in `home`, or the test's PostgreSQL database (through agentik's own store, unmigrated).
    PostgreSQL answers a comparison with True (== 1) and a sum with a Decimal (== the int)."""
    if _test_db is None:
        import sqlite3

        with sqlite3.connect(home / "agentik.db") as db:
            return db.execute(sql, params).fetchall()
    with _query_store().engine.connect() as conn:
        return [tuple(row) for row in conn.execute(*_named(sql, params)).all()]


def db_execute(home: Path, *statements: tuple[str, tuple]) -> None:
    """Run (sql, params) statements on the current test's store in one transaction (a test setting
    up a state no command makes, such as rows from 40 days ago)."""
    if _test_db is None:
        import sqlite3

        with sqlite3.connect(home / "agentik.db") as db:
            for sql, params in statements:
                db.execute(sql, params)
        return
    with _query_store().engine.begin() as conn:
        for sql, params in statements:
            conn.execute(*_named(sql, params))


def _query_store() -> engine.Store:
    assert _test_db is not None
    store = _query_stores.get(_test_db)
    if store is None:
        store = _query_stores[_test_db] = engine.Store(_test_db)
    return store


def _named(sql: str, params: tuple) -> tuple[Any, dict[str, Any]]:
    from sqlalchemy import text

    numbers = itertools.count()
    named = re.sub(r"\?", lambda _: f":p{next(numbers)}", sql)
    return text(named), {f"p{i}": value for i, value in enumerate(params)}


def stored_bytes(home: Path) -> bytes:
    """Everything the current test's store holds, as bytes: on SQLite the files (the WAL too), on
    PostgreSQL every row of every table as text."""
    if _test_db is None:
        return b"".join(path.read_bytes() for path in sorted(home.glob("agentik.db*")))
    tables = [row[0] for row in db_rows(home, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    rows = [row[0] for table in tables for row in db_rows(home, f"SELECT t::text FROM {table} t")]
    return "\n".join(rows).encode()
