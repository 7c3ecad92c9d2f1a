"""A PostgreSQL server for the suite: started once per test run, when the first test that needs it
runs, and stopped at the run's end; never started when no selected test needs it.

One server for the whole run, xdist or not: the process that runs pytest_configure first (the xdist
controller, or pytest itself without workers) makes an empty folder for it and hands its path to
the workers in an environment variable they inherit when they are spawned. The first test that
needs PostgreSQL, in whichever worker, takes a lock on a file in that folder, starts the server
there (unless another worker already did: a `ready` file says so, or says why it could not) and
lets go; the others wait on the lock, then only connect. The process that made the folder stops the
server and removes the folder at its end. So one server (not one a worker) keeps its start-up
(about 2 s) paid once, and a run of SQLite tests pays nothing. The server listens on a unix socket
in that folder only (no TCP port, so nothing to collide with), runs without fsync (a crash loses
nothing a test needs), and holds `agentik_template`, a database agentik has migrated: each test
gets `CREATE DATABASE ... TEMPLATE agentik_template` (about 50 ms) and drops it when it ends.

As root (Debian's packages in a container), the server runs as the `postgres` user through
`runuser`, since PostgreSQL refuses to run as root."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ENV_SERVER = "AGENTIK_TEST_PG_SOCKET"  # the socket folder of a running server (a pytest run inside a test)
ENV_SKIPPED = "AGENTIK_TEST_PG_SKIPPED"  # why the PostgreSQL half does not run
ENV_FOLDER = "AGENTIK_TEST_PG_FOLDER"  # the folder the run's server starts in, on first need (inherited by workers)
TEMPLATE = "agentik_template"
PORT = 5432  # names the socket file (.s.PGSQL.5432) in the server's own folder; no TCP port is opened

_started: dict[str, Any] = {}
_admin: Any = None


def find_bin() -> Path | None:
    """The newest PostgreSQL 15+ binaries: Debian's /usr/lib/postgresql/N/bin, else initdb on PATH
    (AGENTIK_TEST_PG_BIN names the folder instead)."""
    if os.environ.get("AGENTIK_TEST_PG_BIN"):
        chosen = Path(os.environ["AGENTIK_TEST_PG_BIN"])
        return chosen if (chosen / "initdb").exists() else None
    found = []
    for folder in glob.glob("/usr/lib/postgresql/*/bin"):
        version = Path(folder).parent.name
        if version.isdigit() and int(version) >= 15 and Path(folder, "initdb").exists():
            found.append((int(version), Path(folder)))
    if found:
        return max(found)[1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


# What configure() found, read once: the suite's fixture clears the environment around each test.
_found: dict[str, str] = {}


def socket() -> str:
    return _found["socket"]


def url(database: str, socket: str | None = None) -> str:
    socket = socket or _found.get("socket")
    return f"postgresql+psycopg://postgres@/{database}?host={socket}&port={PORT}"


def configure(config: Any) -> None:
    """Make the folder the run's server will start in, unless a parent process already did (xdist
    workers) or a server is handed down (a pytest run inside a test). Nothing starts here."""
    if not (os.environ.get(ENV_SERVER) or os.environ.get(ENV_SKIPPED) or os.environ.get(ENV_FOLDER)):
        folder = tempfile.mkdtemp(prefix="agentik-pg-")
        os.environ[ENV_FOLDER] = folder
        _started["owned"] = Path(folder)
        atexit.register(_stop)
    for key, name in (("socket", ENV_SERVER), ("skipped", ENV_SKIPPED), ("folder", ENV_FOLDER)):
        if os.environ.get(name):
            _found[key] = os.environ[name]


def unconfigure(config: Any) -> None:
    global _admin
    if _admin is not None:
        _admin.close()
        _admin = None
    _stop()


def ensure() -> str | None:
    """Start the run's server if no process has yet; None once it runs, else why it cannot."""
    if _found.get("socket") or _found.get("skipped"):
        return skipped_reason()
    if not _found.get("folder"):
        return "no PostgreSQL server was started"
    import fcntl

    folder = Path(_found["folder"])
    with open(folder / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # let go when the file closes
        ready = folder / "ready"
        if not ready.exists():
            try:
                outcome = "socket\t" + _start(folder)
            except _NotRun as exc:
                outcome = "skipped\t" + str(exc)
            ready.write_text(outcome)
        key, _, value = ready.read_text().partition("\t")
    _found[key] = value
    return skipped_reason()


def _outcome() -> str | None:
    """What became of the run's server: 'socket\t...', 'skipped\t...', or None (not needed)."""
    if _found.get("socket"):
        return "socket\t" + _found["socket"]
    if _found.get("skipped"):
        return "skipped\t" + _found["skipped"]
    ready = Path(_found["folder"], "ready") if _found.get("folder") else None
    return ready.read_text() if ready is not None and ready.exists() else None


def skipped_reason() -> str | None:
    if _found.get("socket"):
        return None
    return _found.get("skipped") or "no PostgreSQL server was started"


def header(config: Any, at_end: bool = False) -> str:
    if config.getoption("store") == "sqlite":
        return "agentik stores: SQLite only (--store sqlite): the PostgreSQL half did not run"
    outcome = _outcome()
    if outcome is None:
        if at_end:
            return "agentik stores: SQLite only (no selected test needed PostgreSQL; none was started)"
        return "agentik stores: SQLite; PostgreSQL for the tests that need it (started on first need)"
    key, _, value = outcome.partition("\t")
    if key == "skipped":
        return f"agentik stores: the PostgreSQL half did NOT run ({value}); SQLite only"
    which = "SQLite and PostgreSQL" if config.getoption("store") == "both" else "PostgreSQL only"
    return f"agentik stores: {which} (PostgreSQL server on {value})"


def missing(config: Any) -> bool:
    """True when tests that needed PostgreSQL were skipped for want of it (said loudly at the end)."""
    outcome = _outcome()
    return config.getoption("store") != "sqlite" and outcome is not None and outcome.startswith("skipped")


class _NotRun(Exception):
    pass


def start() -> str:
    """Start a server for a benchmark (stopped at exit); returns its socket folder."""
    base = Path(tempfile.mkdtemp(prefix="agentik-pg-"))
    _started["owned"] = base
    atexit.register(_stop)
    socket = _start(base)
    _found["socket"] = socket
    return socket


def _as_postgres() -> list[str]:
    if os.geteuid() != 0:
        return []
    # in /usr/sbin or /sbin, which a user's PATH may leave out
    found = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), "runuser"
    )
    return [found, "-u", "postgres", "--"]


