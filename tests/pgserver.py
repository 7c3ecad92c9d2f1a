"""A PostgreSQL server for the suite: started once per test run, stopped at its end.

One server for the whole run, xdist or not: the process that runs pytest_configure first (the xdist
controller, or pytest itself without workers) starts it before any worker exists, and hands its
socket to the workers in an environment variable they inherit when they are spawned; the workers
only connect. So there is no lock to take and no race to lose, and one server (not one a worker)
keeps its start-up (about 2 s) paid once. The server listens on a unix socket in its own temporary
folder only (no TCP port, so nothing to collide with), runs without fsync (a crash loses nothing a
test needs), and holds `agentik_template`, a database agentik has migrated: each test gets
`CREATE DATABASE ... TEMPLATE agentik_template` (about 50 ms) and drops it when it ends.

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

ENV_SERVER = "AGENTIK_TEST_PG_SOCKET"  # the socket folder of the run's server (inherited by workers)
ENV_SKIPPED = "AGENTIK_TEST_PG_SKIPPED"  # why the PostgreSQL half does not run
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
    """Start the run's server, unless a parent process already did (xdist workers; a pytest run
    inside a test)."""
    if not (os.environ.get(ENV_SERVER) or os.environ.get(ENV_SKIPPED)):
        try:
            os.environ[ENV_SERVER] = _start()
        except _NotRun as exc:
            os.environ[ENV_SKIPPED] = str(exc)
    for key, name in (("socket", ENV_SERVER), ("skipped", ENV_SKIPPED)):
        if os.environ.get(name):
            _found[key] = os.environ[name]


def unconfigure(config: Any) -> None:
    global _admin
    if _admin is not None:
        _admin.close()
        _admin = None
    _stop()


def skipped_reason() -> str | None:
    if _found.get("socket"):
        return None
    return _found.get("skipped") or "no PostgreSQL server was started"


def header(config: Any) -> str:
    if config.getoption("store") == "sqlite":
        return "agentik stores: SQLite only (--store sqlite): the PostgreSQL half did not run"
    reason = skipped_reason()
    if reason is not None:
        return f"agentik stores: the PostgreSQL half did NOT run ({reason}); SQLite only"
    which = "SQLite and PostgreSQL" if config.getoption("store") == "both" else "PostgreSQL only"
    return f"agentik stores: {which} (PostgreSQL server on {_found['socket']})"


class _NotRun(Exception):
    pass


def start() -> str:
    """Start a server for a benchmark (stopped at exit); returns its socket folder."""
    socket = _start()
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


def _start() -> str:
    import psycopg  # noqa: F401 - the postgres extra: without it there is no PostgreSQL half

    bin_dir = find_bin()
    if bin_dir is None:
        raise _NotRun("no PostgreSQL 15+ binaries (initdb) under /usr/lib/postgresql/*/bin or on PATH")
    base = Path(tempfile.mkdtemp(prefix="agentik-pg-"))
    _started["base"] = base
    atexit.register(_stop)
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
    _started.update(bin=bin_dir, data=data, socket=str(base))
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
    data = _started.pop("data", None)
    if data is not None:
        subprocess.run(
            [*_as_postgres(), str(_started["bin"] / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
    base = _started.pop("base", None)
    if base is not None:
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
