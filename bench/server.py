"""The production-like server a benchmark runs against, started and stopped by the benchmark.

``running_server(...)`` (a context manager) does what an operator does, on this machine only:

1. a fresh PostgreSQL database ``migasfree_bench`` (dropped and created again: every run starts
   from the same empty state);
2. an ini derived from ``production.ini`` (PostgreSQL, Redis, huey on Redis) with both addons of
   the sync (``clients hardware``) and absolute paths, written to ``var/bench/bench.ini``;
3. ``migasfree-initdb`` on it (migrations, seed data, server/packager keys, repository key; the
   keys live in ``var/bench/var/keys`` and are kept between runs because RSA/GPG generation is
   slow);
4. the huey consumer (``migasfree_pyramid.tasks.worker``) on Redis database 14 (the tests use
   15), emptied first;
5. gunicorn (sync workers, the production server) with ``workers`` processes on 127.0.0.1.

Leaving the block stops gunicorn and huey (SIGTERM, then SIGKILL after a grace period). The
database is left for inspection; the next run drops it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
BENCH_DIR = os.path.join(ROOT, "var", "bench")
DATABASE = "migasfree_bench"
ADMIN_URL = os.environ.get("MIGASFREE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MIGASFREE_BENCH_REDIS", "redis://127.0.0.1:6379/14")


@dataclasses.dataclass
class Server:
    """What a benchmark needs to know about the running server."""

    base_url: str
    ini: str
    database_url: str
    redis_url: str
    gunicorn: subprocess.Popen
    huey: subprocess.Popen | None
    workers: int
    logs: str

    @property
    def web_pid(self) -> int:
        return self.gunicorn.pid

    @property
    def huey_pid(self) -> int | None:
        return self.huey.pid if self.huey else None


def database_url(name: str = DATABASE) -> str:
    host = ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+psycopg://{host}/{name}"


def recreate_database(name: str = DATABASE) -> None:
    """Drop and create ``name`` (``WITH (FORCE)`` ends leftover connections of a killed run)."""
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def write_ini(path: str) -> str:
    """``production.ini`` with the sync's addons and absolute paths (``%(here)s`` = repo)."""
    with open(os.path.join(ROOT, "production.ini"), encoding="utf-8") as handle:
        text = handle.read()
    text = re.sub(r"(?m)^migasfree\.addons\s*=.*$", "migasfree.addons = clients hardware", text)
    text = text.replace("%(here)s", ROOT)
    # Errors only: an access log line per request would be CPU the benchmark is not about.
    text = re.sub(r"(?m)^(\[logger_migasfree\]\nlevel = )INFO", r"\1WARN", text)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def server_environment(db_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        MIGASFREE_DATABASE_URL=db_url,
        MIGASFREE_REDIS_URL=REDIS_URL,
        MIGASFREE_VAR_DIR=os.path.join(BENCH_DIR, "var"),
        MIGASFREE_JWT_SECRET=secrets.token_urlsafe(48),
        MIGASFREE_ADMIN_PASSWORD=secrets.token_urlsafe(18),
        PYTHONUNBUFFERED="1",
    )
    return env


def stop_gpg_agent(home: str) -> None:
    """The repository key's gpg calls leave an agent running for that home: stop it."""
    if os.path.isdir(home):
        subprocess.run(  # noqa: S603
            ["gpgconf", "--homedir", home, "--kill", "gpg-agent"],  # noqa: S607
            check=False,
            capture_output=True,
        )


def flush_redis(url: str = REDIS_URL) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def wait_ready(host: str, port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("POST", "/api/v1/public/server/info/", body=b"")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer in time")


def stop(proc: subprocess.Popen | None, grace: float = 15.0) -> None:
    """SIGTERM the process we started, then SIGKILL it if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running_server(
    workers: int = 2,
    port: int = 8089,
    huey_workers: int = 1,
    fresh_database: bool = True,
    out=sys.stderr,
) -> Iterator[Server]:
    """Start PostgreSQL database, huey and gunicorn (see the module docstring)."""
    db_url = database_url()
    ini = write_ini(os.path.join(BENCH_DIR, "bench.ini"))
    env = server_environment(db_url)
    logs = os.path.join(BENCH_DIR, "logs")
    os.makedirs(logs, exist_ok=True)
    if fresh_database:
        print(f"bench: creating database {DATABASE}", file=out)
        recreate_database()
    subprocess.run(  # noqa: S603 (our own console script)
        [os.path.join(VENV_BIN, "migasfree-initdb"), ini],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    stop_gpg_agent(os.path.join(BENCH_DIR, "var", "keys", ".gnupg"))
    flush_redis()
    huey = gunicorn = None
    try:
        with open(os.path.join(logs, "huey.log"), "ab") as log:
            huey = subprocess.Popen(  # noqa: S603
                [
                    os.path.join(VENV_BIN, "python"),
                    "-m",
                    "migasfree_pyramid.tasks.worker",
                    ini,
                    "--workers",
                    str(huey_workers),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        with open(os.path.join(logs, "gunicorn.log"), "ab") as log:
            gunicorn = subprocess.Popen(  # noqa: S603
                [
                    os.path.join(VENV_BIN, "gunicorn"),
                    "--paste",
                    ini,
                    "--workers",
                    str(workers),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "120",
                    "--backlog",
                    "256",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        wait_ready("127.0.0.1", port, gunicorn)
        print(
            f"bench: gunicorn ({workers} sync workers) on 127.0.0.1:{port}, "
            f"huey ({huey_workers} thread(s)); logs in {logs}",
            file=out,
        )
        yield Server(
            base_url=f"http://127.0.0.1:{port}",
            ini=ini,
            database_url=db_url,
            redis_url=REDIS_URL,
            gunicorn=gunicorn,
            huey=huey,
            workers=workers,
            logs=logs,
        )
    finally:
        stop(gunicorn)
        stop(huey)


def queue_length(redis_url: str = REDIS_URL) -> int:
    """Tasks waiting in the huey queue (and scheduled ones), read from Redis directly."""
    import redis

    client = redis.Redis.from_url(redis_url)
    total = 0
    for key in client.scan_iter("huey.*"):
        kind = client.type(key)
        if kind == b"list":
            total += client.llen(key)
        elif kind == b"zset":
            total += client.zcard(key)
    return total


def main() -> int:
    """``python -m bench.server [workers]``: start the server and wait for Ctrl-C."""
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    with running_server(workers) as server:
        print(f"serving on {server.base_url}; Ctrl-C stops", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            server.gunicorn.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
