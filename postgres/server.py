"""A local PostgreSQL server to deliver activation audiences into: `python -m postgres.server
up|down|status` (`mallcrm postgres ...` wraps it).

Debian's PostgreSQL (the `postgresql` package: `make postgres-deps`), one cluster under
`settings.postgres_path` (default `<warehouse dir>/postgres`):

    credentials.json   the passwords (mode 0600, owned by whoever runs the project)
    server.log         the server's start-up output
    data/              the cluster (PGDATA); its Unix socket sits in it too
    data/log/          the server's log once started, one file a day, plain (.log) and CSV
                       (.csv): connections, disconnections, DDL, and the statements of
                       the BI logins (serving/access_log.py summarizes who read what)

It listens on 127.0.0.1 only (port `settings.postgres_port`, 5433 by default: apart from
a system server on 5432) and holds the database `mallcrm`, owned by the role
`mallcrm_delivery` that dlt loads with. Authentication:

- TCP (127.0.0.1 only): scram-sha-256 passwords, generated at `initdb` and kept in
  `credentials.json`. Not `trust`: on a shared machine or CI runner any local process
  could otherwise connect to the port as the superuser.
- Unix socket: `trust`, for an operator's `psql -h <dir>/data -U postgres mallcrm`. The
  socket lives in the data directory (mode 0700), so only the cluster's OS owner (and
  root) can reach it: the file system is the authentication.

PostgreSQL refuses to run as root. As root (CI containers), `initdb` and `pg_ctl` run as
the `postgres` OS user that Debian's package creates (Python's subprocess switches user,
no sudo/su/runuser needed) and the data directory is owned by it; that user must be able
to reach `settings.postgres_path` (every parent directory searchable by it), which
`up` checks, naming the directory that blocks it. As any other user, the server runs as
that user.

`up` is idempotent (a running server is left alone, a stopped one started, a missing one
created) and `down` stops it (`pg_ctl stop -m fast`); both survive a crash: a stale
postmaster.pid is replaced by the postmaster itself, and an interrupted `initdb` happens
in `data.init/`, renamed to `data/` only once complete. The postmaster runs in its own
session (pg_ctl's setsid), so a Ctrl-C in the terminal that started it does not stop it.

With `settings.postgres_dsn` set (MALLCRM_POSTGRES_DSN), the server is an external one:
`dsn()` returns it, `up`/`down` do nothing and `status` only tries to connect.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import parse_dsn

from mallcrm.core.files import write_atomically
from mallcrm.core.settings import Settings, child_environment, load_settings

DATABASE = "mallcrm"
DELIVERY_ROLE = "mallcrm_delivery"
SUPERUSER = "postgres"
SERVER_OS_USER = "postgres"  # the OS user the server runs as when the project runs as root
HOST = "127.0.0.1"
REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
DEBIAN_ROOT = Path("/usr/lib/postgresql")
STARTUP_TIMEOUT_S = 60
LOG_DIR = "log"  # in the data folder: postgresql-<day>.log and .csv (the access log)
SOCKET_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1: a longer socket path is TCP only


class PostgresServerError(RuntimeError):
    """The local server could not be found, created, started or stopped."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    address: str  # host:port/database, never a password
    external: bool = False
    pid: int | None = None
    data_dir: Path | None = None

    def describe(self) -> str:
        state = "running" if self.running else "stopped"
        if self.external:
            return f"PostgreSQL (external, MALLCRM_POSTGRES_DSN) {state}: {self.address}"
        return f"PostgreSQL {state}: {self.address} (pid {self.pid or '-'}, data {self.data_dir})"


def _paths(settings: Settings) -> dict[str, Path]:
    root = settings.postgres_path
    return {
        "root": root,
        "data": root / "data",
        "init": root / "data.init",
        "log": root / "server.log",
        "credentials": root / "credentials.json",
        "pwfile": root / ".superuser.pw",
    }


