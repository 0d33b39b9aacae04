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
  so a value depends on the whole history before it. Callers pass each symbol's history
  from its first bar (the ``features`` asset does), which makes a day's features the same
  whether it is computed alone or inside a backfill.
* Undefined values (a zero denominator, the log of zero) are null; no NaN or infinity
  leaves this module.
"""

from __future__ import annotations

import math

import polars as pl

from lakehouse_assets.core.sentiment import STUB

TRADING_DAYS_PER_YEAR = 252
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

close, high, low, volume = pl.col("close"), pl.col("high"), pl.col("low"), pl.col("volume")
log_return = pl.col("log_return")


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


def rsi(n: int = 14) -> pl.Expr:
    """Wilder's relative strength index in [0, 100].

    Gains and losses are the positive and negative close-to-close changes; their Wilder
    averages start with the mean of the first ``n`` changes. ``RSI = 100 * G / (G + L)``,
    which equals ``100 - 100 / (1 + G / L)`` and is 100 when there was no loss; null when
    the price did not move at all over the warm-up.
    """
    change = close.diff()
    gain = wilder(change.clip(lower_bound=0.0), n, first=n)
    loss = wilder((-change).clip(lower_bound=0.0), n, first=n)
    return _ratio(100.0 * gain, gain + loss)


def adx(n: int = 14) -> pl.Expr:
    """Wilder's average directional index in [0, 100] (trend strength, not direction).

    True range ``max(H - L, |H - C_prev|, |L - C_prev|)``; ``+DM = H - H_prev`` when it
    exceeds ``L_prev - L`` and is positive (else 0), ``-DM`` symmetrically. TR, +DM and
    -DM are Wilder-smoothed from bar 1 (seed at bar ``n``), ``DI = 100 * DM / TR``,
    ``DX = 100 * |+DI - -DI| / (+DI + -DI)``, and ADX is DX Wilder-smoothed again, seeded
    at bar ``2n - 1`` with the mean of the first ``n`` DX values.
    """
    prev_close = close.shift(1)
    up, down = high - high.shift(1), low.shift(1) - low
    plus_dm = pl.when((up > down) & (up > 0)).then(up).otherwise(0.0)
    minus_dm = pl.when((down > up) & (down > 0)).then(down).otherwise(0.0)
    true_range = pl.max_horizontal(high - low, (high - prev_close).abs(), (low - prev_close).abs())
    atr = wilder(true_range, n, first=n)
    plus_di = 100.0 * wilder(plus_dm, n, first=n) / atr
    minus_di = 100.0 * wilder(minus_dm, n, first=n) / atr
    dx = _ratio(100.0 * (plus_di - minus_di).abs(), plus_di + minus_di)
    return wilder(dx, n, first=2 * n - 1)


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


def hurst(window: int = HURST_WINDOW, lags: tuple[int, ...] = HURST_LAGS) -> pl.Expr:
    """Rolling Hurst exponent from the scaling of lagged differences of log prices.

    Over the last ``window`` log closes, ``sigma(lag)`` is the sample standard deviation
    of ``log p_t - log p_{t-lag}`` over every pair inside the window, for lags 2..20; the
    estimate is the OLS slope of ``log sigma(lag)`` on ``log lag`` (sigma grows like
    ``lag^H``). About 0.5 for a random walk, above for trending, below for mean-reverting
    prices. Null when some ``sigma`` is zero (a flat price).
    """
    log_close = close.log()
    total: pl.Expr | None = None
    for lag, weight in zip(lags, hurst_weights(lags), strict=True):
        sigma = (log_close - log_close.shift(lag)).rolling_std(window - lag)
        term = weight * pl.when(sigma > 0).then(sigma.log())
        total = term if total is None else total + term
    assert total is not None
    return total


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


def indicator_expressions() -> dict[str, pl.Expr]:
    """Every feature column (sentiment aside) as an expression over one symbol's bars."""
    return {
        "sma_20": sma(20),
        "sma_50": sma(50),
        "ema_50": ema(50),
        "rsi_14": rsi(14),
        "vwap_20": vwap(20),
        "bollinger_position": bollinger_position(20),
        "momentum_20": momentum(20),
        "volatility_ratio": volatility_ratio(10, 63),
        "adx_14": adx(14),
        "hurst_100": hurst(),
        **{f"variance_ratio_{q}": variance_ratio(q) for q in VARIANCE_RATIO_PERIODS},
        "volume_ma_ratio": volume_ma_ratio(20),
        "realized_vol_21": realized_vol(21),
        "drawdown_252": drawdown(252),
    }


def bar_number() -> pl.Expr:
    """Each bar's 0-based position in its symbol's history, on a frame sorted by symbol and
    date (as :func:`compute_features` returns it); compare with :data:`WARM_UP`."""
    return pl.int_range(pl.len()).over("symbol").alias("bar")


def compute_features(bars: pl.DataFrame, sentiment: pl.DataFrame | None = None) -> pl.DataFrame:
    """Feature rows for every bar of ``bars`` (any number of symbols).

    Args:
        bars: ``ohlcv_daily`` rows (``BAR_COLUMNS``); each symbol's history should start
            at its first bar, since the recursive indicators start there.
        sentiment: ``sentiment_daily`` rows (symbol, date, score, confidence, source).
            Stub rows (nothing was landed) give null sentiment, not a neutral score.

    Returns:
        One row per bar with the columns of :data:`SCHEMA`, sorted by symbol and date.
    """
    ordered = bars.select(BAR_COLUMNS).sort("symbol", "date")
    indicators = [
        pl.when(expr.is_finite()).then(expr).over("symbol").alias(name)
        for name, expr in indicator_expressions().items()
    ]
    frame = ordered.with_columns(indicators)
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
