"""YAML configuration under ``config/``, parsed once into frozen dataclasses.

Every problem is reported as :class:`ConfigError` naming the file and the key, e.g.
``config/exchange.yaml: schedule_time: expected HH:MM, got '25:00'``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakehouse_assets.core.regimes import RegimeRules

REPO_ROOT = Path(__file__).resolve().parents[1]


class ConfigError(ValueError):
    """A configuration file is missing, malformed or holds a bad value."""


@dataclass(frozen=True)
class ExchangeConfig:
    calendar: str
    timezone: str
    partitions_start: dt.date
    schedule_time: dt.time


@dataclass(frozen=True)
class BundledSymbol:
    symbol: str
    dataset: str
    sector: str


@dataclass(frozen=True)
class UniverseConfig:
    index_symbol: str
    bundled: tuple[BundledSymbol, ...]
    default_start: dt.date
    default_end: dt.date

    @property
    def bundled_symbols(self) -> tuple[str, ...]:
        return tuple(b.symbol for b in self.bundled)


@dataclass(frozen=True)
class SourcesConfig:
    provider_weights: dict[str, float] = field(hash=False)
    default_weight: float
    ohlcv_lookback_sessions: int


@dataclass(frozen=True)
class Config:
    directory: Path
    exchange: ExchangeConfig
    universe: UniverseConfig
    sources: SourcesConfig
    regimes: RegimeRules


def default_config_dir() -> Path:
    """``$LAKEHOUSE_CONFIG``, else ``config/`` of the working directory, else the repo's."""
    if env := os.environ.get("LAKEHOUSE_CONFIG"):
        return Path(env)
    local = Path.cwd() / "config"
    return local if (local / "exchange.yaml").exists() else REPO_ROOT / "config"


class _File:
    """One YAML mapping with error messages that name the file and the key."""

    def __init__(self, path: Path, data: Any, prefix: str = "") -> None:
        self.path, self.data, self.prefix = path, data, prefix
        if not isinstance(data, dict):
            self.fail("", f"expected a mapping, got {type(data).__name__}")

    @classmethod
    def load(cls, directory: Path, name: str) -> _File:
        path = directory / name
        if not path.is_file():
            raise ConfigError(f"{path}: configuration file not found")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
        return cls(path, data)

    def fail(self, key: str, message: str) -> None:
        raise ConfigError(f"{self.path}: {self.prefix}{key}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                self.fail(key, "required key is missing")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
            self.fail(key, f"expected {_names(kind)}, got {value!r}")
        return value

    def sub(self, key: str) -> _File:
        return _File(self.path, self.get(key, dict), f"{self.prefix}{key}.")

    def date(self, key: str) -> dt.date:
        value = self.get(key, (dt.date, str))
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(key, f"expected a date YYYY-MM-DD, got {value!r}")
            raise  # unreachable, keeps type checkers happy

    def number(self, key: str, default: Any = ..., minimum: float | None = None) -> float:
        value = float(self.get(key, (int, float), default))
        if minimum is not None and value < minimum:
            self.fail(key, f"must be >= {minimum}, got {value}")
        return value


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _names(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _tuple(kind))


def _exchange(directory: Path) -> ExchangeConfig:
    f = _File.load(directory, "exchange.yaml")
    calendar = f.get("calendar", str)
    import exchange_calendars  # local: only needed to validate the code

    if calendar not in exchange_calendars.get_calendar_names():
        f.fail("calendar", f"unknown exchange calendar {calendar!r}")
    timezone = f.get("timezone", str)
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(timezone)
    except Exception:
        f.fail("timezone", f"unknown time zone {timezone!r}")
    raw_time = f.get("schedule_time", str)
    try:
        schedule_time = dt.time.fromisoformat(raw_time)
    except ValueError:
        f.fail("schedule_time", f"expected HH:MM, got {raw_time!r}")
    return ExchangeConfig(calendar, timezone, f.date("partitions_start"), schedule_time)


def _universe(directory: Path) -> UniverseConfig:
    from lakehouse_assets.sources.ohlcv import BUNDLED_SOURCES

    f = _File.load(directory, "universe.yaml")
    bundled = []
    for i, item in enumerate(f.get("bundled", list)):
        entry = _File(f.path, item, f"bundled[{i}].")
        dataset = entry.get("dataset", str)
        if dataset not in BUNDLED_SOURCES:
            entry.fail("dataset", f"unknown dataset {dataset!r}; one of {', '.join(BUNDLED_SOURCES)}")
        bundled.append(BundledSymbol(entry.get("symbol", str), dataset, entry.get("sector", str, "Unknown")))
    run = f.sub("default_run")
    start, end = run.date("start"), run.date("end")
    if end < start:
        run.fail("end", f"{end} is before start {start}")
    return UniverseConfig(f.get("index_symbol", str), tuple(bundled), start, end)


def _sources(directory: Path) -> SourcesConfig:
    f = _File.load(directory, "sources.yaml")
    sentiment = f.sub("sentiment")
    weights = sentiment.get("provider_weights", dict)
    parsed = {}
    for name in weights:
        parsed[str(name)] = _File(f.path, weights, "sentiment.provider_weights.").number(name, minimum=0.0)
    ohlcv = f.sub("ohlcv")
    return SourcesConfig(
        provider_weights=parsed,
        default_weight=sentiment.number("default_weight", 1.0, minimum=0.0),
        ohlcv_lookback_sessions=int(ohlcv.number("lookback_sessions", 5, minimum=1)),
    )


def _regimes(directory: Path) -> RegimeRules:
    f = _File.load(directory, "regimes.yaml")
    percentile, crash, high_vol = f.sub("volatility_percentile"), f.sub("crash"), f.sub("high_volatility")
    window = int(percentile.number("window", minimum=2))
    least = int(percentile.number("min_sessions", minimum=1))
    if least > window:
        percentile.fail("min_sessions", f"{least} exceeds window {window}")

    def fraction(part: _File, key: str, low: float, high: float) -> float:
        value = part.number(key)
        if not low <= value <= high:
            part.fail(key, f"must be between {low} and {high}, got {value}")
        return value

    return RegimeRules(
        vol_percentile_window=window,
        vol_percentile_min=least,
        crash_drawdown=fraction(crash, "drawdown", -1.0, 0.0),
        crash_vol_percentile=fraction(crash, "vol_percentile", 0.0, 1.0),
        high_vol_percentile=fraction(high_vol, "vol_percentile", 0.0, 1.0),
        high_vol_ratio=high_vol.number("volatility_ratio", minimum=0.0),
        recovery_drawdown=fraction(f.sub("recovery"), "drawdown", -1.0, 0.0),
        trend_adx_min=fraction(f.sub("trend"), "adx_min", 0.0, 100.0),
    )


def load_config(directory: str | Path | None = None) -> Config:
    """Read and validate every file of the configuration directory."""
    path = Path(directory) if directory is not None else default_config_dir()
    if not path.is_dir():
        raise ConfigError(f"{path}: configuration directory not found")
    return Config(path, _exchange(path), _universe(path), _sources(path), _regimes(path))