# --- the binaries -------------------------------------------------------------------------


def _major(path: Path) -> float:
    """/usr/lib/postgresql/15/bin -> 15 (newest first when sorting by its negation)."""
    try:
        return float(path.parent.name)
    except ValueError:
        return -1.0


def candidate_bindirs(data_dir: Path | None = None) -> list[Path]:
    """Where the server binaries may be, best first: the version a cluster was created
    with, `pg_config --bindir`, Debian's /usr/lib/postgresql/<version>/bin (newest
    first), then wherever `pg_ctl` is on PATH (other distributions)."""
    dirs: list[Path] = []
    version_file = data_dir / "PG_VERSION" if data_dir else None
    if version_file and version_file.is_file():
        dirs.append(DEBIAN_ROOT / version_file.read_text().strip() / "bin")
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False)
            if out.returncode == 0 and out.stdout.strip():
                dirs.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    dirs.extend(sorted(DEBIAN_ROOT.glob("*/bin"), key=lambda p: -_major(p)))
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        dirs.append(Path(pg_ctl).resolve().parent)
    return list(dict.fromkeys(dirs))


def server_binaries(candidates: list[Path] | None = None) -> Path:
    """The first folder holding initdb, pg_ctl and postgres; a clear error when none does."""
    candidates = candidate_bindirs() if candidates is None else candidates
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) and (folder / name).is_file() for name in REQUIRED_BINARIES):
            return folder
    looked = ", ".join(str(c) for c in candidates) or "nowhere (no pg_config, no /usr/lib/postgresql/*/bin)"
    raise PostgresServerError(
        f"PostgreSQL server binaries ({', '.join(REQUIRED_BINARIES)}) not found; looked in {looked}. "
        "Install Debian's PostgreSQL server: `make postgres-deps` (apt-get install postgresql), "
        "or point MALLCRM_POSTGRES_DSN at an external server."
    )


def binaries_installed() -> bool:
    """Can a local server run here (the binaries are installed)?"""
    try:
        server_binaries()
    except PostgresServerError:
        return False
    return True


# --- running as the server's OS user -------------------------------------------------------


def _server_ids() -> dict:
    """subprocess keyword arguments that run a child as the server's OS user: none for a
    normal user, the `postgres` user for root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        raise PostgresServerError(
            f"running as root, but there is no OS user {SERVER_OS_USER!r} to run PostgreSQL as "
            "(it refuses to run as root). Debian's postgresql package creates it (`make postgres-deps`); "
            "or run as a non-root user."
        ) from None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _chown_to_server(path: Path, ids: dict) -> None:
    if ids:
        os.chown(path, ids["user"], ids["group"])


def _env(settings: Settings) -> dict[str, str]:
    """A small environment for initdb/pg_ctl: no PG* variables (PGDATA, PGPORT would steer
    pg_ctl), no MALLCRM_* (keys)."""
    path = child_environment(settings).get("PATH") or "/usr/bin:/bin"
    return {"PATH": path, "LC_ALL": "C", "TZ": "UTC"}


def _run(argv: list[str], settings: Settings, ids: dict, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=_env(settings),
        cwd=str(settings.postgres_path),
        timeout=timeout,
        check=False,
        **ids,
        **kwargs,
    )


def _check_reachable(paths: dict[str, Path], settings: Settings, ids: dict) -> None:
    """As root: the `postgres` user must reach the data directory; name what blocks it."""
    if not ids:
        return
    target = paths["init"] if paths["init"].exists() else paths["data"]
    if _run(["test", "-w", str(target)], settings, ids, 10).returncode == 0:
        return
    blocker = target
    for parent in reversed(target.parents):
        if _run(["test", "-x", str(parent)], settings, ids, 10).returncode != 0:
            blocker = parent
            break
    raise PostgresServerError(
        f"running as root, PostgreSQL runs as the OS user {SERVER_OS_USER!r}, which cannot reach {target}: "
        f"{blocker} is not searchable by it. Choose a data folder it can reach with MALLCRM_POSTGRES_DIR "
        "(e.g. under /var/tmp), or run as a non-root user."
    )


# --- status -----------------------------------------------------------------------------


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _postmaster(data: Path) -> tuple[int | None, int | None]:
    """(pid, port) from postmaster.pid, or (None, None)."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        return int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None, None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _external_address(dsn_text: str) -> str:
    try:
        parts = parse_dsn(dsn_text)
    except psycopg2.ProgrammingError:
        return "(unparseable MALLCRM_POSTGRES_DSN)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', '5432')}/{parts.get('dbname', '')}"


