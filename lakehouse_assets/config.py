"""YAML configuration under ``config/``, parsed once into frozen dataclasses.

Every problem is reported as :class:`ConfigError` naming the file and the key, e.g.
``config/exchange.yaml: schedule_time: expected HH:MM, got '25:00'``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakehouse_assets.compute import POOLS, SCHEDULER_ADDRESS, SCHEDULER_ENV, PoolSettings
from lakehouse_assets.core.alerts import SEVERITIES, AlertRules, Smtp, Webhook, redacted, unsafe_target
from lakehouse_assets.core.checks import CheckRules
from lakehouse_assets.core.drift import DriftRules
from lakehouse_assets.core.features import FEATURE_COLUMNS
from lakehouse_assets.core.forecasting import (
    ARIMA_REFITS,
    CADENCES,
    GARCH_KINDS,
    MODELS,
    ORDER_SEARCHES,
    ForecastSettings,
)
from lakehouse_assets.core.regimes import RegimeRules
from lakehouse_assets.core.registry import GateRules
from lakehouse_assets.core.strategies import STRATEGIES, StrategyRules
from lakehouse_assets.core.symbols import SYMBOL_PATTERN, is_symbol
from lakehouse_assets.core.variance import VarianceRules
from lakehouse_assets.lake.maintenance import MIB, MIN_RETENTION_DAYS, MaintenanceSettings

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


INDEX_SECTOR = "Index"
UNKNOWN_SECTOR = "Unknown"


@dataclass(frozen=True)
class SectorMap:
    """``config/sectors.yaml``: GICS sector by symbol; indexes (listed, or ``^...``) map to Index."""

    sectors: dict[str, str] = field(hash=False)
    indexes: frozenset[str]

    def sector(self, symbol: str) -> str:
        if symbol in self.indexes or symbol.startswith("^"):
            return INDEX_SECTOR
        return self.sectors.get(symbol, UNKNOWN_SECTOR)


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
    forecasting: ForecastSettings
    score_window: int
    forecast_pool: PoolSettings
    gate: GateRules
    sectors: SectorMap
    strategies: StrategyRules
    variance: VarianceRules
    checks: CheckRules
    alerts: AlertRules
    drift: DriftRules
    maintenance: MaintenanceSettings


def default_config_dir() -> Path:
    """``$LAKEHOUSE_CONFIG``, else ``config/`` of the working directory, else the repo's."""
    if env := os.environ.get("LAKEHOUSE_CONFIG"):
        return Path(env)
    local = Path.cwd() / "config"
    return local if (local / "exchange.yaml").exists() else REPO_ROOT / "config"


_loading = threading.local()  # the mappings read by the load_config of this thread


