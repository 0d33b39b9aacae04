"""Technical features of daily bars, vectorized over all symbols at once.

Every indicator is a polars expression evaluated per symbol (``over("symbol")``) on bars
sorted by symbol and date, and uses only the bar of its row and earlier bars: nothing
here looks ahead. Forward targets (returns over the next h days) are deliberately not
features; they belong to evaluation once the horizon has passed.

Conventions, shared by every column:

* Prices are in the bar's currency; returns are *log* returns (``ohlcv_daily.log_return``,
  the previous session's close to this close); ratios are plain fractions (0.05 = 5%).
* Rolling windows count bars (sessions with a bar), include the current bar, and need a
  full window: warm-up rows are null, never padded or back-filled.
* Standard deviations are sample standard deviations (``ddof=1``).
* The recursive indicators (EMA, Wilder's RSI and ADX) start at the first bar handed in,
  so in principle a value depends on the whole history before it; in practice the start
  fades geometrically. A day computed from its last :data:`LOOKBACK_BARS` bars (or from
  the symbol's first bar, when it has fewer) equals the day inside a backfill from the
  first bar to 1e-9 (relative), which is what lets a daily run read a bounded window.
* Undefined values (a zero denominator, the log of zero) are null; no NaN or infinity
  leaves this module.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl

from lakehouse_assets.core.sentiment import STUB

TRADING_DAYS_PER_YEAR = 252
EMA_SPAN = 50
WILDER_PERIOD = 14
DRAWDOWN_WINDOW = 252
HURST_WINDOW = 100
HURST_LAGS = tuple(range(2, 21))
VARIANCE_RATIO_WINDOW = 100
VARIANCE_RATIO_PERIODS = (2, 5, 10)

BAR_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume", "log_return")
FEATURE_COLUMNS = (
    "sma_20",
    "sma_50",
    "ema_50",
    "rsi_14",
    "vwap_20",
    "bollinger_position",
    "momentum_20",
    "volatility_ratio",
    "adx_14",
    "hurst_100",
    *(f"variance_ratio_{q}" for q in VARIANCE_RATIO_PERIODS),
    "volume_ma_ratio",
    "realized_vol_21",
    "drawdown_252",
)
WARM_UP: dict[str, int] = {"sma_20": 19, "sma_50": 49, "ema_50": 49, "momentum_20": 20, "drawdown_252": 251}
"""The features computed from closes alone, with the number of bars before their first
value (0-based index of a symbol's first non-null row). From there on they are null only
if a close is missing or not finite, which validation forbids: the ``features`` asset's
``feature_bounds`` check fails on such a null (the other features may be null for good
reasons: no volume, a flat price, a missing session's return)."""
SENTIMENT_COLUMNS = ("sentiment_score", "sentiment_confidence")
SCHEMA: dict[str, pl.DataType] = {
    "symbol": pl.String(),
    "date": pl.Date(),
    "close": pl.Float64(),
    **{name: pl.Float64() for name in FEATURE_COLUMNS + SENTIMENT_COLUMNS},
}

TRUNCATION_TOLERANCE = 1e-12
"""How much of a difference in where a recursive indicator started may be left on a day:
1000 times below the 1e-9 (relative) promise of :data:`LOOKBACK_BARS`, which leaves room
for a start difference up to 1000 times the day's value (an EMA seeded at a price 1000
times today's, RSI averages seeded in a far more volatile quarter, a small ADX)."""


def fading_bars(alpha: float, stages: int = 1, tolerance: float = TRUNCATION_TOLERANCE) -> int:
    """Bars after which a chain of exponential smoothers has forgotten where it started.

    One smoother ``s_t = (1 - alpha) s_{t-1} + alpha x_t`` started from two different
    values still carries their difference times ``(1 - alpha)^k`` after ``k`` bars; a chain
    of ``stages`` smoothers (ADX: Wilder averages of TR and DM, then of DX) carries about
    ``k^(stages - 1) (1 - alpha)^k`` of it. Returns the least ``k`` that brings this factor
    down to ``tolerance``.

    >>> fading_bars(2 / 51)  # EMA(50)
    691
    >>> fading_bars(1 / 14), fading_bars(1 / 14, stages=2)  # Wilder(14): RSI, ADX
    (373, 456)
    """
    k = 1
    while k ** (stages - 1) * (1.0 - alpha) ** k > tolerance:
        k += 1
    return k


RECURSIVE_COLUMNS = ("ema_50", "rsi_14", "adx_14")
ROLLING_LOOKBACK = DRAWDOWN_WINDOW - 1
"""Bars before a day that the other (rolling-window) features see: 251, for drawdown_252
(Hurst and the variance ratios: 99, volatility_ratio: 62, the rest: 20 or fewer)."""

LOOKBACK_BARS = max(
    EMA_SPAN - 1 + fading_bars(2.0 / (EMA_SPAN + 1)),  # EMA: values from bar n - 1
    WILDER_PERIOD + fading_bars(1.0 / WILDER_PERIOD),  # RSI: seeded at bar n
    2 * WILDER_PERIOD - 1 + fading_bars(1.0 / WILDER_PERIOD, stages=2),  # ADX: seeded at bar 2n - 1
    ROLLING_LOOKBACK,
)
"""Bars before a day that its features depend on: 740, set by EMA(50).

Computed from a symbol's last ``LOOKBACK_BARS`` bars before the day (or from its first bar
when it has fewer), a day's features equal those of a backfill from the first bar to 1e-9
relative: the rolling windows see the same bars, and the recursive indicators' start has
faded by :data:`TRUNCATION_TOLERANCE` (:func:`fading_bars`). Measured on the bundled S&P
500 and Nasdaq and on simulated symbols, the largest relative difference at 740 bars is
about 1e-13 for the EMA and 1e-14 for RSI and ADX. What else differs is the last bits of
the rolling sums, which depend on where a window started to slide: about 1e-14 absolute,
so relatively more only where a value is near 0 (``bollinger_position``: 5e-11 at 2e-4).
A daily run reads this many sessions before its range (:func:`short_of_history` says
which symbols need more)."""

close, high, low, volume = pl.col("close"), pl.col("high"), pl.col("low"), pl.col("volume")
log_return = pl.col("log_return")

Stages = list[dict[str, pl.Expr]]
"""Named expressions in steps: an expression may use the columns of earlier steps. Names
starting with ``_`` are intermediate columns, dropped at the end. Staging a recursive
chain (ADX: TR and DM, their Wilder averages, DX, its Wilder average) evaluates each link
once instead of once per use, with the same result to the bit."""


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator``, null where the denominator is zero or null."""
    return pl.when(denominator != 0).then(numerator / denominator)


def _row_number() -> pl.Expr:
    return pl.int_range(pl.len())


def wilder(values: pl.Expr, n: int, first: int) -> pl.Expr:
    """Wilder's smoothing: ``s_t = s_{t-1} + (x_t - s_{t-1}) / n``.

    Seeded at row ``first`` with the simple mean of the ``n`` values ending there (the
    textbook start); rows before ``first`` are null.
    """
    row = _row_number()
    seeded = pl.when(row < first).then(None).when(row == first).then(values.rolling_mean(n)).otherwise(values)
    return seeded.ewm_mean(alpha=1.0 / n, adjust=False)


def sma(n: int) -> pl.Expr:
    """Simple moving average of the close over ``n`` bars."""
    return close.rolling_mean(n)


def ema(n: int) -> pl.Expr:
    """Exponential moving average of the close, ``alpha = 2 / (n + 1)``.

    ``e_t = alpha * close_t + (1 - alpha) * e_{t-1}``, seeded with the first close; the
    first ``n - 1`` rows are warm-up (null).
    """
    return close.ewm_mean(span=n, adjust=False, min_samples=n)


def rsi(n: int = 14) -> Stages:
    """Wilder's relative strength index in [0, 100], column ``rsi_{n}``.

    Gains and losses are the positive and negative close-to-close changes; their Wilder
    averages start with the mean of the first ``n`` changes. ``RSI = 100 * G / (G + L)``,
    which equals ``100 - 100 / (1 + G / L)`` and is 100 when there was no loss; null when
    the price did not move at all over the warm-up.
    """
    change, gain, loss = (f"_rsi_{n}_{part}" for part in ("change", "gain", "loss"))
    return [
        {change: close.diff()},
        {
            gain: wilder(pl.col(change).clip(lower_bound=0.0), n, first=n),
            loss: wilder((-pl.col(change)).clip(lower_bound=0.0), n, first=n),
        },
        {f"rsi_{n}": _ratio(100.0 * pl.col(gain), pl.col(gain) + pl.col(loss))},
    ]


def adx(n: int = 14) -> Stages:
    """Wilder's average directional index in [0, 100] (trend strength, not direction), column ``adx_{n}``.

    True range ``max(H - L, |H - C_prev|, |L - C_prev|)``; ``+DM = H - H_prev`` when it
    exceeds ``L_prev - L`` and is positive (else 0), ``-DM`` symmetrically. TR, +DM and
    -DM are Wilder-smoothed from bar 1 (seed at bar ``n``), ``DI = 100 * DM / TR``,
    ``DX = 100 * |+DI - -DI| / (+DI + -DI)``, and ADX is DX Wilder-smoothed again, seeded
    at bar ``2n - 1`` with the mean of the first ``n`` DX values.
    """
    tr, plus, minus, atr, plus_avg, minus_avg, dx = (
        f"_adx_{n}_{part}" for part in ("tr", "plus_dm", "minus_dm", "atr", "plus_avg", "minus_avg", "dx")
    )
    prev_close = close.shift(1)
    up, down = high - high.shift(1), low.shift(1) - low
    plus_di = 100.0 * pl.col(plus_avg) / pl.col(atr)
    minus_di = 100.0 * pl.col(minus_avg) / pl.col(atr)
    return [
        {
            tr: pl.max_horizontal(high - low, (high - prev_close).abs(), (low - prev_close).abs()),
            plus: pl.when((up > down) & (up > 0)).then(up).otherwise(0.0),
            minus: pl.when((down > up) & (down > 0)).then(down).otherwise(0.0),
        },
        {
            atr: wilder(pl.col(tr), n, first=n),
            plus_avg: wilder(pl.col(plus), n, first=n),
            minus_avg: wilder(pl.col(minus), n, first=n),
        },
        {dx: _ratio(100.0 * (plus_di - minus_di).abs(), plus_di + minus_di)},
        {f"adx_{n}": wilder(pl.col(dx), n, first=2 * n - 1)},
    ]


def vwap(n: int = 20) -> pl.Expr:
    """Rolling volume-weighted typical price ``sum(tp * v) / sum(v)``, ``tp = (H + L + C) / 3``.

    Null when the window traded no volume.
    """
    typical = (high + low + close) / 3.0
    return _ratio((typical * volume).rolling_sum(n), volume.rolling_sum(n))


def bollinger_position(n: int = 20) -> pl.Expr:
    """``(close - SMA_n) / (2 * std_n)`` of the close: 0 at the middle band, +-1 at the bands."""
    return _ratio(close - close.rolling_mean(n), 2.0 * close.rolling_std(n))


def momentum(n: int = 20) -> pl.Expr:
    """``close / close n bars ago - 1``."""
    return close / close.shift(n) - 1.0


def volatility_ratio(short: int = 10, long: int = 63) -> pl.Expr:
    """``std_short / std_long`` of daily log returns (> 1: volatility is rising).

    The original system took the standard deviations of *prices*, which mixes the trend
    and the price level into the ratio; returns measure volatility itself.
    """
    return _ratio(log_return.rolling_std(short), log_return.rolling_std(long))


def realized_vol(n: int = 21) -> pl.Expr:
    """Annualized realized volatility: ``std_n(log return) * sqrt(252)``."""
    return log_return.rolling_std(n) * math.sqrt(TRADING_DAYS_PER_YEAR)


def drawdown(n: int = 252) -> pl.Expr:
    """``close / max(close over the last n bars) - 1``: 0 at a high, -0.2 is 20% below it."""
    return close / close.rolling_max(n) - 1.0


def volume_ma_ratio(n: int = 20) -> pl.Expr:
    """``volume / mean volume over n bars``; null when either is missing or the mean is 0."""
    return _ratio(volume, volume.rolling_mean(n))


def hurst_weights(lags: tuple[int, ...] = HURST_LAGS) -> list[float]:
    """OLS weights that turn ``log sigma(lag)`` into the slope on ``log lag``."""
    x = [math.log(lag) for lag in lags]
    mean = sum(x) / len(x)
    sxx = sum((v - mean) ** 2 for v in x)
    return [(v - mean) / sxx for v in x]


def hurst(window: int = HURST_WINDOW, lags: tuple[int, ...] = HURST_LAGS) -> Stages:
    """Rolling Hurst exponent from the scaling of lagged differences of log prices, column ``hurst_{window}``.

    Over the last ``window`` log closes, ``sigma(lag)`` is the sample standard deviation
    of ``log p_t - log p_{t-lag}`` over every pair inside the window, for lags 2..20; the
    estimate is the OLS slope of ``log sigma(lag)`` on ``log lag`` (sigma grows like
    ``lag^H``). About 0.5 for a random walk, above for trending, below for mean-reverting
    prices. Null when some ``sigma`` is zero (a flat price).
    """
    log_close = f"_hurst_{window}_log_close"
    sigmas = {f"_hurst_{window}_sigma_{lag}": lag for lag in lags}
    total: pl.Expr | None = None
    for name, weight in zip(sigmas, hurst_weights(lags), strict=True):
        sigma = pl.col(name)
        term = weight * pl.when(sigma > 0).then(sigma.log())
        total = term if total is None else total + term
    assert total is not None
    lagged = {
        name: (pl.col(log_close) - pl.col(log_close).shift(lag)).rolling_std(window - lag)
        for name, lag in sigmas.items()
    }
    return [{log_close: close.log()}, lagged, {f"hurst_{window}": total}]


def variance_ratio(q: int, window: int = VARIANCE_RATIO_WINDOW) -> pl.Expr:
    """Lo-MacKinlay variance ratio VR(q) over the last ``window`` daily log returns.

    With ``T = window`` returns of mean ``mu``: ``sigma_a^2`` is their sample variance and
    ``sigma_c^2 = sum_k (R_k - q mu)^2 / m`` over the ``T - q + 1`` overlapping q-day
    returns ``R_k`` inside the window, ``m = q (T - q + 1) (1 - q / T)`` (the unbiased
    overlapping estimator of Lo and MacKinlay, 1988). ``VR = sigma_c^2 / sigma_a^2`` is
    1 for a random walk, above 1 for trending and below 1 for mean-reverting returns.
    """
    count = window - q + 1
    mu = log_return.rolling_mean(window)
    q_day = log_return.rolling_sum(q)
    # sum (R - q mu)^2 = (n - 1) var(R) + n (mean(R) - q mu)^2, without cancellation
    squares = (count - 1) * q_day.rolling_var(count) + count * (q_day.rolling_mean(count) - q * mu) ** 2
    m = q * count * (1.0 - q / window)
    return _ratio(squares / m, log_return.rolling_var(window))


def _merge(*chains: Stages) -> Stages:
    """Steps of several indicators run side by side: step i of each in step i."""
    return [
        {k: v for chain in chains if i < len(chain) for k, v in chain[i].items()} for i in range(max(map(len, chains)))
    ]


def recursive_stages() -> Stages:
    """The indicators that depend on every bar before them: EMA, RSI, ADX (:data:`RECURSIVE_COLUMNS`)."""
    return _merge([{"ema_50": ema(EMA_SPAN)}], rsi(WILDER_PERIOD), adx(WILDER_PERIOD))


def rolling_stages() -> Stages:
    """The indicators that see their last :data:`ROLLING_LOOKBACK` bars at most (the others)."""
    single = {
        "sma_20": sma(20),
        "sma_50": sma(50),
        "vwap_20": vwap(20),
        "bollinger_position": bollinger_position(20),
        "momentum_20": momentum(20),
        "volatility_ratio": volatility_ratio(10, 63),
        **{f"variance_ratio_{q}": variance_ratio(q) for q in VARIANCE_RATIO_PERIODS},
        "volume_ma_ratio": volume_ma_ratio(20),
        "realized_vol_21": realized_vol(21),
        "drawdown_252": drawdown(DRAWDOWN_WINDOW),
    }
    return _merge([single], hurst())


def indicator_stages() -> Stages:
    """Every feature column (sentiment aside) as expressions over one symbol's bars, in steps."""
    return _merge(recursive_stages(), rolling_stages())


def _evaluate(bars: pl.DataFrame, stages: Stages) -> pl.DataFrame:
    """``bars`` (sorted by symbol and date) with the stages' columns, per symbol; non-finite values null."""
    for step in stages:
        bars = bars.with_columns(expr.over("symbol").alias(name) for name, expr in step.items())
    made = [c for c in FEATURE_COLUMNS if c in bars.columns]
    return bars.with_columns(pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c) for c in made)


def short_of_history(rows: pl.DataFrame, start: dt.date, needed: int) -> list[str]:
    """Symbols with a row from ``start`` on but fewer than ``needed`` rows before ``start``.

    A caller that read a bounded window of history (``needed`` sessions before ``start``)
    reads these symbols' earlier rows too: a symbol that started inside the window has
    none, but one with gaps in the window may have, and its values depend on them.

    >>> days = [dt.date(2024, 1, d) for d in (2, 3, 4, 5, 4, 5, 2)]
    >>> rows = pl.DataFrame({"symbol": ["A", "A", "A", "A", "B", "B", "C"], "date": days})
    >>> short_of_history(rows, dt.date(2024, 1, 4), 2)  # C has no row from the 4th on
    ['B']
    """
    before = pl.col("date") < start
    counts = rows.group_by("symbol").agg(before.sum().alias("before"), (~before).any().alias("in_range"))
    return sorted(counts.filter(pl.col("in_range") & (pl.col("before") < needed))["symbol"].to_list())


def bar_number() -> pl.Expr:
    """Each bar's 0-based position in its symbol's history, on a frame sorted by symbol and
    date (as :func:`compute_features` returns it); compare with :data:`WARM_UP`."""
    return pl.int_range(pl.len()).over("symbol").alias("bar")


def compute_features(
    bars: pl.DataFrame, sentiment: pl.DataFrame | None = None, *, since: dt.date | None = None
) -> pl.DataFrame:
    """Feature rows for every bar of ``bars`` (any number of symbols), or from ``since`` on.

    Args:
        bars: ``ohlcv_daily`` rows (``BAR_COLUMNS``); each symbol's history from its
            first bar, or at least its last :data:`LOOKBACK_BARS` bars before the first
            day whose features are wanted (the recursive indicators start at the first
            bar handed in).
        sentiment: ``sentiment_daily`` rows (symbol, date, score, confidence, source).
            Stub rows (nothing was landed) give null sentiment, not a neutral score.
        since: bars before this date are history only: they are not returned, and the
            rolling indicators slide over just the last :data:`ROLLING_LOOKBACK` of them
            (which is what a rolling window sees; the result equals the full evaluation
            to the last bits of the rolling sums).

    Returns:
        One row per bar (from ``since``) with the columns of :data:`SCHEMA`, sorted by
        symbol and date.
    """
    ordered = bars.select(BAR_COLUMNS).sort("symbol", "date")
    if since is None:
        frame = _evaluate(ordered, indicator_stages())
    else:
        wanted = pl.col("date") >= since
        recursive = _evaluate(ordered, recursive_stages()).filter(wanted).select(RECURSIVE_COLUMNS)
        before = (~wanted).sum().cast(pl.Int64).over("symbol")  # bars before since, the first rows of each symbol
        recent = ordered.filter(pl.int_range(pl.len()).over("symbol") >= before - ROLLING_LOOKBACK)
        frame = _evaluate(recent, rolling_stages()).filter(wanted).hstack(recursive.get_columns())
    if sentiment is None or sentiment.is_empty():
        frame = frame.with_columns(pl.lit(None, pl.Float64).alias(c) for c in SENTIMENT_COLUMNS)
    else:
        real = pl.col("source") != STUB
        scores = sentiment.select(
            "symbol",
            "date",
            pl.when(real).then(pl.col("score")).alias("sentiment_score"),
            pl.when(real).then(pl.col("confidence")).alias("sentiment_confidence"),
        )
        frame = frame.join(scores, on=["symbol", "date"], how="left")
    return frame.select(list(SCHEMA)).cast(SCHEMA)  # type: ignore[arg-type]
