"""Real servers on loopback for the scale-out tests: S3 (moto), PostgreSQL, Redis.

Each starts a private server process on a free port of 127.0.0.1, in a temporary
directory, and stops it afterwards. When a server's program is not installed the test is
skipped, unless ``LAKEHOUSE_REQUIRE_SERVERS=1`` (set by ``.ci/run``, which installs them):
then it fails, so CI cannot pass by skipping.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing(program: str, install: str) -> None:
    """Skip (or, under ``LAKEHOUSE_REQUIRE_SERVERS=1``, fail) for a server not installed."""
    message = f"{program} is not installed ({install})"
    if os.environ.get("LAKEHOUSE_REQUIRE_SERVERS") == "1":
        pytest.fail(message + " and LAKEHOUSE_REQUIRE_SERVERS=1")
    pytest.skip(message)


def wait_for_port(port: int, process: subprocess.Popen, name: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s: {log.read_text()[-2000:]}")


def wait_for_dagster(url: str, process: subprocess.Popen, name: str, log: Path, timeout: float = 180.0) -> None:
    """Until the Dagster webserver at ``url`` answers ``/server_info`` (``name`` started it)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/server_info", timeout=2) as reply:
            if reply.status == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not serve {url}: {log.read_text()[-3000:]}")
        time.sleep(0.5)


def stop_group(proc: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started (a
    daemon's code servers, Celery's pool): SIGTERM, up to 30 s, then SIGKILL to the group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def process(
    args: list[str], name: str, port: int, log: Path, stop: int = signal.SIGTERM, **kwargs
) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **kwargs)
    try:
        wait_for_port(port, proc, name, log)
        yield proc
    finally:
        proc.send_signal(stop)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def s3_server(directory: Path) -> Iterator[str]:
    """``moto_server`` (S3 API) on loopback; yields its endpoint URL."""
    program = Path(sys.executable).with_name("moto_server")
    if not program.exists():
        missing("moto_server", "pip install 'moto[server]'")
    port = free_port()
    with process([str(program), "-H", "127.0.0.1", "-p", str(port)], "moto_server", port, directory / "moto.log"):
        yield f"http://127.0.0.1:{port}"


def s3_environment(endpoint: str) -> dict[str, str]:
    """The AWS_* variables that point deltalake, DuckDB and boto3 at a local S3 server."""
    return {
        "AWS_ACCESS_KEY_ID": "lakehouse",
        "AWS_SECRET_ACCESS_KEY": "lakehouse-secret",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
    }


def create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    env = s3_environment(endpoint)
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    ).create_bucket(Bucket=bucket)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@contextlib.contextmanager
def postgres_server() -> Iterator[dict[str, str]]:
    """A private PostgreSQL cluster on loopback (``initdb`` + ``postgres``) in a new
    directory of the system's temporary area (removed afterwards); yields its connection
    settings (host, port, user, password, db). As root, the server runs as the ``postgres``
    user, since PostgreSQL refuses to run as root (hence not under pytest's private tmp_path)."""
    bindir = _postgres_bin()
    if bindir is None:
        missing("PostgreSQL server", "apt-get install postgresql")
    directory = Path(tempfile.mkdtemp(prefix="lakehouse-pg-"))
    try:
        with _postgres(bindir, directory) as settings:
            yield settings
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _postgres(bindir: Path, directory: Path) -> Iterator[dict[str, str]]:
    data = directory / "pgdata"
    data.mkdir()
    demote: dict = {}
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
        os.chown(data, user.pw_uid, user.pw_gid)
        demote = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    password = directory / "pwfile"
    password.write_text("lakehouse\n")
    password.chmod(0o644)
    initdb = subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "lakehouse", "--pwfile", str(password), "-A", "md5"],
        capture_output=True,
        text=True,
        **demote,
    )
    if initdb.returncode:
        raise RuntimeError(f"initdb failed: {initdb.stderr[-2000:]}")
    port = free_port()
    args = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(directory)]
    args += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
    log = directory / "postgres.log"
    if demote:
        log.touch()
        os.chown(log, demote["user"], demote["group"])
    with process(args, "postgres", port, log, stop=signal.SIGINT, **demote):  # SIGINT: fast shutdown
        settings = {"host": "127.0.0.1", "port": str(port), "user": "lakehouse", "password": "lakehouse"}
        # the port opens before the server accepts sessions ("the database system is starting up")
        deadline = time.monotonic() + 60
        while True:
            created = subprocess.run(
                [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "lakehouse", "dagster"],
                capture_output=True,
                text=True,
                env={**os.environ, "PGPASSWORD": "lakehouse"},
            )
            if created.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"createdb failed: {created.stderr[-2000:]}")
            time.sleep(0.5)
        yield {**settings, "db": "dagster"}


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """``redis-server`` on loopback without persistence; yields its URL."""
    program = shutil.which("redis-server")
    if program is None:
        missing("redis-server", "apt-get install redis-server")
    port = free_port()
    args = [
        program,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
    ]
    with process(args, "redis-server", port, directory / "redis.log"):
        yield f"redis://127.0.0.1:{port}"