def status(settings: Settings) -> ServerStatus:
    if settings.postgres_dsn:
        try:
            psycopg2.connect(settings.postgres_dsn, connect_timeout=5).close()
            running = True
        except psycopg2.Error:
            running = False
        return ServerStatus(running, _external_address(settings.postgres_dsn), external=True)
    paths = _paths(settings)
    pid, port = _postmaster(paths["data"])
    alive = _alive(pid)
    running = alive and port == settings.postgres_port and _port_open(settings.postgres_port)
    return ServerStatus(
        running,
        f"{HOST}:{settings.postgres_port}/{DATABASE}",
        pid=pid if alive else None,
        data_dir=paths["data"],
    )


# --- credentials and DSN ------------------------------------------------------------------


def _read_credentials(paths: dict[str, Path]) -> dict | None:
    try:
        return json.loads(paths["credentials"].read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def dsn(settings: Settings) -> str:
    """The DSN to load with: MALLCRM_POSTGRES_DSN when set, else the local server's, as the
    delivery role (its password from credentials.json)."""
    if settings.postgres_dsn:
        return settings.postgres_dsn
    credentials = _read_credentials(_paths(settings))
    if not credentials:
        raise PostgresServerError(
            f"no local PostgreSQL server in {settings.postgres_path}: start one with "
            "`python -m postgres.server up` (or set MALLCRM_POSTGRES_DSN)"
        )
    password = quote(credentials["delivery_password"], safe="")
    return f"postgresql://{DELIVERY_ROLE}:{password}@{HOST}:{settings.postgres_port}/{DATABASE}"


def superuser_dsn(settings: Settings) -> str:
    """The local server's superuser DSN: what creating roles, grants and row security needs
    (serving/). The server must have been created (`up`)."""
    credentials = _read_credentials(_paths(settings))
    if not credentials:
        raise PostgresServerError(
            f"no local PostgreSQL server in {settings.postgres_path}: start one with `mallcrm postgres up`"
        )
    password = quote(credentials["superuser_password"], safe="")
    return f"postgresql://{credentials['superuser']}:{password}@{HOST}:{settings.postgres_port}/{DATABASE}"


def log_dir(settings: Settings) -> Path:
    """Where the local server writes its CSV log (connections, the BI logins' statements)."""
    return _paths(settings)["data"] / LOG_DIR


# --- creating, starting, stopping ---------------------------------------------------------


def _socket_setting(data: Path, port: int) -> str:
    """unix_socket_directories: the data folder, or none (TCP only) when its path is too long
    for a socket or cannot be quoted."""
    if len(f"{data}/.s.PGSQL.{port}") > SOCKET_PATH_MAX or any(c in str(data) for c in "\"',\n"):
        return "''"
    return f"'\"{data}\"'"


def _write_config(paths: dict[str, Path], settings: Settings, ids: dict) -> None:
    """mallcrm.conf (included by postgresql.conf), rewritten at every start: port and socket
    follow the settings."""
    data = paths["data"]
    conf = "\n".join(
        [
            "# Written by postgres/server.py at every `up`; edit the settings, not this file.",
            f"listen_addresses = '{HOST}'",
            f"port = {settings.postgres_port}",
            f"unix_socket_directories = {_socket_setting(data, settings.postgres_port)}",
            "unix_socket_permissions = 0700",
            "password_encryption = 'scram-sha-256'",
            "timezone = 'UTC'",
            "log_timezone = 'UTC'",
            # Access logging (serving/access_log.py reads the CSV): every connection and
            # disconnection, and DDL; the BI logins' statements are logged per role
            # (serving/grants.py: ALTER ROLE ... SET log_statement = 'all'), not everyone's:
            # dlt's INSERTs would put member rows into the log.
            "logging_collector = on",
            "log_destination = 'stderr,csvlog'",
            f"log_directory = '{LOG_DIR}'",
            "log_filename = 'postgresql-%Y-%m-%d.log'",
            "log_file_mode = 0600",
            "log_rotation_age = '1d'",
            "log_rotation_size = 0",
            "log_truncate_on_rotation = off",
            "log_connections = on",
            "log_disconnections = on",
            "log_statement = 'ddl'",
            "",
        ]
    )
    write_atomically(data / "mallcrm.conf", conf, mode=0o600)
    _chown_to_server(data / "mallcrm.conf", ids)


HBA = """\
# Written by postgres/server.py. The socket sits in the data folder (mode 0700): only the
# cluster's OS owner reaches it. TCP is 127.0.0.1 only, with passwords.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
"""


def _initdb(paths: dict[str, Path], settings: Settings, bindir: Path, ids: dict) -> None:
    """Create the cluster in data.init/, then rename it to data/ (an interrupted initdb
    leaves no half cluster behind). New passwords for the superuser and the delivery role."""
    init = paths["init"]
    if init.exists():
        shutil.rmtree(init)
    init.mkdir(mode=0o700)
    _chown_to_server(init, ids)
    _check_reachable(paths, settings, ids)
    credentials = {
        "superuser": SUPERUSER,
        "superuser_password": secrets.token_urlsafe(24),
        "delivery_role": DELIVERY_ROLE,
        "delivery_password": secrets.token_urlsafe(24),
        "database": DATABASE,
    }
    write_atomically(paths["pwfile"], credentials["superuser_password"] + "\n", mode=0o600)
    _chown_to_server(paths["pwfile"], ids)
    try:
        argv = [str(bindir / "initdb"), "-D", str(init), "-U", SUPERUSER, f"--pwfile={paths['pwfile']}"]
        argv += ["-E", "UTF8", "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256"]
        done = _run(argv, settings, ids, 300)
    finally:
        paths["pwfile"].unlink(missing_ok=True)
    if done.returncode != 0:
        raise PostgresServerError(f"initdb failed in {init}:\n{done.stdout}{done.stderr}")
    write_atomically(init / "pg_hba.conf", HBA, mode=0o600)
    _chown_to_server(init / "pg_hba.conf", ids)
    with open(init / "postgresql.conf", "a", encoding="utf-8") as fh:
        fh.write("\n# the project's settings (postgres/server.py)\ninclude 'mallcrm.conf'\n")
    write_atomically(paths["credentials"], json.dumps(credentials, indent=2) + "\n", mode=0o600)
    os.replace(init, paths["data"])


def _provision(settings: Settings, credentials: dict) -> None:
    """The delivery role (its password as in credentials.json) and the database it owns;
    idempotent."""
    conn = psycopg2.connect(
        host=HOST,
        port=settings.postgres_port,
        user=credentials["superuser"],
        password=credentials["superuser_password"],
        dbname="postgres",
        connect_timeout=10,
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            role = sql.Identifier(DELIVERY_ROLE)
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (DELIVERY_ROLE,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(role), (credentials["delivery_password"],))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if not cur.fetchone():
                cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE), role))
                cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(DATABASE)))
    finally:
        conn.close()


