"""Settings of a process: its lake, its configuration, its calendar, its Dagster instance."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dagster as dg

from lakehouse_assets.config import Config, load_config
from lakehouse_assets.core.calendar import TradingCalendar


def default_lake_uri() -> str:
    """``$LAKEHOUSE_LAKE``, else ``data/lake`` under the working directory."""
    return os.environ.get("LAKEHOUSE_LAKE") or "data/lake"


_CONFIGS: dict[Path, Config] = {}


def config_at(directory: str | os.PathLike[str]) -> Config:
    """The configuration of ``directory`` in this process: the one :func:`share_config` was
    given for it, else the directory's files, read and validated on first use.

    How :class:`~lakehouse_assets.defs.resources.LakehouseResource`, which Dagster rebuilds
    from its (serializable) fields for every run and step, reaches the very object the
    definitions were built from: in the process that built them, through
    :func:`share_config`; in a run worker (a new process), by building the code location
    again from the same directory, once.
    """
    path = Path(directory).resolve()
    if path not in _CONFIGS:
        _CONFIGS[path] = load_config(path)
    return _CONFIGS[path]


def share_config(config: Config) -> None:
    """Make ``config`` what :func:`config_at` answers for its directory in this process."""
    _CONFIGS[config.directory] = config


@lru_cache(maxsize=4)
def calendar_for(code: str, first: str) -> TradingCalendar:
    import datetime as dt

    return TradingCalendar(code, dt.date.fromisoformat(first))


def calendar_of(config: Config) -> TradingCalendar:
    return calendar_for(config.exchange.calendar, config.exchange.partitions_start.isoformat())


NEW_HOME_SETTINGS = "telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 1\n"
"""A new Dagster home's ``dagster.yaml`` (as ``make ui`` writes it): no telemetry (this machine
may be offline); the daemon starts one queued run at a time, since a run holds its lake's
writer lock and a second run on the same lake would fail with "lake is busy"."""


def instance_at(home: str | os.PathLike[str]) -> dg.DagsterInstance:
    """The Dagster instance at ``home`` (created if new, with :data:`NEW_HOME_SETTINGS`), its
    storages initialized under a file lock.

    SQLite storages create their tables on first use; two processes doing that at once
    die with ``IntegrityError: UNIQUE constraint failed: alembic_version`` or "table run_tags
    already exists" (issue 16). The lock makes the first use serial; later uses pass at once.
    """
    import fcntl
    from pathlib import Path

    import dagster as dg

    folder = Path(home).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(folder)
    with open(folder / ".lakehouse-init.lock", "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            settings = folder / "dagster.yaml"
            if not settings.exists():
                settings.write_text(NEW_HOME_SETTINGS)
            instance = dg.DagsterInstance.get()
            instance.get_runs(limit=1)  # run storage
            instance.get_latest_materialization_event(dg.AssetKey("_lakehouse_init"))  # event log index
            instance.all_instigator_state()  # schedule storage
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)
    return instance


@contextlib.contextmanager
def sqlite_files_kept_open() -> Iterator[None]:
    """While inside, every SQLite file a SQLAlchemy engine of this process connects to (the
    Dagster instance's storages) stays open on one more connection of ours, which holds no
    lock and no transaction between its short reads.

    Why: Dagster's SQLite storages open a new connection for each write and close it after
    (``NullPool``), and closing the last connection of a database in WAL mode checkpoints
    the WAL into the database and deletes it, two more fsyncs: 11 of the 22 ms a write
    (connect, insert, commit, close) took on the bench machine's disk. A day's run at
    N = 500 stores 150 events on 470 connections; the 42 planned before its first step
    took 3.0-3.7 s, and 1.7-2.2 s with this (load 7-10). With a connection of ours open,
    theirs is never the last: the WAL is checkpointed at SQLite's own threshold (1,000
    pages) and when ours closes on the way out. Every commit is still synced as before
    (``synchronous`` unchanged), so what survives a crash does not change, and other
    processes (the UI, the daemon) read and write the files as ever: only the moment of
    the checkpoints changes.
    """
    import sqlite3
    import threading

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    kept: dict[str, sqlite3.Connection] = {}
    guard = threading.Lock()

    def keep(connection: Any, _record: Any) -> None:
        if not isinstance(connection, sqlite3.Connection):
            return
        path = next((row[2] for row in connection.execute("PRAGMA database_list") if row[1] == "main"), "")
        if not path:  # in memory
            return
        with guard:
            if path not in kept:
                kept[path] = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # a read, finished at once: joins the WAL (so that closing theirs is not the last
            # close) without holding a read transaction, which would stall checkpoints
            kept[path].execute("select count(*) from sqlite_master").fetchall()

    event.listen(Engine, "connect", keep)
    try:
        yield
    finally:
        event.remove(Engine, "connect", keep)
        with guard:
            for connection in kept.values():
                connection.close()
