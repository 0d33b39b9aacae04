"""Settings of a process: its lake, its configuration, its calendar, its Dagster instance."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

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