def _log_tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def up(settings: Settings, timeout: float = STARTUP_TIMEOUT_S) -> ServerStatus:
    """Create and start the local server unless it is running (then nothing happens);
    returns when it accepts connections and the database and role exist."""
    if settings.postgres_dsn:
        return status(settings)
    current = status(settings)
    if current.running:
        return current
    paths = _paths(settings)
    bindir = server_binaries(candidate_bindirs(paths["data"]))
    ids = _server_ids()
    down(settings)  # a server of this folder on another port (settings changed) is restarted
    paths["root"].mkdir(parents=True, exist_ok=True)
    # the server's user must traverse the folder when root; nothing else is readable in it
    paths["root"].chmod(0o711 if ids else 0o700)
    if not (paths["data"] / "PG_VERSION").is_file():
        _initdb(paths, settings, bindir, ids)
    credentials = _read_credentials(paths)
    if not credentials:
        raise PostgresServerError(
            f"{paths['credentials']} is missing but the cluster {paths['data']} exists: its passwords are lost. "
            f"Remove {paths['root']} (its data with it) and run up again."
        )
    _check_reachable(paths, settings, ids)
    if _port_open(settings.postgres_port):
        raise PostgresServerError(
            f"port {settings.postgres_port} on {HOST} is in use by another program (MALLCRM_POSTGRES_PORT)"
        )
    _write_config(paths, settings, ids)
    if not paths["log"].exists():
        write_atomically(paths["log"], "", mode=0o600)
    _chown_to_server(paths["log"], ids)
    argv = [str(bindir / "pg_ctl"), "start", "-D", str(paths["data"]), "-l", str(paths["log"])]
    argv += ["-w", "-t", str(int(timeout)), "-s"]
    # its own session: a Ctrl-C in the caller's terminal does not reach the postmaster
    started = _run(argv, settings, ids, timeout + 30, start_new_session=True)
    if started.returncode != 0:
        raise PostgresServerError(
            f"PostgreSQL did not start ({started.stdout}{started.stderr}); last lines of {paths['log']}:\n"
            + _log_tail(paths["log"])
        )
    deadline = time.monotonic() + timeout
    while True:
        try:
            _provision(settings, credentials)
            break
        except psycopg2.OperationalError as exc:  # e.g. still starting up
            if time.monotonic() > deadline:
                raise PostgresServerError(f"PostgreSQL started but refused the project's superuser: {exc}") from exc
            time.sleep(0.5)
    return status(settings)


