"""YAML configuration under ``config/``: one pydantic model per file, validated once.

:func:`load_config` reads every file, validates it against its model (unknown keys are
errors, types are the YAML's own, ranges and choices are checked), then the checks that
span files, and returns :class:`Config`: the frozen records (``ForecastSettings``,
``GateRules``, ...) the rest of the code reads. Callers pass that one object down; nothing
reads the files again behind their back.

Every problem is one line of :class:`ConfigError` naming the file and the key path, e.g.
``config/monitoring.yaml: alerts.min_severty: unknown key; did you mean 'min_severity'?``.

Secrets never live in these files. A key that names one (``password``, ``token``,
``Authorization``, ...) or a value that is one (``Bearer ...``, a webhook URL carrying a
token) is an error; the files name the environment variable instead (``password_env``,
``url_env``, ``headers_env``), read where the secret is used. Error lines never quote a
webhook URL beyond its origin.
"""

import datetime as dt
import difflib
import os
import re
import types
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

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
from lakehouse_assets.sources.ohlcv import BUNDLED_SOURCES

REPO_ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_ENV = "LAKEHOUSE_ALERT_WEBHOOK"  # one more JSON webhook, without editing monitoring.yaml


class ConfigError(ValueError):
    """A configuration file is missing, malformed or holds a bad value (one line per problem)."""


# --- the records the code reads ---------------------------------------------------------


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
    """``config/`` of the working directory when it has one, else the repository's."""
    local = Path.cwd() / "config"
    return local if (local / "exchange.yaml").exists() else REPO_ROOT / "config"


# --- validation vocabulary ----------------------------------------------------------------


class _Section(BaseModel):
    """One mapping of a configuration file.

    Unknown keys are errors (a misspelt key must not leave a default silently in force);
    values keep their YAML types (``"3"`` is no number, ``3.0`` no count). A ``retired`` key
    (old key -> the key that replaced it, and what to say) fails with what replaced it.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
    retired: ClassVar[dict[str, tuple[str, str]]] = {}


class KeyProblem(ValueError):
    """A problem of one key found by a check across keys: reported at that key, not at its mapping."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def one_of(options: Iterable[str], what: str = "") -> AfterValidator:
    allowed = tuple(options)
    named = f"{what} " if what else ""

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"unknown {named}{value!r}; one of {', '.join(allowed)}")
        return value

    return AfterValidator(check)


def _symbol(value: str) -> str:
    if not is_symbol(value):
        raise ValueError(f"{value!r} is not a symbol (expected {SYMBOL_PATTERN}: a ticker, not a path)")
    return value


def _variable(value: str) -> str:
    # the value is not quoted: a secret pasted where its variable's name belongs stays unshown
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError("expected the name of an environment variable (letters, digits, _), not its value")
    return value


def _clock(value: object) -> dt.time:
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected HH:MM, got {value!r}")


Share = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=1)]
Symbol = Annotated[str, AfterValidator(_symbol)]
Feature = Annotated[str, one_of(FEATURE_COLUMNS, "feature")]
Strategy = Annotated[str, one_of(STRATEGIES, "strategy")]
EnvName = Annotated[str, AfterValidator(_variable)]
Day = Annotated[dt.date, Field(strict=False)]  # a YAML date, or its ISO text


# --- exchange.yaml ------------------------------------------------------------------------