def _start(base: Path) -> str:
    """Start a server in `base` (stopped by the process that owns that folder, see _stop)."""
    try:
        import psycopg  # noqa: F401 - the postgres extra: without it there is no PostgreSQL half
    except ImportError:
        raise _NotRun("psycopg is not installed (pip install -e '.[postgres]')") from None

    bin_dir = find_bin()
    if bin_dir is None:
        raise _NotRun("no PostgreSQL 15+ binaries (initdb) under /usr/lib/postgresql/*/bin or on PATH")
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise _NotRun("running as root, and there is no `postgres` user to run the server as") from None
        os.chmod(base, 0o755)
        os.chown(base, user.pw_uid, user.pw_gid)
    data = base / "data"
    run = _as_postgres()
    try:
        subprocess.run(
            [*run, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        options = (
            f"-k {base} -p {PORT} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB"
        )
        subprocess.run(
            [*run, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60",
             "-o", options, "start"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise _NotRun(f"the server did not start: {' '.join(detail.split())[:300]}") from None
    _create_template(str(base))
    return str(base)


def _create_template(socket: str) -> None:
    from agentik_cli.store.engine import Store

    with _connect(socket) as admin:
        admin.execute(f"CREATE DATABASE {TEMPLATE}")
    store = Store(url(TEMPLATE, socket))
    try:
        store.migrate()
    finally:
        store.dispose()


def _connect(socket: str | None = None) -> Any:
    import psycopg

    socket = socket or _found["socket"]
    return psycopg.connect(host=socket, port=PORT, user="postgres", dbname="postgres", autocommit=True)


def _stop() -> None:
    """Stop the server in the folder this process made, whoever started it, and remove the folder."""
    base = _started.pop("owned", None)
    if base is None:
        return
    data = base / "data"
    bin_dir = find_bin()
    if (data / "postmaster.pid").exists() and bin_dir is not None:
        subprocess.run(
            [*_as_postgres(), str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
    shutil.rmtree(base, ignore_errors=True)


def admin() -> Any:
    """This process's connection to the server's `postgres` database (autocommit), for CREATE and
    DROP DATABASE."""
    global _admin
    if _admin is None or _admin.closed:
        _admin = _connect()
    return _admin


def create_database(name: str, template: str = TEMPLATE) -> str:
    admin().execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return url(name)


def drop_database(name: str) -> None:
    admin().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