def down(settings: Settings, timeout: float = STARTUP_TIMEOUT_S) -> ServerStatus:
    """Stop the local server (fast shutdown: sessions are ended, transactions rolled back);
    nothing when it is not running. An external server is never stopped."""
    if settings.postgres_dsn:
        return status(settings)
    paths = _paths(settings)
    pid, _ = _postmaster(paths["data"])
    if not _alive(pid):
        return status(settings)  # never started, stopped, or a stale postmaster.pid
    bindir = server_binaries(candidate_bindirs(paths["data"]))
    ids = _server_ids()
    for mode in ("fast", "immediate"):  # immediate only when a fast shutdown hangs
        argv = [str(bindir / "pg_ctl"), "stop", "-D", str(paths["data"]), "-m", mode, "-w", "-t", str(int(timeout))]
        _run(argv, settings, ids, timeout + 30)
        if not _alive(_postmaster(paths["data"])[0]):
            break
    current = status(settings)
    if current.pid:
        raise PostgresServerError(f"PostgreSQL (pid {current.pid}) did not stop; see {paths['log']}")
    return current


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m postgres.server",
        description="The local PostgreSQL server activation audiences are delivered to (postgres/server.py).",
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    settings = load_settings()
    try:
        result = {"up": up, "down": down, "status": status}[args.command](settings)
    except PostgresServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.describe())
    if args.command == "up" and not result.external:
        print(f"credentials (delivery role {DELIVERY_ROLE}): {_paths(settings)['credentials']}")
    return 0 if result.running or args.command == "down" else 3


if __name__ == "__main__":
    sys.exit(main())
