"""Configuration the code location needs when it is loaded (partitions, schedule)."""

from __future__ import annotations

import os
from functools import lru_cache

from lakehouse_assets.config import Config, load_config
from lakehouse_assets.core.calendar import TradingCalendar


def default_lake_uri() -> str:
    """``$LAKEHOUSE_LAKE``, else ``data/lake`` under the working directory."""
    return os.environ.get("LAKEHOUSE_LAKE") or "data/lake"


@lru_cache(maxsize=4)
def config_at(directory: str | None) -> Config:
    return load_config(directory)


@lru_cache(maxsize=4)
def calendar_for(code: str, first: str) -> TradingCalendar:
    import datetime as dt

    return TradingCalendar(code, dt.date.fromisoformat(first))


def calendar_of(config: Config) -> TradingCalendar:
    return calendar_for(config.exchange.calendar, config.exchange.partitions_start.isoformat())
