"""Start, stop and create the project-managed PostGIS cluster (the one `make run` and the tests use).

Usage: python -m tools.pgcluster start|stop|status [--datadir DIR] [--port N]
       python -m tools.pgcluster replica --of DIR --of-port N --datadir DIR --port N
           (a streaming replica of the running cluster in --of, in a directory of its own)

PostgreSQL refuses to run as root, so when run as root every server command goes through
`runuser -u postgres`; the data directory is then owned by postgres.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "var" / "pg"
URL_FILE = ROOT / "var" / "database-url"
DEFAULT_PORT = int(os.environ.get("GRIDTRIAGE_PG_PORT", "54329"))
SUPERUSER = "gridtriage"


class ClusterError(RuntimeError):
    """The local cluster could not be created, started or stopped."""


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL cluster in a directory of ours, listening on 127.0.0.1:port."""

    base: Path
    port: int

    @property
    def data(self) -> Path:
        # Resolved, because the server's user may reach the directory only through the /var/tmp link.
        return self.base.resolve() / "data"

    @property
    def log(self) -> Path:
        return self.base.resolve() / "server.log"


def bindir() -> Path:
    """The newest installed PostgreSQL server's bin directory (or PG_BINDIR)."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    if which:
        return Path(which).parent
    raise ClusterError("no PostgreSQL server found: install postgresql (make run does) or set DATABASE_URL")


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(_as_owner(cmd), capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise ClusterError(f"{' '.join(cmd[:2])} failed:\n{done.stdout}{done.stderr}")
    return done


def _prepare_base(base: Path) -> None:
    """Create the base directory so that the server's user can write it (a /var/tmp link if it cannot reach it)."""
    base.parent.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        base.mkdir(exist_ok=True)
        return
    if not base.exists():
        base.mkdir()
        shutil.chown(base, "postgres", "postgres")
    reachable = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(base)], check=False)
    if reachable.returncode != 0 and not base.is_symlink():
        # A parent directory (e.g. /root) is closed to the postgres user: keep the data where it can reach.
        outside = Path("/var/tmp") / f"gridtriage-pg-{hashlib.sha1(str(base).encode()).hexdigest()[:10]}"
        outside.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(outside, "postgres", "postgres")
        base.rmdir()
        base.symlink_to(outside)