class ExchangeFile(_Section):
    calendar: str
    timezone: str
    partitions_start: Day
    schedule_time: Annotated[dt.time, BeforeValidator(_clock)]

    @field_validator("calendar")
    @classmethod
    def _known_calendar(cls, value: str) -> str:
        import exchange_calendars  # only the codes are needed here; the calendar loads where it is used

        if value not in exchange_calendars.get_calendar_names():
            raise ValueError(f"unknown exchange calendar {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def record(self) -> ExchangeConfig:
        return ExchangeConfig(self.calendar, self.timezone, self.partitions_start, self.schedule_time)


# --- universe.yaml ------------------------------------------------------------------------


class BundledEntry(_Section):
    symbol: Symbol
    dataset: Annotated[str, one_of(BUNDLED_SOURCES, "dataset")]


class DefaultRun(_Section):
    start: Day
    end: Day

    @model_validator(mode="after")
    def _ordered(self) -> "DefaultRun":
        if self.end < self.start:
            raise KeyProblem("end", f"{self.end} is before start {self.start}")
        return self


class UniverseFile(_Section):
    index_symbol: Symbol
    bundled: list[BundledEntry]
    default_run: DefaultRun

    def record(self) -> UniverseConfig:
        return UniverseConfig(
            index_symbol=self.index_symbol,
            bundled=tuple(BundledSymbol(b.symbol, b.dataset) for b in self.bundled),
            default_start=self.default_run.start,
            default_end=self.default_run.end,
        )


# --- sources.yaml -------------------------------------------------------------------------


class SentimentSources(_Section):
    provider_weights: dict[str, Annotated[float, Field(ge=0.0)]]
    default_weight: float = Field(1.0, ge=0.0)


class OhlcvSources(_Section):
    lookback_sessions: Count = 5


class SourcesFile(_Section):
    sentiment: SentimentSources
    ohlcv: OhlcvSources

    def record(self) -> SourcesConfig:
        return SourcesConfig(
            provider_weights=dict(self.sentiment.provider_weights),
            default_weight=self.sentiment.default_weight,
            ohlcv_lookback_sessions=self.ohlcv.lookback_sessions,
        )


# --- regimes.yaml -------------------------------------------------------------------------

Drawdown = Annotated[float, Field(ge=-1.0, le=0.0)]


class VolatilityPercentile(_Section):
    window: int = Field(ge=2)
    min_sessions: Count

    @model_validator(mode="after")
    def _within_window(self) -> "VolatilityPercentile":
        if self.min_sessions > self.window:
            raise KeyProblem("min_sessions", f"{self.min_sessions} exceeds window {self.window}")
        return self


class Crash(_Section):
    drawdown: Drawdown
    vol_percentile: Share


class HighVolatility(_Section):
    vol_percentile: Share
    volatility_ratio: float = Field(ge=0.0)


class Recovery(_Section):
    drawdown: Drawdown


class Trend(_Section):
    adx_min: float = Field(ge=0.0, le=100.0)


class RegimesFile(_Section):
    volatility_percentile: VolatilityPercentile
    crash: Crash
    high_volatility: HighVolatility
    recovery: Recovery
    trend: Trend

    def record(self) -> RegimeRules:
        return RegimeRules(
            vol_percentile_window=self.volatility_percentile.window,
            vol_percentile_min=self.volatility_percentile.min_sessions,
            crash_drawdown=self.crash.drawdown,
            crash_vol_percentile=self.crash.vol_percentile,
            high_vol_percentile=self.high_volatility.vol_percentile,
            high_vol_ratio=self.high_volatility.volatility_ratio,
            recovery_drawdown=self.recovery.drawdown,
            trend_adx_min=self.trend.adx_min,
        )


# --- forecasting.yaml ---------------------------------------------------------------------

Cadence = Annotated[str, one_of(CADENCES)]


class Refit(_Section):
    cadence: Cadence
    order_selection: Cadence

    @model_validator(mode="after")
    def _not_more_often(self) -> "Refit":
        if CADENCES.index(self.order_selection) < CADENCES.index(self.cadence):
            raise KeyProblem(
                "order_selection", f"{self.order_selection} is more frequent than the refit cadence {self.cadence}"
            )
        return self


class AutoArima(_Section):
    max_p: int = Field(ge=0)
    max_q: int = Field(ge=0)
    maxiter: Count
    order_search: Annotated[str, one_of(ORDER_SEARCHES)]
    refit: Annotated[str, one_of(ARIMA_REFITS)]


class Sarimax(_Section):
    exog: list[Feature]


class Garch(_Section):
    kind: Annotated[str, one_of(GARCH_KINDS)]
    dist: Annotated[str, one_of(("normal", "t", "skewt"))]


class Ssa(_Section):
    window: int = Field(ge=2)
    energy: Share


class Replay(_Section):
    size: int = Field(ge=0)
    min_confidence: float = Field(ge=0.5, le=1.0)
    weight: float = Field(ge=0.0)


class DirectionClassifier(_Section):
    features: list[Feature]
    validation_fraction: float = Field(ge=0.01, le=0.4)
    min_sharpe: float
    min_win_rate: Share
    replay: Replay


class Scores(_Section):
    window: int = Field(ge=5)


class ForecastingFile(_Section):
    horizons: list[Count] = Field(min_length=1)
    models: list[Annotated[str, one_of(MODELS, "model")]]
    fit_window: int = Field(ge=30)
    min_observations: int = Field(ge=30)
    refit: Refit
    pool: Annotated[str, one_of(POOLS)] = "local"
    n_workers: Count
    dask_scheduler: Any = None  # checked below: a bad address is named as written, whatever its YAML type
    seed: int = Field(ge=0)
    auto_arima: AutoArima
    sarimax: Sarimax
    garch: Garch
    ssa: Ssa
    direction_classifier: DirectionClassifier
    scores: Scores

    @field_validator("dask_scheduler")
    @classmethod
    def _address(cls, value: object) -> object:
        if value is not None and not (isinstance(value, str) and SCHEDULER_ADDRESS.match(value)):
            raise ValueError(f"{_ADDRESS_EXPECTED}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> "ForecastingFile":
        if self.ssa.window >= self.fit_window // 2:
            raise KeyProblem("ssa.window", f"{self.ssa.window} must be below half of fit_window ({self.fit_window})")
        if self.pool == "dask" and not self.scheduler(_environ(info)):
            raise KeyProblem("dask_scheduler", f"required when pool is dask (or set ${SCHEDULER_ENV})")
        return self

    def scheduler(self, environ: Mapping[str, str]) -> str | None:
        """The Dask scheduler's address: ``$LAKEHOUSE_DASK_SCHEDULER``, else ``dask_scheduler``."""
        return environ.get(SCHEDULER_ENV) or self.dask_scheduler

    def record(self) -> ForecastSettings:
        classifier, arima = self.direction_classifier, self.auto_arima
        return ForecastSettings(
            horizons=tuple(sorted(set(self.horizons))),
            models=tuple(m for m in MODELS if m in self.models),  # auto_arima before sarimax, which uses its order
            fit_window=self.fit_window,
            min_observations=self.min_observations,
            cadence=self.refit.cadence,
            order_selection=self.refit.order_selection,
            arima_max_p=arima.max_p,
            arima_max_q=arima.max_q,
            arima_maxiter=arima.maxiter,
            order_search=arima.order_search,
            arima_refit=arima.refit,
            sarimax_exog=tuple(self.sarimax.exog),
            garch_kind=self.garch.kind,
            garch_dist=self.garch.dist,
            ssa_window=self.ssa.window,
            ssa_energy=self.ssa.energy,
            classifier_features=tuple(classifier.features),
            classifier_validation_fraction=classifier.validation_fraction,
            classifier_min_sharpe=classifier.min_sharpe,
            classifier_min_win_rate=classifier.min_win_rate,
            replay_size=classifier.replay.size,
            replay_weight=classifier.replay.weight,
            replay_min_confidence=classifier.replay.min_confidence,
            seed=self.seed,
        )

    def pool_settings(self, environ: Mapping[str, str]) -> PoolSettings:
        return PoolSettings(kind=self.pool, workers=self.n_workers, scheduler=self.scheduler(environ))


_ADDRESS_EXPECTED = "expected a scheduler address like tcp://127.0.0.1:8786"


# --- registry.yaml ------------------------------------------------------------------------


class Override(_Section):
    symbol: Symbol
    horizon: int
    model: str

    @field_validator("model")
    @classmethod
    def _configured(cls, value: str, info: ValidationInfo) -> str:
        models = (info.context or {}).get("models")
        if models is not None and value not in models:  # None: forecasting.yaml failed, and says why
            raise ValueError(f"{value!r} is not one of the configured models: {', '.join(models)}")
        return value


class RegistryFile(_Section):
    # keys whose meaning changed (issue 15): an old file fails loudly, not silently
    retired: ClassVar[dict[str, tuple[str, str]]] = {
        old: (new, f"no longer used; see {new} ({meaning})")
        for old, new, meaning in (
            ("max_drift", "max_drifted_share", "share of monitored features with a calibrated drift verdict"),
            ("coverage_tolerance", "coverage_alpha", "two-sided binomial test of the 80% and 95% intervals"),
            ("min_directional_accuracy", "min_balanced_accuracy", "directional skill against the base rate"),
        )
    }

    min_scored: int = Field(ge=3)
    min_balanced_accuracy: Share
    group_floor: Share
    min_group_count: Count
    max_drifted_share: Share
    dm_alpha: Share
    coverage_alpha: Share
    overrides: list[Override] = []

    def record(self) -> GateRules:
        return GateRules(
            min_scored=self.min_scored,
            min_balanced_accuracy=self.min_balanced_accuracy,
            group_floor=self.group_floor,
            min_group_count=self.min_group_count,
            max_drifted_share=self.max_drifted_share,
            dm_alpha=self.dm_alpha,
            coverage_alpha=self.coverage_alpha,
            overrides={(o.symbol, o.horizon): o.model for o in self.overrides},
        )


# --- sectors.yaml -------------------------------------------------------------------------


class SectorsFile(_Section):
    indexes: list[Symbol] = []
    sectors: dict[str, list[Symbol]]

    @model_validator(mode="after")
    def _listed_once(self) -> "SectorsFile":
        seen: dict[str, str] = {}
        for sector, symbols in self.sectors.items():
            for symbol in symbols:
                if symbol in seen:
                    raise KeyProblem(f"sectors.{sector}", f"{symbol} is also listed under {seen[symbol]}")
                seen[symbol] = sector
        return self

    def record(self) -> SectorMap:
        by_symbol = {symbol: sector for sector, symbols in self.sectors.items() for symbol in symbols}
        return SectorMap(by_symbol, frozenset(self.indexes))


# --- strategies.yaml ----------------------------------------------------------------------


class IronCondor(_Section):
    max_adx: float
    min_iv_rank: float


class BullPutSpread(_Section):
    max_rsi: float


class BearCallSpread(_Section):
    min_rsi: float


class SwingMomentum(_Section):
    min_adx: float
    min_momentum: float


class MeanReversion(_Section):
    oversold: float
    overbought: float


class ForecastFollow(_Section):
    min_z: float


class StrategyParameters(_Section):
    """Each strategy's own thresholds (``core/strategies.py`` reads them by these names)."""

    iron_condor: IronCondor
    bull_put_spread: BullPutSpread
    bear_call_spread: BearCallSpread
    swing_momentum: SwingMomentum
    mean_reversion: MeanReversion
    forecast_follow: ForecastFollow


class IvRank(_Section):
    window: int = Field(ge=2)
    min_sessions: int = Field(ge=2)


class SentimentGate(_Section):
    suppress_bullish_below: float = Field(ge=-1.0, le=1.0)
    boost_above: float = Field(ge=-1.0, le=1.0)
    boost: float = Field(ge=0.0)


class Options(_Section):
    dte: Count
    strike_width: float = Field(ge=0.0)
    strike_width_reference: float = Field(ge=1e-9)
    strikes: Annotated[str, one_of(("delta", "width"))]
    short_delta: float | None = Field(None, ge=0.01, le=0.99)  # used only when strikes is delta
    profit_target: float = Field(ge=0.01, le=1.0)
    stop_loss: float = Field(ge=0.01)

    @model_validator(mode="after")
    def _delta_given(self) -> "Options":
        if self.strikes == "delta" and self.short_delta is None:
            raise KeyProblem("short_delta", "required key is missing (strikes is delta)")
        return self


class Directional(_Section):
    min_hold: Count
    max_hold: Count
    stop_sigma: float = Field(ge=0.01)
    target_sigma: float = Field(ge=0.01)

    @model_validator(mode="after")
    def _ordered(self) -> "Directional":
        if self.max_hold < self.min_hold:
            raise KeyProblem("max_hold", f"{self.max_hold} is below min_hold {self.min_hold}")
        return self


class StrategiesFile(_Section):
    enabled: list[Strategy]
    cost_per_side: float = Field(ge=0.0, le=0.1)
    capital_per_trade: float = Field(ge=1.0)
    min_trades: Count
    risk_free_rate: float = Field(ge=-0.05, le=0.5)
    forecast_horizon: Count
    iv_rank: IvRank
    sentiment: SentimentGate
    options: Options
    directional: Directional
    rules: StrategyParameters

    def record(self) -> StrategyRules:
        options, directional = self.options, self.directional
        return StrategyRules(
            enabled=tuple(s for s in STRATEGIES if s in self.enabled),
            params={name: getattr(self.rules, name).model_dump() for name in STRATEGIES},
            cost_per_side=self.cost_per_side,
            capital=self.capital_per_trade,
            min_trades=self.min_trades,
            risk_free_rate=self.risk_free_rate,
            forecast_horizon=self.forecast_horizon,
            iv_rank_window=self.iv_rank.window,
            iv_rank_min=self.iv_rank.min_sessions,
            suppress_bullish_below=self.sentiment.suppress_bullish_below,
            boost_above=self.sentiment.boost_above,
            boost=self.sentiment.boost,
            dte=options.dte,
            strike_width=options.strike_width,
            strike_width_reference=options.strike_width_reference,
            short_delta=options.short_delta if options.strikes == "delta" else None,
            profit_target=options.profit_target,
            stop_loss=options.stop_loss,
            min_hold=directional.min_hold,
            max_hold=directional.max_hold,
            stop_sigma=directional.stop_sigma,
            target_sigma=directional.target_sigma,
        )


# --- trading_config.yaml ------------------------------------------------------------------


class VarianceAnalysis(_Section):
    # the raw-MAE scale of old configs would be read in the wrong units
    retired: ClassVar[dict[str, tuple[str, str]]] = {
        "mae_scale": (
            "relative_mae_scale",
            "renamed relative_mae_scale: the MAE is now relative to mean |actual| (docs/ledger.md)",
        )
    }

    enabled: bool
    lookback_days: Count
    min_predictions: Count
    weight_adjustment_factor: Share
    relative_mae_scale: float = Field(gt=0)
    strategy_weights: dict[Strategy, Annotated[float, Field(ge=0.0)]]
    regime_adjustments: dict[str, Annotated[float, Field(ge=0.0)]]


class TradingFile(_Section):
    variance_analysis: VarianceAnalysis

    def record(self) -> VarianceRules:
        v = self.variance_analysis
        return VarianceRules(
            enabled=v.enabled,
            lookback_days=v.lookback_days,
            min_predictions=v.min_predictions,
            weight_adjustment_factor=v.weight_adjustment_factor,
            relative_mae_scale=v.relative_mae_scale,
            strategy_weights=dict(v.strategy_weights),
            regime_adjustments=dict(v.regime_adjustments),
        )


# --- monitoring.yaml ----------------------------------------------------------------------


class Checks(_Section):
    max_quarantine_share: Share
    min_quarantined_rows: Count = 10
    freshness_sessions: int = Field(1, ge=0)

    def record(self) -> CheckRules:
        return CheckRules(self.max_quarantine_share, self.min_quarantined_rows, self.freshness_sessions)


class RegimeDrift(_Section):
    window: int = Field(ge=10)
    reference: int = Field(ge=10)
    alpha: Share


class PredictionDrift(_Section):
    window: int = Field(ge=10)
    reference: int = Field(ge=10)


class Drift(_Section):
    features: list[Feature]
    window: int = Field(ge=2)
    reference: int = Field(ge=10)
    gap: int = Field(60, ge=0)
    threshold: Share
    alpha: Share
    blocks: Count = 99
    sustained_days: Count
    regime: RegimeDrift
    prediction: PredictionDrift

    @model_validator(mode="after")
    def _reachable(self) -> "Drift":
        if self.alpha * (self.blocks + 1) < 1:
            raise KeyProblem(
                "blocks", f"p-values are multiples of 1 / (blocks + 1), so alpha {self.alpha} is out of reach"
            )
        return self

    def record(self) -> DriftRules:
        return DriftRules(
            features=tuple(self.features),
            window=self.window,
            reference=self.reference,
            gap=self.gap,
            threshold=self.threshold,
            alpha=self.alpha,
            blocks=self.blocks,
            sustained_days=self.sustained_days,
            regime_window=self.regime.window,
            regime_reference=self.regime.reference,
            regime_alpha=self.regime.alpha,
            prediction_window=self.prediction.window,
            prediction_reference=self.prediction.reference,
        )


class WebhookEntry(_Section):
    """One webhook: ``url`` when the URL carries no credential, else ``url_env``, the
    environment variable holding it; ``headers_env`` names the variables of secret headers."""

    url: str | None = None
    url_env: EnvName | None = None
    format: Annotated[str, one_of(("json", "slack"))] = "json"
    headers: dict[str, str] = {}
    headers_env: dict[str, EnvName] = {}
    retries: int = Field(3, ge=0, le=10)
    backoff_seconds: float = Field(0.5, ge=0.0, le=60.0)
    timeout_seconds: float = Field(5.0, ge=0.1, le=120.0)

    @field_validator("url")
    @classmethod
    def _safe(cls, value: str) -> str:
        if problem := unsafe_target(value) or credential_in(value):  # the URL is a secret: its origin at most
            raise ValueError(f"{problem}: {redacted(value)}")
        return value

    @model_validator(mode="after")
    def _target(self, info: ValidationInfo) -> "WebhookEntry":
        if (self.url is None) == (self.url_env is None):
            raise KeyProblem("url", "give url, or url_env: the environment variable holding the URL")
        environ = _environ(info)
        for key, name in [("url_env", self.url_env), *((f"headers_env.{h}", n) for h, n in self.headers_env.items())]:
            if name is not None and not environ.get(name):
                raise KeyProblem(key, f"${name} is not set")
        if self.url_env is not None and (problem := unsafe_target(environ[self.url_env])):
            raise KeyProblem("url_env", f"${self.url_env}: {problem}: {redacted(environ[self.url_env])}")
        return self

    def record(self, environ: Mapping[str, str]) -> Webhook:
        return Webhook(
            url=self.url if self.url is not None else environ[str(self.url_env)],
            format=self.format,
            headers={**self.headers, **{header: environ[name] for header, name in self.headers_env.items()}},
            retries=self.retries,
            backoff_seconds=self.backoff_seconds,
            timeout_seconds=self.timeout_seconds,
        )


class SmtpEntry(_Section):
    """E-mail delivery; the login is read from the variables ``user_env`` and ``password_env``
    name, when a mail is sent (``notify.mail``)."""

    host: str
    port: Count = 587
    sender: str = Field("lakehouse@localhost", alias="from")
    to: list[str]
    starttls: bool = True
    user_env: EnvName | None = None
    password_env: EnvName | None = None

    def record(self) -> Smtp:
        return Smtp(self.host, self.port, self.sender, tuple(self.to), self.starttls, self.user_env, self.password_env)


class Alerts(_Section):
    dedupe_seconds: float = Field(3600.0, ge=0.0)
    dedupe_overrides: dict[str, Annotated[float, Field(ge=0.0)]] = {}
    ack_ttl_hours: float = Field(24.0, ge=0.0)
    min_severity: Annotated[str, one_of(SEVERITIES)] = "warning"
    webhooks: list[WebhookEntry] = []
    smtp: SmtpEntry | None = None

    def record(self, environ: Mapping[str, str]) -> AlertRules:
        hooks = [hook.record(environ) for hook in self.webhooks]
        if url := environ.get(WEBHOOK_ENV):  # its safety is checked with the environment (_environment_problems)
            hooks.append(Webhook(url=url))
        return AlertRules(
            dedupe_seconds=self.dedupe_seconds,
            dedupe_overrides=dict(self.dedupe_overrides),
            ack_ttl_hours=self.ack_ttl_hours,
            min_severity=self.min_severity,
            webhooks=tuple(hooks),
            smtp=self.smtp.record() if self.smtp else None,
        )


class Maintenance(_Section):
    retention_days: float = Field(7.0, ge=MIN_RETENTION_DAYS)  # readers of older versions need it
    small_file_mb: float = Field(8.0, gt=0.0)
    target_file_mb: float = Field(128.0, ge=1.0)

    @model_validator(mode="after")
    def _settings(self) -> "Maintenance":
        self.record()  # MaintenanceSettings checks how the sizes relate, naming its field
        return self

    def record(self) -> MaintenanceSettings:
        return MaintenanceSettings(
            retention_days=self.retention_days,
            small_file_bytes=int(self.small_file_mb * MIB),
            target_file_bytes=int(self.target_file_mb * MIB),
        )


class MonitoringFile(_Section):
    checks: Checks
    drift: Drift
    alerts: Alerts
    maintenance: Maintenance


# --- secrets --------------------------------------------------------------------------------

_SECRET_KEY = re.compile(
    r"password|passwd|secret|token|api[_-]?key|credential|private[_-]?key|^authorization$|^cookie$", re.I
)
_SECRET_VALUE = re.compile(r"^(bearer|basic)\s+\S|-----BEGIN [A-Z ]*PRIVATE KEY", re.I)
_CREDENTIAL_PARAMETER = re.compile(r"token|key|secret|sig|password|auth|code", re.I)
SECRET_HINT = (
    "looks like a secret, and configuration files hold none: put it in an environment variable "
    "and name the variable instead (url_env, headers_env, password_env)"
)


def credential_in(url: str) -> str | None:
    """Why ``url`` looks like it carries a credential (a webhook's token), or None.

    Slack's ``/services/T…/B…/<token>``, Teams' GUIDs and ``?token=`` are the secret of a
    webhook; such a URL belongs in an environment variable (``url_env``), not in a file.

    Examples
    --------
    >>> credential_in("http://127.0.0.1:8080/hook") is None
    True
    >>> credential_in("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX1234")
    'a token-like path segment'
    >>> credential_in("https://relay.example.com/alert?api_key=x")
    "a credential query parameter 'api_key'"
    """
    parts = urllib.parse.urlsplit(url)
    for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if _CREDENTIAL_PARAMETER.search(name):
            return f"a credential query parameter {name!r}"
    for segment in parts.path.split("/"):
        if len(segment) >= 16 and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment):
            return "a token-like path segment"
    return None


def _secrets(data: object, where: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where ``data`` holds a secret: a key named like one, or a value shaped like one.
    Keys ending in ``_env``, and mappings under them, hold variable names, not secrets."""
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).endswith("_env"):
                continue
            if _SECRET_KEY.search(str(key)) and value not in (None, "", [], {}):
                yield (*where, str(key))
            else:
                yield from _secrets(value, (*where, str(key)))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _secrets(item, (*where, i))
    elif isinstance(data, str) and _SECRET_VALUE.search(data):
        yield where


# --- reading and reporting ----------------------------------------------------------------

FILES: dict[str, type[_Section]] = {
    "exchange.yaml": ExchangeFile,
    "universe.yaml": UniverseFile,
    "sources.yaml": SourcesFile,
    "regimes.yaml": RegimesFile,
    "forecasting.yaml": ForecastingFile,
    "registry.yaml": RegistryFile,
    "sectors.yaml": SectorsFile,
    "strategies.yaml": StrategiesFile,
    "trading_config.yaml": TradingFile,
    "monitoring.yaml": MonitoringFile,
}
"""Every file of a configuration directory and its model."""


def _environ(info: ValidationInfo) -> Mapping[str, str]:
    return (info.context or {}).get("environ", {})


M = TypeVar("M", bound=_Section)


def read_file(directory: Path, name: str, model: type[M], context: dict[str, Any] | None = None) -> M:
    """``directory/name`` validated by ``model``; every problem of the file is a line of the ConfigError."""
    path = directory / name
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    secrets = list(_secrets(data))
    problems = [(where, SECRET_HINT) for where in secrets]
    try:
        validated = model.model_validate(data, context=context)
    except ValidationError as exc:
        found = [
            (where, message)
            for where, message in _problems(model, exc)
            if not any(where[: len(s)] == s for s in secrets)  # said once, as a secret
        ]
        problems += found
    if problems:
        raise ConfigError("\n".join(f"{path}: {_path(where)}: {message}" for where, message in problems))
    return validated


def _problems(model: type[_Section], exc: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    """(key path, message) of each error, in the house's words. A misspelt key is one problem,
    not also a missing one: the key it was meant to be is not reported as missing."""
    said: list[tuple[tuple[str | int, ...], str]] = []
    meant: set[tuple[str | int, ...]] = set()
    for error in exc.errors(include_url=False):
        where = tuple(part for part in error["loc"] if part != "[key]")  # a dict key's own error names the key
        if error["type"] == "extra_forbidden":
            message, suggested = _unknown(_section_at(model, where[:-1]), str(where[-1]))
            if suggested:
                meant.add((*where[:-1], suggested))
        else:
            problem = (error.get("ctx") or {}).get("error")
            if isinstance(problem, KeyProblem):
                where = (*where, *problem.key.split("."))
            message = _message(error)
        said.append((where, message))
    return [(where, message) for where, message in said if not (where in meant and message == _MISSING)]


_MISSING = "required key is missing"
_EXPECTED = {
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "string_type": "text",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "date_type": "a date YYYY-MM-DD",
    "date_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_inexact": "a date YYYY-MM-DD",
}
_BOUNDS = {"greater_than_equal": ("ge", ">="), "greater_than": ("gt", ">"), "less_than_equal": ("le", "<=")}


def _message(error: Any) -> str:
    kind, ctx, given = error["type"], error.get("ctx") or {}, _shown(error.get("input"))
    if kind == "missing":
        return _MISSING
    if kind in ("value_error", "assertion_error"):
        return str(ctx["error"])
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {given}"
    if kind in _BOUNDS:
        bound, sign = _BOUNDS[kind]
        return f"must be {sign} {ctx[bound]}, got {given}"
    if kind == "too_short":
        return f"expected at least {ctx['min_length']} item(s), got {given}"
    return f"{error['msg']}, got {given}"


def _shown(value: object, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _unknown(section: type[_Section] | None, key: str) -> tuple[str, str | None]:
    """The message for an unknown key, and the known key it was probably meant to be."""
    if section is None:
        return "unknown key", None
    if key in section.retired:
        replacement, message = section.retired[key]
        return message, replacement
    known = sorted(info.alias or name for name, info in section.model_fields.items())
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"unknown key; did you mean {close[0]!r}?", close[0]
    return f"unknown key; known keys: {', '.join(known)}", None


def _section_at(model: type[_Section], where: tuple[str | int, ...]) -> type[_Section] | None:
    """The model of the mapping at ``where`` (keys and list indexes from the file's top)."""
    current: Any = model
    for part in where:
        current = _unwrapped(current)
        if isinstance(current, type) and issubclass(current, _Section):
            fields = {info.alias or name: info for name, info in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[str(part)].annotation
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return None
    current = _unwrapped(current)
    return current if isinstance(current, type) and issubclass(current, _Section) else None


def _unwrapped(annotation: Any) -> Any:
    """``X`` of ``Annotated[X, ...]`` and of ``X | None``."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, types.UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _path(where: tuple[str | int, ...]) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _environment_problems(environ: Mapping[str, str]) -> list[str]:
    """The variables that take part in the configuration, checked as the files are (never echoing a secret)."""
    problems = []
    if (address := environ.get(SCHEDULER_ENV)) and not SCHEDULER_ADDRESS.match(address):
        problems.append(f"${SCHEDULER_ENV}: {_ADDRESS_EXPECTED}, got {address!r}")
    if (url := environ.get(WEBHOOK_ENV)) and (problem := unsafe_target(url)):
        problems.append(f"${WEBHOOK_ENV}: {problem}: {redacted(url)}")
    return problems


def load_config(directory: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate every file of the configuration directory (default
    :func:`default_config_dir`) with the variables of ``environ`` (default the process's)."""
    path = Path(directory if directory is not None else default_config_dir()).resolve()
    if not path.is_dir():
        raise ConfigError(f"{path}: configuration directory not found")
    environ = os.environ if environ is None else environ
    problems = _environment_problems(environ)

    def read(name: str, model: type[M], **context: Any) -> M | None:
        try:
            return read_file(path, name, model, {"environ": environ, **context})
        except ConfigError as exc:
            problems.append(str(exc))
            return None

    exchange, universe = read("exchange.yaml", ExchangeFile), read("universe.yaml", UniverseFile)
    sources, regimes = read("sources.yaml", SourcesFile), read("regimes.yaml", RegimesFile)
    forecasting = read("forecasting.yaml", ForecastingFile)
    models = forecasting.record().models if forecasting else None
    registry = read("registry.yaml", RegistryFile, models=models)
    sectors, strategies = read("sectors.yaml", SectorsFile), read("strategies.yaml", StrategiesFile)
    trading, monitoring = read("trading_config.yaml", TradingFile), read("monitoring.yaml", MonitoringFile)
    if problems:
        raise ConfigError("\n".join(problems))
    assert exchange and universe and sources and regimes and forecasting and registry  # every file read (no problem)
    assert sectors and strategies and trading and monitoring
    return Config(
        directory=path,
        exchange=exchange.record(),
        universe=universe.record(),
        sources=sources.record(),
        regimes=regimes.record(),
        forecasting=forecasting.record(),
        score_window=forecasting.scores.window,
        forecast_pool=forecasting.pool_settings(environ),
        gate=registry.record(),
        sectors=sectors.record(),
        strategies=strategies.record(),
        variance=trading.record(),
        checks=monitoring.checks.record(),
        alerts=monitoring.alerts.record(environ),
        drift=monitoring.drift.record(),
        maintenance=monitoring.maintenance.record(),
    )


def _sectors(directory: Path) -> SectorMap:
    """``directory/sectors.yaml`` alone (as ``lakehouse simulate`` writes one)."""
    return read_file(directory, "sectors.yaml", SectorsFile).record()
