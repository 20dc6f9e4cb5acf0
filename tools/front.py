"""The production front: nginx reads every request (and response) whole before gunicorn sees it, so a slow
client holds one cheap nginx connection, never one of gunicorn's few threads.

Usage: python -m tools.front serve [--host H] [--port N] [--workers N] [--threads N] | stop

`make run` serves through it and `make stop` stops it. The nginx configuration is generated into var/front on
every start (edit this module, not the file); gunicorn listens on a unix socket there that only nginx can reach.
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "var" / "front"
THREADS = 4  # per gunicorn worker
CLIENT_TIMEOUT_S = 60  # a client silent this long while sending (headers or body) or reading is dropped
START_TIMEOUT_S = 60


class FrontError(RuntimeError):
    """The front could not be started or stopped."""


@dataclass(frozen=True)
class Front:
    """One front: nginx on host:port, gunicorn behind it, their generated files in `runtime`."""

    runtime: Path
    host: str = "127.0.0.1"
    port: int = 5000

    @property
    def socket(self) -> Path:
        return self.runtime.resolve() / "gunicorn.sock"

    @property
    def conf(self) -> Path:
        return self.runtime.resolve() / "nginx.conf"

    def pidfile(self, server: str) -> Path:
        return self.runtime.resolve() / f"{server}.pid"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not found:
        raise FrontError("nginx is not installed: tools/system-deps.sh installs it (make run does)")
    return found


def worker_user() -> tuple[str, str] | None:
    """The user and group nginx's workers run as when we are root (None: as we are)."""
    if os.geteuid() != 0:
        return None
    for name in ("www-data", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return name, grp.getgrgid(entry.pw_gid).gr_name
    raise FrontError("no unprivileged user (www-data or nobody) to run nginx's workers as")


def largest_body_bytes() -> int:
    """The largest request body the app takes (a photo), from its defaults and FLASK_* environment variables."""
    from flask import Config

    from app.config import defaults

    settings = Config(str(ROOT))
    settings.from_mapping(defaults())
    settings.from_prefixed_env()
    return int(max(settings["PHOTO_MAX_BYTES"], settings["REPORT_MAX_BYTES"]))


def prepare(front: Front, user: tuple[str, str] | None) -> None:
    """Create the runtime directory for us and nginx's workers only (in /var/tmp if they cannot reach it here)."""
    runtime = front.runtime
    runtime.parent.mkdir(parents=True, exist_ok=True)
    runtime.mkdir(exist_ok=True)
    _restrict(runtime.resolve(), user)
    too_long = len(str(front.socket)) > 100  # a unix socket's path has at most 107 bytes
    if (too_long or not _reachable(runtime.resolve(), user)) and not runtime.is_symlink():
        outside = Path("/var/tmp") / f"gridtriage-front-{hashlib.sha1(str(runtime).encode()).hexdigest()[:10]}"
        outside.mkdir(mode=0o700, exist_ok=True)
        if outside.is_symlink() or outside.stat().st_uid != os.geteuid():
            raise FrontError(f"{outside} is not ours (another user made it first): remove it, then start again")
        _restrict(outside, user)
        shutil.rmtree(runtime)  # only generated files: the configuration, logs and temporary bodies
        runtime.symlink_to(outside)


def _restrict(path: Path, user: tuple[str, str] | None) -> None:
    if user is None:
        path.chmod(0o700)
    else:
        os.chown(path, 0, grp.getgrnam(user[1]).gr_gid)
        path.chmod(0o750)


def _reachable(path: Path, user: tuple[str, str] | None) -> bool:
    if user is None:
        return True
    return subprocess.run(["runuser", "-u", user[0], "--", "test", "-x", str(path)], check=False).returncode == 0


# The content types nginx compresses besides text/html: styles, scripts, JSON and GeoJSON, SVG, the manifest.
COMPRESSED_TYPES = ("text/css", "text/javascript", "application/javascript", "application/json",
                    "application/geo+json", "application/manifest+json", "image/svg+xml", "text/plain",
                    "text/csv", "application/problem+json")


def nginx_config(front: Front, *, max_body_bytes: int, user: tuple[str, str] | None, access_log: str,
                 error_log: str) -> str:
    """The nginx configuration: buffer whole requests and responses, pass the client's address and scheme."""
    run = front.runtime.resolve()
    listen = f"[{front.host}]:{front.port}" if ":" in front.host else f"{front.host}:{front.port}"
    too_large = f'{{"error": "invalid input", "errors": {{"body": "is larger than {max_body_bytes} bytes"}}}}'
    temp_paths = "\n".join(f"    {kind}_temp_path {run}/{kind}_temp;"
                           for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""\
# Generated by tools/front.py on every start: edit that module, not this file.
daemon off;
{f"user {user[0]} {user[1]};" if user else "# (not root: the workers run as the user who started nginx)"}
worker_processes {min(os.cpu_count() or 1, 4)};
pid {run}/nginx.pid;
error_log {error_log} warn;

events {{
    worker_connections 1024;  # a slow client holds one; a request being proxied two
}}

http {{
    access_log {access_log};
    server_tokens off;
{temp_paths}
    # Slow clients cost nginx a connection each; only a client silent for this long is dropped.
    client_header_timeout {CLIENT_TIMEOUT_S}s;
    client_body_timeout {CLIENT_TIMEOUT_S}s;
    send_timeout {CLIENT_TIMEOUT_S}s;
    keepalive_timeout 65s;
    client_max_body_size {max_body_bytes};  # the app's largest upload (FLASK_PHOTO_MAX_BYTES)
    client_body_buffer_size 128k;  # larger bodies wait in client_body_temp

    # Pages, styles, scripts and JSON go compressed to every client that accepts it (nginx compresses HTML
    # always, the other types listed here; gunicorn's answers are compressed here, not in the app).
    gzip on;
    gzip_comp_level 5;
    gzip_min_length 512;
    gzip_proxied any;
    gzip_vary on;
    gzip_types {" ".join(COMPRESSED_TYPES)};

    upstream gunicorn {{
        server unix:{front.socket};
    }}

    server {{
        listen {listen};

        location / {{
            proxy_pass http://gunicorn;
            proxy_http_version 1.1;
            proxy_request_buffering on;  # gunicorn gets a request only once its body is complete
            proxy_buffering on;  # and hands a response to nginx however slowly the client reads it
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
        }}

        error_page 413 @too_large;
        location @too_large {{
            default_type application/json;
            return 413 '{too_large}';
        }}
    }}
}}
"""


def gunicorn_command(front: Front, *, workers: int, threads: int = THREADS) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--bind", f"unix:{front.socket}", "--workers", str(workers),
            "--threads", str(threads), "--pid", str(front.pidfile("gunicorn")), "--log-level", "warning",
            "tools.front:wsgi()"]


def wsgi() -> Any:
    """The app as gunicorn serves it behind nginx: the client's address and scheme from nginx's headers."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app import create_app

    app = create_app()
    # One proxy, ours: trust the last X-Forwarded-For entry (the address nginx saw) and its X-Forwarded-Proto.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    return app


@contextlib.contextmanager
def serving(front: Front, *, workers: int, env: Mapping[str, str] | None = None,
            logs: tuple[str, str] | None = None, threads: int = THREADS) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run gunicorn, then nginx in front of it, until the block ends: [gunicorn, nginx].

    nginx logs requests and errors to `logs` (access, error: paths, or /dev/stdout and stderr), by default to
    files in the runtime directory."""
    for server in ("nginx", "gunicorn"):
        if _running_pid(front, server):
            raise FrontError(f"{server} of this front is already running; `make stop` stops it")
    user = worker_user()
    nginx = nginx_binary()
    prepare(front, user)
    access_log, error_log = logs or (str(front.runtime.resolve() / "access.log"),
                                     str(front.runtime.resolve() / "error.log"))
    front.conf.write_text(nginx_config(front, max_body_bytes=largest_body_bytes(), user=user,
                                       access_log=access_log, error_log=error_log))
    started: list[subprocess.Popen[bytes]] = []
    try:
        started.append(subprocess.Popen(gunicorn_command(front, workers=workers, threads=threads), cwd=ROOT, env=env,
                                        start_new_session=True))
        _wait(started[-1], "gunicorn", lambda: _answers(front.socket))
        started.append(subprocess.Popen([nginx, "-p", str(front.runtime.resolve()), "-c", str(front.conf),
                                         "-e", "stderr"], start_new_session=True))
        host = "127.0.0.1" if front.host in ("0.0.0.0", "") else front.host
        _wait(started[-1], "nginx", lambda: _connects(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                                      (host, front.port)))
        yield started
    finally:
        for process in reversed(started):  # nginx first: no new requests reach a stopping gunicorn
            _terminate(process)


def _connects(family: socket.AddressFamily, address: Any) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(address)
        except OSError:
            return False
    return True


def _answers(path: Path) -> bool:
    """True once a gunicorn worker answers on the socket (the master binds it before any worker has booted)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(15)  # /healthz waits at most the pool timeout for a database connection
        try:
            probe.connect(str(path))
            probe.sendall(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            return probe.recv(5) == b"HTTP/"
        except OSError:
            return False


def _wait(process: subprocess.Popen[bytes], name: str, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        if process.poll() is not None:
            raise FrontError(f"{name} exited with status {process.returncode} while starting (see its output above)")
        if time.monotonic() > deadline:
            raise FrontError(f"{name} did not start within {START_TIMEOUT_S} s")
        time.sleep(0.05)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # both nginx and gunicorn stop their workers on SIGTERM
        try:
            process.wait(timeout=35)  # gunicorn lets running requests finish for up to 30 s
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _running_pid(front: Front, server: str) -> int | None:
    """The pid in the server's pid file, if that process still runs and is that server (not a reused pid)."""
    try:
        pid = int(front.pidfile(server).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if server.encode() in cmdline else None


def stop(front: Front) -> list[str]:
    """Stop the front's nginx and gunicorn (left by a `make run` elsewhere, or an interrupted one): their names."""
    stopped = []
    for server in ("nginx", "gunicorn"):
        if (pid := _running_pid(front, server)) is None:
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 35
        while _running_pid(front, server) == pid and time.monotonic() < deadline:
            time.sleep(0.1)
        stopped.append(server)
    return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.front", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["serve", "stop"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=THREADS, help="threads per gunicorn worker")
    parser.add_argument("--runtime", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    front = Front(args.runtime.absolute(), args.host, args.port)
    try:
        if args.action == "stop":
            stopped = stop(front)
            print(f"stopped {' and '.join(stopped)}" if stopped else "the web front was not running")
            return 0
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops both servers, as Ctrl-C does
        with serving(front, workers=args.workers, threads=args.threads,
                     logs=("/dev/stdout", "stderr")) as processes:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
            names = dict(zip(("gunicorn", "nginx"), processes, strict=True))
            gone, status = next((name, p.returncode) for name, p in names.items() if p.returncode is not None)
            if status == 0:  # stopped on purpose (`make stop`)
                print(f"{gone} stopped; stopping the other web server")
                return 0
            print(f"error: {gone} exited with status {status}; stopping the other web server", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0
    except FrontError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