def init(cluster: Cluster) -> str:
    """Create the cluster if it does not exist; return the superuser's password (new or stored)."""
    _prepare_base(cluster.base)
    pwfile = cluster.base.resolve() / "superuser-password"
    if (cluster.data / "PG_VERSION").exists():
        return pwfile.read_text().strip()
    password = secrets.token_urlsafe(24)
    pwfile.write_text(password + "\n")
    os.chmod(pwfile, 0o600)
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    _run([str(bindir() / "initdb"), "-D", str(cluster.data), "-U", SUPERUSER, "--auth=scram-sha-256",
          f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"])
    return password


def is_running(cluster: Cluster) -> bool:
    if not (cluster.data / "PG_VERSION").exists():
        return False
    status = subprocess.run(_as_owner([str(bindir() / "pg_ctl"), "-D", str(cluster.data), "status"]),
                            capture_output=True, check=False)
    return status.returncode == 0


def start(cluster: Cluster) -> None:
    """Start the server on 127.0.0.1 only (no-op when it already runs)."""
    if is_running(cluster):
        return
    options = f"-p {cluster.port} -c listen_addresses=127.0.0.1 -k ''"
    _run([str(bindir() / "pg_ctl"), "-D", str(cluster.data), "-l", str(cluster.log), "-o", options,
          "-w", "-t", "60", "start"])


def stop(cluster: Cluster, *, mode: str = "fast") -> None:
    """Stop the server (no-op when it is not running)."""
    if is_running(cluster):
        _run([str(bindir() / "pg_ctl"), "-D", str(cluster.data), "-m", mode, "-w", "stop"])


def url(cluster: Cluster, password: str, dbname: str) -> str:
    return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{cluster.port}/{dbname}"


def create_database(admin_url: str, dbname: str) -> None:
    """Create a database if it does not exist (psycopg is imported here so `stop` works without it)."""
    import psycopg
    from psycopg import sql

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg.connect(admin_url, autocommit=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def up(cluster: Cluster, *, dbname: str = "gridtriage") -> str:
    """Create, start and provision the cluster; return the database URL."""
    password = init(cluster)
    start(cluster)
    create_database(url(cluster, password, "postgres"), dbname)
    return url(cluster, password, dbname)


def replica(primary: Cluster, standby: Cluster) -> str:
    """Make `standby` a streaming replica of the running `primary` (pg_basebackup -R) and start it; return the
    superuser's password, the primary's (a replica is a copy of the whole cluster, its accounts included).

    The primary accepts replication from 127.0.0.1 as initdb set it up (pg_hba's `host replication all`), and
    the replica follows it through `primary_conninfo` and standby.signal, written by pg_basebackup. Hot standby
    (reads on the replica) is PostgreSQL's default.
    """
    password = (primary.base.resolve() / "superuser-password").read_text().strip()
    if not (standby.data / "PG_VERSION").exists():
        _prepare_base(standby.base)
        _run([str(bindir() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", SUPERUSER,
              "-D", str(standby.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"],
             env={**os.environ, "PGPASSWORD": password})
        pwfile = standby.base.resolve() / "superuser-password"
        pwfile.write_text(password + "\n")
        os.chmod(pwfile, 0o600)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
    start(standby)
    return password


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
    if not found:
        raise ClusterError("pgbouncer is not installed: tools/system-deps.sh installs it")
    return found


def pgbouncer_config(base: Path, *, port: int, server_port: int, pool_size: int, max_clients: int) -> str:
    """pgbouncer in transaction pooling mode: a server connection per transaction, so many clients share a few
    (the app then needs prepare_threshold None: FLASK_DB_PREPARE_THRESHOLD=null)."""
    return f"""\
; Generated by tools/pgcluster.py.
[databases]
* = host=127.0.0.1 port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {base}/userlist.txt
admin_users = {SUPERUSER}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = {max_clients}
logfile = {base}/pgbouncer.log
"""


@contextlib.contextmanager
def pooling(cluster: Cluster, base: Path, *, port: int, pool_size: int = 8,
            max_clients: int = 1000) -> Iterator[subprocess.Popen[bytes]]:
    """Run pgbouncer (transaction pooling) in front of the running `cluster` on 127.0.0.1:port until the block
    ends. Its files are kept in `base`; the same accounts and passwords as the cluster's work through it."""
    binary = pgbouncer_binary()
    _prepare_base(base)
    where = base.resolve()
    (where / "userlist.txt").write_text(f'"{SUPERUSER}" "{_scram_secret(cluster)}"\n')
    (where / "pgbouncer.ini").write_text(pgbouncer_config(where, port=port, server_port=cluster.port,
                                                          pool_size=pool_size, max_clients=max_clients))
    for name in ("userlist.txt", "pgbouncer.ini"):
        os.chmod(where / name, 0o600)
        if os.geteuid() == 0:
            shutil.chown(where / name, "postgres", "postgres")
    # pgbouncer will not run as root: as root, it switches to postgres itself (-u), so this process is pgbouncer.
    user = ["-u", "postgres"] if os.geteuid() == 0 else []
    process = subprocess.Popen([binary, "-q", *user, str(where / "pgbouncer.ini")], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not _accepts(port):
            if process.poll() is not None:
                log = where / "pgbouncer.log"
                raise ClusterError(f"pgbouncer exited with {process.returncode}:\n"
                                   f"{log.read_text() if log.exists() else ''}")
            if time.monotonic() > deadline:
                raise ClusterError("pgbouncer did not start within 30 s")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _scram_secret(cluster: Cluster) -> str:
    """The superuser's stored SCRAM secret: with it pgbouncer checks clients without deriving keys from a password
    (costly, in its one thread) and logs in to the server with the keys of the client's own proof."""
    import psycopg

    password = (cluster.base.resolve() / "superuser-password").read_text().strip()
    with psycopg.connect(url(cluster, password, "postgres")) as conn:
        row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (SUPERUSER,)).fetchone()
    if row is None or not str(row[0]).startswith("SCRAM-SHA-256$"):
        raise ClusterError(f"{SUPERUSER} has no SCRAM secret for pgbouncer's auth_file")
    return str(row[0])


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pgcluster", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status", "replica"])
    parser.add_argument("--datadir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--of", type=Path, default=DEFAULT_DIR, help="replica: the primary's directory")
    parser.add_argument("--of-port", type=int, default=DEFAULT_PORT, help="replica: the primary's port")
    args = parser.parse_args(argv)
    cluster = Cluster(args.datadir.absolute(), args.port)
    try:
        if args.action == "replica":
            if cluster.base.resolve() == args.of.absolute().resolve():
                raise ClusterError("a replica needs a directory of its own (--datadir), not the primary's")
            replica(Cluster(args.of.absolute(), args.of_port), cluster)
            print(f"replica of 127.0.0.1:{args.of_port} running on 127.0.0.1:{cluster.port} (data in {cluster.base})")
        elif args.action == "start":
            database_url = up(cluster)
            if cluster.base == DEFAULT_DIR.absolute():  # only the project's own cluster is the one `flask` reaches
                URL_FILE.write_text(database_url + "\n")
                os.chmod(URL_FILE, 0o600)
            print(f"PostGIS cluster running on 127.0.0.1:{cluster.port} (data in {cluster.base})")
        elif args.action == "stop":
            stop(cluster)
            print("PostGIS cluster stopped")
        else:
            print("running" if is_running(cluster) else "stopped")
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