class _File:
    """One YAML mapping with error messages that name the file and the key.

    Every key read (or declared with :meth:`known`) is recorded; :func:`load_config` then
    rejects the keys nobody read, so a misspelt ``min_severty`` fails instead of leaving
    the default silently in force.
    """

    def __init__(self, path: Path, data: Any, prefix: str = "") -> None:
        self.path, self.data, self.prefix = path, data, prefix
        self.read: set[str] = set()
        self.parts: dict[str, _File] = {}
        if not isinstance(data, dict):
            self.fail("", f"expected a mapping, got {type(data).__name__}")
        opened = getattr(_loading, "files", None)
        if opened is not None:
            opened.append(self)

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

    def known(self, *keys: str) -> None:
        """Declare keys valid though not read (e.g. read only under another setting)."""
        self.read.update(keys)

    def unknown(self) -> None:
        """Fail on the first key that was never read, suggesting the closest known key."""
        for key in self.data:
            if str(key) not in self.read:
                close = difflib.get_close_matches(str(key), sorted(self.read), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(self.read))}"
                self.fail(str(key), f"unknown key{hint}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.read.add(key)
        if key not in self.data:
            if default is ...:
                self.fail(key, "required key is missing")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
            self.fail(key, f"expected {_names(kind)}, got {value!r}")
        return value

    def symbol(self, key: str) -> str:
        """A symbol (``core.symbols``): a ticker, never a path."""
        value = self.get(key, str)
        if not is_symbol(value):
            self.fail(key, f"{value!r} is not a symbol (expected {SYMBOL_PATTERN}: a ticker, not a path)")
        return value

    def sub(self, key: str) -> _File:
        if key not in self.parts:  # one _File per mapping, so reads through repeated sub() calls add up
            self.parts[key] = _File(self.path, self.get(key, dict), f"{self.prefix}{key}.")
        return self.parts[key]

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
        bundled.append(BundledSymbol(entry.symbol("symbol"), dataset))
    run = f.sub("default_run")
    start, end = run.date("start"), run.date("end")
    if end < start:
        run.fail("end", f"{end} is before start {start}")
    return UniverseConfig(f.symbol("index_symbol"), tuple(bundled), start, end)


def _sources(directory: Path) -> SourcesConfig:
    f = _File.load(directory, "sources.yaml")
    sentiment = f.sub("sentiment")
    weights = sentiment.sub("provider_weights")
    parsed = {str(name): weights.number(name, minimum=0.0) for name in weights.data}
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

    return RegimeRules(
        vol_percentile_window=window,
        vol_percentile_min=least,
        crash_drawdown=_between(crash, "drawdown", -1.0, 0.0),
        crash_vol_percentile=_between(crash, "vol_percentile", 0.0, 1.0),
        high_vol_percentile=_between(high_vol, "vol_percentile", 0.0, 1.0),
        high_vol_ratio=high_vol.number("volatility_ratio", minimum=0.0),
        recovery_drawdown=_between(f.sub("recovery"), "drawdown", -1.0, 0.0),
        trend_adx_min=_between(f.sub("trend"), "adx_min", 0.0, 100.0),
    )


def _forecasting(directory: Path) -> tuple[ForecastSettings, int, PoolSettings]:
    f = _File.load(directory, "forecasting.yaml")

    def whole(part: _File, key: str, minimum: int = 1) -> int:
        value = part.get(key, int)
        if value < minimum:
            part.fail(key, f"must be >= {minimum}, got {value}")
        return int(value)

    def choice(part: _File, key: str, options: tuple[str, ...] | dict) -> str:
        value = part.get(key, str)
        if value not in options:
            part.fail(key, f"unknown {value!r}; one of {', '.join(options)}")
        return str(value)

    def names(part: _File, key: str) -> tuple[str, ...]:
        values = part.get(key, list)
        if not all(isinstance(v, str) for v in values):
            part.fail(key, f"expected a list of names, got {values!r}")
        unknown = [v for v in values if v not in FEATURE_COLUMNS]
        if unknown:
            part.fail(key, f"unknown feature {unknown[0]!r}; one of {', '.join(FEATURE_COLUMNS)}")
        return tuple(values)

    horizons = f.get("horizons", list)
    if not horizons or not all(isinstance(h, int) and h >= 1 for h in horizons):
        f.fail("horizons", f"expected a list of whole numbers >= 1, got {horizons!r}")
    models = f.get("models", list)
    for model in models:
        if model not in MODELS:
            f.fail("models", f"unknown model {model!r}; one of {', '.join(MODELS)}")
    refit, arima, garch = f.sub("refit"), f.sub("auto_arima"), f.sub("garch")
    ssa, classifier = f.sub("ssa"), f.sub("direction_classifier")
    cadence, selection = choice(refit, "cadence", CADENCES), choice(refit, "order_selection", CADENCES)
    if CADENCES.index(selection) < CADENCES.index(cadence):
        refit.fail("order_selection", f"{selection} is more frequent than the refit cadence {cadence}")
    fit_window = whole(f, "fit_window", 30)
    n_workers = whole(f, "n_workers")
    ssa_window = whole(ssa, "window", 2)
    if ssa_window >= fit_window // 2:
        ssa.fail("window", f"{ssa_window} must be below half of fit_window ({fit_window})")
    settings = ForecastSettings(
        horizons=tuple(sorted(set(horizons))),
        models=tuple(m for m in MODELS if m in models),  # auto_arima before sarimax, which uses its order
        fit_window=fit_window,
        min_observations=whole(f, "min_observations", 30),
        cadence=cadence,
        order_selection=selection,
        arima_max_p=whole(arima, "max_p", 0),
        arima_max_q=whole(arima, "max_q", 0),
        arima_maxiter=whole(arima, "maxiter"),
        order_search=choice(arima, "order_search", ORDER_SEARCHES),
        arima_refit=choice(arima, "refit", ARIMA_REFITS),
        sarimax_exog=names(f.sub("sarimax"), "exog"),
        garch_kind=choice(garch, "kind", GARCH_KINDS),
        garch_dist=choice(garch, "dist", ("normal", "t", "skewt")),
        ssa_window=ssa_window,
        ssa_energy=_between(ssa, "energy", 0.0, 1.0),
        classifier_features=names(classifier, "features"),
        classifier_validation_fraction=_between(classifier, "validation_fraction", 0.01, 0.4),
        classifier_min_sharpe=classifier.number("min_sharpe"),
        classifier_min_win_rate=_between(classifier, "min_win_rate", 0.0, 1.0),
        replay_size=whole(classifier.sub("replay"), "size", 0),
        replay_weight=classifier.sub("replay").number("weight", minimum=0.0),
        replay_min_confidence=_between(classifier.sub("replay"), "min_confidence", 0.5, 1.0),
        seed=whole(f, "seed", 0),
    )
    return settings, whole(f.sub("scores"), "window", 5), _pool(f, n_workers)


def _pool(f: _File, n_workers: int) -> PoolSettings:
    """``pool`` (default local), ``n_workers`` for the local pool, and the Dask scheduler's
    address for the dask pool: ``$LAKEHOUSE_DASK_SCHEDULER``, else ``dask_scheduler``."""
    kind = f.get("pool", str, "local")
    if kind not in POOLS:
        f.fail("pool", f"unknown {kind!r}; one of {', '.join(POOLS)}")
    expected = "expected a scheduler address like tcp://127.0.0.1:8786"
    address = f.get("dask_scheduler", object, None)  # an empty value is None: no address
    if address is not None and not (isinstance(address, str) and SCHEDULER_ADDRESS.match(address)):
        f.fail("dask_scheduler", f"{expected}, got {address!r}")
    if env := os.environ.get(SCHEDULER_ENV):
        if not SCHEDULER_ADDRESS.match(env):
            raise ConfigError(f"${SCHEDULER_ENV}: {expected}, got {env!r}")
        address = env
    if kind == "dask" and not address:
        f.fail("dask_scheduler", f"required when pool is dask (or set ${SCHEDULER_ENV})")
    return PoolSettings(kind=kind, workers=n_workers, scheduler=address)


def _between(part: _File, key: str, low: float, high: float, default: Any = ...) -> float:
    value = part.number(key, default)
    if not low <= value <= high:
        part.fail(key, f"must be between {low} and {high}, got {value}")
    return value


# keys of registry.yaml whose meaning changed (issue 15): an old file fails loudly, not silently
_RETIRED_GATE_KEYS = {
    "max_drift": "max_drifted_share (share of monitored features with a calibrated drift verdict)",
    "coverage_tolerance": "coverage_alpha (two-sided binomial test of the 80% and 95% intervals)",
    "min_directional_accuracy": "min_balanced_accuracy (directional skill against the base rate)",
}


def _gate(directory: Path, models: tuple[str, ...]) -> GateRules:
    f = _File.load(directory, "registry.yaml")
    for key, replacement in _RETIRED_GATE_KEYS.items():
        if key in f.data:
            f.fail(key, f"no longer used; see {replacement}")
    overrides: dict[tuple[str, int], str] = {}
    for i, item in enumerate(f.get("overrides", list, [])):
        entry = _File(f.path, item, f"overrides[{i}].")
        model = entry.get("model", str)
        if model not in models:
            entry.fail("model", f"{model!r} is not one of the configured models: {', '.join(models)}")
        overrides[(entry.symbol("symbol"), int(entry.get("horizon", int)))] = model
    return GateRules(
        min_scored=int(f.number("min_scored", minimum=3)),
        min_balanced_accuracy=_between(f, "min_balanced_accuracy", 0.0, 1.0),
        group_floor=_between(f, "group_floor", 0.0, 1.0),
        min_group_count=int(f.number("min_group_count", minimum=1)),
        max_drifted_share=_between(f, "max_drifted_share", 0.0, 1.0),
        dm_alpha=_between(f, "dm_alpha", 0.0, 1.0),
        coverage_alpha=_between(f, "coverage_alpha", 0.0, 1.0),
        overrides=overrides,
    )


def _sectors(directory: Path) -> SectorMap:
    f = _File.load(directory, "sectors.yaml")
    indexes = f.get("indexes", list, [])
    for symbol in indexes:
        if not (isinstance(symbol, str) and is_symbol(symbol)):
            f.fail("indexes", f"{symbol!r} is not a symbol (expected {SYMBOL_PATTERN})")
    sectors: dict[str, str] = {}
    listed = f.sub("sectors")
    for sector in listed.data:
        for symbol in listed.get(sector, list):
            if not (isinstance(symbol, str) and is_symbol(symbol)):
                listed.fail(sector, f"{symbol!r} is not a symbol (expected {SYMBOL_PATTERN})")
            if symbol in sectors:
                listed.fail(sector, f"{symbol} is also listed under {sectors[symbol]}")
            sectors[str(symbol)] = str(sector)
    return SectorMap(sectors, frozenset(str(s) for s in indexes))


def _strategies(directory: Path) -> StrategyRules:
    f = _File.load(directory, "strategies.yaml")
    enabled = f.get("enabled", list)
    for name in enabled:
        if name not in STRATEGIES:
            f.fail("enabled", f"unknown strategy {name!r}; one of {', '.join(STRATEGIES)}")
    rules = f.sub("rules")
    params: dict[str, dict[str, float]] = {}
    for name in STRATEGIES:
        part = rules.sub(name)
        params[name] = {key: part.number(key) for key in part.data}
    needed = {
        "iron_condor": ("max_adx", "min_iv_rank"),
        "bull_put_spread": ("max_rsi",),
        "bear_call_spread": ("min_rsi",),
        "swing_momentum": ("min_adx", "min_momentum"),
        "mean_reversion": ("oversold", "overbought"),
        "forecast_follow": ("min_z",),
    }
    for name, keys in needed.items():
        for key in keys:
            rules.sub(name).number(key)  # reports a missing key with file and path
    iv, sentiment, opts, directional = f.sub("iv_rank"), f.sub("sentiment"), f.sub("options"), f.sub("directional")
    strikes = opts.get("strikes", str)
    if strikes not in ("delta", "width"):
        opts.fail("strikes", f"unknown {strikes!r}; delta or width")
    opts.known("short_delta")  # read only when strikes is delta
    min_hold, max_hold = int(directional.number("min_hold", minimum=1)), int(directional.number("max_hold", minimum=1))
    if max_hold < min_hold:
        directional.fail("max_hold", f"{max_hold} is below min_hold {min_hold}")
    return StrategyRules(
        enabled=tuple(s for s in STRATEGIES if s in enabled),
        params=params,
        cost_per_side=_between(f, "cost_per_side", 0.0, 0.1),
        capital=f.number("capital_per_trade", minimum=1.0),
        min_trades=int(f.number("min_trades", minimum=1)),
        risk_free_rate=_between(f, "risk_free_rate", -0.05, 0.5),
        forecast_horizon=int(f.number("forecast_horizon", minimum=1)),
        iv_rank_window=int(iv.number("window", minimum=2)),
        iv_rank_min=int(iv.number("min_sessions", minimum=2)),
        suppress_bullish_below=_between(sentiment, "suppress_bullish_below", -1.0, 1.0),
        boost_above=_between(sentiment, "boost_above", -1.0, 1.0),
        boost=sentiment.number("boost", minimum=0.0),
        dte=int(opts.number("dte", minimum=1)),
        strike_width=opts.number("strike_width", minimum=0.0),
        strike_width_reference=opts.number("strike_width_reference", minimum=1e-9),
        short_delta=_between(opts, "short_delta", 0.01, 0.99) if strikes == "delta" else None,
        profit_target=_between(opts, "profit_target", 0.01, 1.0),
        stop_loss=opts.number("stop_loss", minimum=0.01),
        min_hold=min_hold,
        max_hold=max_hold,
        stop_sigma=directional.number("stop_sigma", minimum=0.01),
        target_sigma=directional.number("target_sigma", minimum=0.01),
    )


def _variance(directory: Path) -> VarianceRules:
    f = _File.load(directory, "trading_config.yaml").sub("variance_analysis")
    base, regime = f.sub("strategy_weights"), f.sub("regime_adjustments")
    for name in base.data:
        if name not in STRATEGIES:
            base.fail(name, f"unknown strategy; one of {', '.join(STRATEGIES)}")
    if "mae_scale" in f.data:  # the raw-MAE scale of old configs would be read in the wrong units
        f.fail("mae_scale", "renamed relative_mae_scale: the MAE is now relative to mean |actual| (docs/ledger.md)")
    scale = f.number("relative_mae_scale")
    if scale <= 0.0:
        f.fail("relative_mae_scale", f"must be > 0, got {scale}")
    return VarianceRules(
        enabled=f.get("enabled", bool),
        lookback_days=int(f.number("lookback_days", minimum=1)),
        min_predictions=int(f.number("min_predictions", minimum=1)),
        weight_adjustment_factor=_between(f, "weight_adjustment_factor", 0.0, 1.0),
        relative_mae_scale=scale,
        strategy_weights={str(k): base.number(k, minimum=0.0) for k in base.data},
        regime_adjustments={str(k): regime.number(k, minimum=0.0) for k in regime.data},
    )


def _monitoring(directory: Path) -> tuple[CheckRules, AlertRules, DriftRules, MaintenanceSettings]:
    f = _File.load(directory, "monitoring.yaml")
    c, a = f.sub("checks"), f.sub("alerts")
    checks = CheckRules(
        max_quarantine_share=_between(c, "max_quarantine_share", 0.0, 1.0),
        min_quarantined_rows=int(c.number("min_quarantined_rows", 10, minimum=1)),
        freshness_sessions=int(c.number("freshness_sessions", 1, minimum=0)),
    )
    hooks = []
    for i, item in enumerate(a.get("webhooks", list, [])):
        h = _File(a.path, item, f"alerts.webhooks[{i}].")
        fmt = h.get("format", str, "json")
        if fmt not in ("json", "slack"):
            h.fail("format", f"expected json or slack, got {fmt!r}")
        url = h.get("url", str)
        if problem := unsafe_target(url):  # the URL is a secret: the message names its origin at most
            h.fail("url", f"{problem}: {redacted(url)}")
        hooks.append(
            Webhook(
                url=url,
                format=fmt,
                headers={str(k): str(v) for k, v in h.get("headers", dict, {}).items()},
                retries=int(_between(h, "retries", 0, 10, 3)),
                backoff_seconds=_between(h, "backoff_seconds", 0.0, 60.0, 0.5),
                timeout_seconds=_between(h, "timeout_seconds", 0.1, 120.0, 5.0),
            )
        )
    if url := os.environ.get("LAKEHOUSE_ALERT_WEBHOOK"):
        if problem := unsafe_target(url):
            raise ConfigError(f"$LAKEHOUSE_ALERT_WEBHOOK: {problem}: {redacted(url)}")
        hooks.append(Webhook(url=url))
    smtp = None
    if "smtp" in a.data:
        m = a.sub("smtp")
        smtp = Smtp(
            host=m.get("host", str),
            port=int(m.number("port", 587, minimum=1)),
            sender=m.get("from", str, "lakehouse@localhost"),
            to=tuple(str(t) for t in m.get("to", list)),
            starttls=m.get("starttls", bool, True),
            user_env=m.get("user_env", str, None),
            password_env=m.get("password_env", str, None),
        )
    severity = a.get("min_severity", str, "warning")
    if severity not in SEVERITIES:
        a.fail("min_severity", f"expected one of {', '.join(SEVERITIES)}, got {severity!r}")
    overrides = a.sub("dedupe_overrides") if "dedupe_overrides" in a.data else None
    alerts = AlertRules(
        dedupe_seconds=a.number("dedupe_seconds", 3600.0, minimum=0.0),
        dedupe_overrides={str(k): overrides.number(k, minimum=0.0) for k in overrides.data} if overrides else {},
        ack_ttl_hours=a.number("ack_ttl_hours", 24.0, minimum=0.0),
        min_severity=severity,
        webhooks=tuple(hooks),
        smtp=smtp,
    )
    d, regime, prediction = f.sub("drift"), f.sub("drift").sub("regime"), f.sub("drift").sub("prediction")
    features = tuple(str(x) for x in d.get("features", list))
    for name in features:
        if name not in FEATURE_COLUMNS:
            d.fail("features", f"unknown feature {name!r}; one of {', '.join(FEATURE_COLUMNS)}")
    drift = DriftRules(
        features=features,
        window=int(d.number("window", minimum=2)),
        reference=int(d.number("reference", minimum=10)),
        gap=int(d.number("gap", 60, minimum=0)),
        threshold=_between(d, "threshold", 0.0, 1.0),
        alpha=_between(d, "alpha", 0.0, 1.0),
        blocks=int(d.number("blocks", 99, minimum=1)),
        sustained_days=int(d.number("sustained_days", minimum=1)),
        regime_window=int(regime.number("window", minimum=10)),
        regime_reference=int(regime.number("reference", minimum=10)),
        regime_alpha=_between(regime, "alpha", 0.0, 1.0),
        prediction_window=int(prediction.number("window", minimum=10)),
        prediction_reference=int(prediction.number("reference", minimum=10)),
    )
    if drift.alpha * (drift.blocks + 1) < 1:
        d.fail("blocks", f"p-values are multiples of 1 / (blocks + 1), so alpha {drift.alpha} is out of reach")
    m = f.sub("maintenance")
    try:
        maintenance = MaintenanceSettings(
            retention_days=m.number("retention_days", 7.0, minimum=MIN_RETENTION_DAYS),  # readers need it
            small_file_bytes=int(m.number("small_file_mb", 8, minimum=0.0) * MIB),
            target_file_bytes=int(m.number("target_file_mb", 128, minimum=1.0) * MIB),
        )
    except ValueError as exc:
        m.fail("", str(exc))
        raise  # unreachable
    return checks, alerts, drift, maintenance


def load_config(directory: str | Path | None = None) -> Config:
    """Read and validate every file of the configuration directory."""
    path = Path(directory) if directory is not None else default_config_dir()
    if not path.is_dir():
        raise ConfigError(f"{path}: configuration directory not found")
    _loading.files = []
    try:
        config = _load(path)
        for opened in _loading.files:
            opened.unknown()
    finally:
        _loading.files = None
    return config


def _load(path: Path) -> Config:
    forecasting, score_window, forecast_pool = _forecasting(path)
    return Config(
        path,
        _exchange(path),
        _universe(path),
        _sources(path),
        _regimes(path),
        forecasting,
        score_window,
        forecast_pool,
        _gate(path, forecasting.models),
        _sectors(path),
        _strategies(path),
        _variance(path),
        *_monitoring(path),
    )
