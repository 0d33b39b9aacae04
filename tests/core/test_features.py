"""Every indicator against an explicit-loop oracle on the bundled real S&P 500 history.

The oracles walk the days one by one with the textbook definitions (Wilder's running
sums, Lo-MacKinlay's overlapping estimator, ...) and share no code with the vectorized
polars expressions they check.
"""

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse_assets.core import features as F
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.core.simulate import MarketModel, simulate_universe, standardize
from tests.conftest import bundled_bars

RTOL = 1e-9


def rolling(values: list[float], n: int, fn) -> list[float | None]:  # type: ignore[no-untyped-def]
    """``fn`` of each full window of ``n`` values ending at every row (None before)."""
    out: list[float | None] = [None] * len(values)
    for i in range(n - 1, len(values)):
        window = values[i - n + 1 : i + 1]
        out[i] = None if any(v is None for v in window) else fn(window)
    return out


def mean(w: list[float]) -> float:
    return sum(w) / len(w)


def sample_std(w: list[float]) -> float:
    m = mean(w)
    return math.sqrt(sum((v - m) ** 2 for v in w) / (len(w) - 1))


def ema_loop(close: list[float], n: int) -> list[float | None]:
    alpha, out, value = 2.0 / (n + 1), [], close[0]
    for i, c in enumerate(close):
        value = c if i == 0 else alpha * c + (1 - alpha) * value
        out.append(value if i >= n - 1 else None)
    return out


def wilder_loop(values: list[float], n: int, first: int) -> list[float | None]:
    """Wilder's average: mean of the first n values ending at ``first``, then (prev*(n-1)+x)/n."""
    out: list[float | None] = [None] * len(values)
    avg = sum(values[first - n + 1 : first + 1]) / n
    out[first] = avg
    for i in range(first + 1, len(values)):
        avg = (avg * (n - 1) + values[i]) / n
        out[i] = avg
    return out


def rsi_loop(close: list[float], n: int = 14) -> list[float | None]:
    gains = [0.0] + [max(close[i] - close[i - 1], 0.0) for i in range(1, len(close))]
    losses = [0.0] + [max(close[i - 1] - close[i], 0.0) for i in range(1, len(close))]
    g, lo = wilder_loop(gains, n, n), wilder_loop(losses, n, n)
    out: list[float | None] = []
    for a, b in zip(g, lo, strict=True):
        if a is None or b is None:
            out.append(None)
        else:
            out.append(100.0 if b == 0 else 100.0 - 100.0 / (1.0 + a / b))
    return out


def adx_loop(high: list[float], low: list[float], close: list[float], n: int = 14) -> list[float | None]:
    """Wilder's ADX with his running *sums* (TR14 = TR14 - TR14/14 + TR)."""
    size = len(close)
    tr, pdm, mdm = [0.0] * size, [0.0] * size, [0.0] * size
    for i in range(1, size):
        tr[i] = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        up, down = high[i] - high[i - 1], low[i - 1] - low[i]
        pdm[i] = up if up > down and up > 0 else 0.0
        mdm[i] = down if down > up and down > 0 else 0.0
    dx: list[float | None] = [None] * size
    tr_s, p_s, m_s = sum(tr[1 : n + 1]), sum(pdm[1 : n + 1]), sum(mdm[1 : n + 1])
    for i in range(n, size):
        if i > n:
            tr_s, p_s, m_s = tr_s - tr_s / n + tr[i], p_s - p_s / n + pdm[i], m_s - m_s / n + mdm[i]
        pdi, mdi = 100 * p_s / tr_s, 100 * m_s / tr_s
        dx[i] = 100 * abs(pdi - mdi) / (pdi + mdi)
    out: list[float | None] = [None] * size
    first = 2 * n - 1
    value = sum(dx[n : first + 1]) / n  # type: ignore[arg-type]
    out[first] = value
    for i in range(first + 1, size):
        value = (value * (n - 1) + dx[i]) / n  # type: ignore[operator]
        out[i] = value
    return out


def hurst_loop(close: list[float], window: int = 100) -> list[float | None]:
    lags = list(range(2, 21))
    x = [math.log(lag) for lag in lags]
    xm = mean(x)
    out: list[float | None] = [None] * len(close)
    for i in range(window - 1, len(close)):
        logs = [math.log(c) for c in close[i - window + 1 : i + 1]]
        y = [math.log(sample_std([logs[j] - logs[j - lag] for j in range(lag, window)])) for lag in lags]
        ym = mean(y)
        out[i] = sum((a - xm) * (b - ym) for a, b in zip(x, y, strict=True)) / sum((a - xm) ** 2 for a in x)
    return out


def variance_ratio_loop(returns: list[float | None], q: int, window: int = 100) -> list[float | None]:
    """Lo and MacKinlay (1988), overlapping q-period returns, bias-corrected m."""
    out: list[float | None] = [None] * len(returns)
    for i in range(window - 1, len(returns)):
        r = returns[i - window + 1 : i + 1]
        if any(v is None for v in r):
            continue
        mu = mean(r)  # type: ignore[arg-type]
        var_a = sum((v - mu) ** 2 for v in r) / (window - 1)  # type: ignore[operator]
        m = q * (window - q + 1) * (1 - q / window)
        var_c = sum((sum(r[k - q + 1 : k + 1]) - q * mu) ** 2 for k in range(q - 1, window)) / m  # type: ignore[arg-type]
        out[i] = var_c / var_a
    return out


def assert_matches(actual: pl.Series, expected: list[float | None], name: str) -> None:
    got = actual.to_list()
    assert [v is None for v in got] == [v is None for v in expected], f"{name}: warm-up nulls differ"
    pairs = [(a, e) for a, e in zip(got, expected, strict=True) if e is not None]
    a, e = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    np.testing.assert_allclose(a, e, rtol=RTOL, atol=1e-12, err_msg=name)


@pytest.fixture(scope="module")
def computed(sp500: pl.DataFrame) -> pl.DataFrame:
    return F.compute_features(sp500)


@pytest.fixture(scope="module")
def columns(sp500: pl.DataFrame) -> dict[str, list]:
    return {c: sp500.get_column(c).to_list() for c in ("high", "low", "close", "volume", "log_return")}


def test_moving_averages_and_bands(computed: pl.DataFrame, columns: dict[str, list]) -> None:
    close, high, low, volume = columns["close"], columns["high"], columns["low"], columns["volume"]
    assert_matches(computed["sma_20"], rolling(close, 20, mean), "sma_20")
    assert_matches(computed["sma_50"], rolling(close, 50, mean), "sma_50")
    assert_matches(computed["ema_50"], ema_loop(close, 50), "ema_50")
    typical_volume = [(h + lo + c) / 3 * v for h, lo, c, v in zip(high, low, close, volume, strict=True)]
    num, den = rolling(typical_volume, 20, sum), rolling(volume, 20, sum)
    assert_matches(computed["vwap_20"], [None if d is None else n / d for n, d in zip(num, den, strict=True)], "vwap")
    sma, std = rolling(close, 20, mean), rolling(close, 20, sample_std)
    expected = [None if s is None else (c - s) / (2 * d) for c, s, d in zip(close, sma, std, strict=True)]
    assert_matches(computed["bollinger_position"], expected, "bollinger_position")
    volume_ma = rolling(volume, 20, mean)
    assert_matches(
        computed["volume_ma_ratio"],
        [None if m is None else v / m for v, m in zip(volume, volume_ma, strict=True)],
        "volume_ma_ratio",
    )


def test_wilder_rsi_and_adx(computed: pl.DataFrame, columns: dict[str, list]) -> None:
    assert_matches(computed["rsi_14"], rsi_loop(columns["close"]), "rsi_14")
    assert_matches(computed["adx_14"], adx_loop(columns["high"], columns["low"], columns["close"]), "adx_14")
    assert computed["rsi_14"].null_count() == 14 and computed["adx_14"].null_count() == 27


def test_momentum_volatility_and_drawdown(computed: pl.DataFrame, columns: dict[str, list]) -> None:
    close, r = columns["close"], columns["log_return"]
    assert_matches(
        computed["momentum_20"], [None] * 20 + [close[i] / close[i - 20] - 1 for i in range(20, len(close))], "mom"
    )
    short, long = rolling(r, 10, sample_std), rolling(r, 63, sample_std)
    assert_matches(
        computed["volatility_ratio"],
        [None if b is None else a / b for a, b in zip(short, long, strict=True)],
        "volatility_ratio",
    )
    assert_matches(
        computed["realized_vol_21"],
        [None if s is None else s * math.sqrt(252) for s in rolling(r, 21, sample_std)],
        "realized_vol_21",
    )
    highs = rolling(close, 252, max)
    assert_matches(
        computed["drawdown_252"],
        [None if h is None else c / h - 1 for c, h in zip(close, highs, strict=True)],
        "drawdown_252",
    )
    # October 2008: the S&P 500 stood some 40% below its high of the past year
    october = computed.filter(pl.col("date") == pl.date(2008, 10, 27))
    assert -0.48 < october["drawdown_252"].item() < -0.40


def test_hurst_and_variance_ratios(computed: pl.DataFrame, columns: dict[str, list]) -> None:
    assert_matches(computed["hurst_100"], hurst_loop(columns["close"]), "hurst_100")
    for q in F.VARIANCE_RATIO_PERIODS:
        assert_matches(computed[f"variance_ratio_{q}"], variance_ratio_loop(columns["log_return"], q), f"vr_{q}")


def test_symbols_are_computed_independently(sp500: pl.DataFrame) -> None:
    nasdaq = bundled_bars("arch.nasdaq", "^IXIC")
    together = F.compute_features(pl.concat([nasdaq, sp500]).sample(fraction=1.0, shuffle=True, seed=3))
    alone = pl.concat([F.compute_features(sp500), F.compute_features(nasdaq)])
    assert together.equals(alone.sort("symbol", "date"))


def test_no_look_ahead_changing_every_bar_after_a_day_changes_nothing_before(sp500: pl.DataFrame) -> None:
    day = pl.date(2008, 9, 12)
    rng = np.random.default_rng(7)
    shock = pl.Series(rng.uniform(0.5, 1.5, sp500.height))
    after = pl.col("date") > day
    changed = sp500.with_columns(
        [pl.when(after).then(pl.col(c) * shock).otherwise(pl.col(c)) for c in ("open", "high", "low", "close")]
        + [pl.when(after).then(pl.col("volume") * shock.reverse()).otherwise(pl.col("volume"))]
    ).with_columns(log_return=(pl.col("close") / pl.col("close").shift(1)).log())
    before, later = F.compute_features(sp500), F.compute_features(changed)
    assert before.filter(pl.col("date") <= day).equals(later.filter(pl.col("date") <= day))
    assert not before.filter(after).equals(later.filter(after))  # the change did reach the features


def test_warm_up_is_null_and_undefined_values_are_null_not_nan() -> None:
    days = pl.date_range(pl.date(2020, 1, 1), pl.date(2020, 12, 31), eager=True)[:300]
    flat = pl.DataFrame(
        {"symbol": "FLAT", "date": days, "open": 10.0, "high": 10.0, "low": 10.0, "close": 10.0, "volume": 0.0}
    ).with_columns(log_return=pl.when(pl.int_range(pl.len()) > 0).then(0.0))
    out = F.compute_features(flat)
    for name in F.FEATURE_COLUMNS:
        column = out[name]
        assert column.is_nan().sum() == 0 and column.is_infinite().sum() == 0, name
    # undefined on a flat, volume-less series: zero volume, zero std, zero moves
    for name in ("vwap_20", "volume_ma_ratio", "bollinger_position", "rsi_14", "volatility_ratio", "hurst_100"):
        assert out[name].null_count() == out.height, name
    assert out["drawdown_252"].drop_nulls().unique().to_list() == [0.0]
    assert out["sma_20"][:19].null_count() == 19 and out["sma_20"][19] == 10.0


def test_sentiment_joins_real_scores_and_leaves_the_stub_null(sp500: pl.DataFrame) -> None:
    bars = sp500.head(3)
    sentiment = pl.DataFrame(
        {
            "symbol": ["^GSPC", "^GSPC"],
            "date": bars["date"][:2],
            "score": [0.518, 0.0],
            "confidence": [0.85, 0.0],
            "source": ["snapshot", "stub"],
        }
    )
    out = F.compute_features(bars, sentiment)
    assert out["sentiment_score"].to_list() == [0.518, None, None]
    assert out["sentiment_confidence"].to_list() == [0.85, None, None]
    assert out.schema == pl.Schema(F.SCHEMA)


def test_close_based_features_are_defined_from_their_warm_up_on(sp500: pl.DataFrame) -> None:
    """WARM_UP is exact on real data: the first value comes at that bar, none is null after."""
    out = F.compute_features(sp500).with_columns(F.bar_number())
    for name, first in F.WARM_UP.items():
        defined = out.filter(pl.col(name).is_not_null())["bar"]
        assert defined.min() == first and defined.len() == out.height - first, name
    # a feature null after its warm-up: only a bad close makes one, and the check says so
    from lakehouse_assets.core.checks import warmed_up

    assert warmed_up(out, F.WARM_UP, ["symbol", "date"]).passed
    broken = sp500.with_columns(close=pl.when(pl.int_range(pl.len()) == 400).then(float("nan")).otherwise("close"))
    bad = warmed_up(F.compute_features(broken).with_columns(F.bar_number()), F.WARM_UP, ["symbol", "date"])
    assert not bad.passed and bad.metadata["failing_rows"] >= 252


# --- bounded history: a day from its last LOOKBACK_BARS bars equals the day from the first bar ---


def simulated_bars(sessions: list, n_symbols: int, seed: int) -> pl.DataFrame:
    """``n_symbols`` simulated symbols over ``sessions`` as ``ohlcv_daily`` rows (log_return from the closes)."""
    residuals = standardize(np.random.default_rng(seed).standard_normal(1000))
    u = simulate_universe(
        MarketModel(mu=0.04, omega=0.02, alpha=0.09, beta=0.89, residuals=residuals), n_symbols, len(sessions), seed
    )
    frames = [
        pl.DataFrame(
            {
                "symbol": s,
                "date": sessions,
                "open": u.open[:, j],
                "high": u.high[:, j],
                "low": u.low[:, j],
                "close": u.close[:, j],
                "volume": u.volume[:, j],
            }
        )
        for j, s in enumerate(u.symbols)
    ]
    log_return = (pl.col("close") / pl.col("close").shift(1)).log().over("symbol")
    return pl.concat(frames).with_columns(log_return=log_return).select(F.BAR_COLUMNS)


def bounded_read(bars: pl.DataFrame, first, start, end, fallback: bool = True) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """What the ``features`` asset reads: ``[first, end]``, and earlier bars of the symbols short of history."""
    window = bars.filter(pl.col("date").is_between(first, end))
    short = F.short_of_history(window, start, F.LOOKBACK_BARS) if fallback else []
    return pl.concat([bars.filter(pl.col("symbol").is_in(short) & (pl.col("date") < first)), window])


def test_lookback_bars_follow_from_the_indicators_parameters() -> None:
    alpha = 2 / (F.EMA_SPAN + 1)
    k = F.fading_bars(alpha)
    assert (1 - alpha) ** k <= F.TRUNCATION_TOLERANCE < (1 - alpha) ** (k - 1)
    assert F.LOOKBACK_BARS == F.EMA_SPAN - 1 + k == 740  # EMA(50) needs the most
    assert F.fading_bars(1 / 14, stages=2) > F.fading_bars(1 / 14)  # ADX's chained averages forget slower
    assert F.LOOKBACK_BARS > F.ROLLING_LOOKBACK == max(F.WARM_UP.values())


def test_a_day_from_a_bounded_window_equals_the_day_from_the_first_bar(
    sp500: pl.DataFrame, calendar: TradingCalendar
) -> None:
    """1,500+ sessions in: every symbol's features of a week from LOOKBACK_BARS sessions of
    bars (or all its bars, when it has fewer there) equal the full history's to 1e-9."""
    sessions = calendar.sessions(dt.date(2012, 1, 3), dt.date(2018, 12, 31))  # 1,759 sessions
    bars = simulated_bars(sessions, 3, seed=5)
    start, end = sessions[1_700], sessions[1_704]
    first = calendar.shift_sessions(start, -F.LOOKBACK_BARS)
    gap = pl.col("date").is_between(sessions[1_200], sessions[1_600])  # 400 sessions without bars
    late = pl.col("date") >= sessions[1_300]  # listed inside the window
    bars = bars.filter(
        (pl.col("symbol") == "SIM0001")
        | ((pl.col("symbol") == "SIM0002") & ~gap)
        | ((pl.col("symbol") == "SIM0003") & late)
    )
    bars = pl.concat([bars, sp500])  # and real prices: 2000-2018 of the S&P 500
    full = F.compute_features(bars).filter(pl.col("date").is_between(start, end))
    assert full.height == 4 * 5

    window = bounded_read(bars, first, start, end)
    assert F.short_of_history(window.filter(pl.col("date") >= first), start, F.LOOKBACK_BARS) == ["SIM0002", "SIM0003"]
    assert window.filter(pl.col("symbol") == "^GSPC")["date"].min() == first  # the bound was used
    got = F.compute_features(window, since=start).filter(pl.col("date") <= end)
    assert_frame_equal(got, full, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)

    # and the test can fail: without the fallback, the symbol with the gap is off, and
    # half the window is not enough
    def worst(frame: pl.DataFrame, symbol: str) -> float:
        a, b = (f.filter(pl.col("symbol") == symbol)["ema_50"].to_numpy() for f in (frame, full))
        return float(np.max(np.abs(a - b) / np.abs(b)))

    alone = F.compute_features(bounded_read(bars, first, start, end, fallback=False), since=start)
    assert worst(alone.filter(pl.col("date") <= end), "SIM0002") > 1e-9
    half = calendar.shift_sessions(start, -F.LOOKBACK_BARS // 2)
    short = F.compute_features(bars.filter(pl.col("date") >= half), since=start).filter(pl.col("date") <= end)
    assert max(worst(short, symbol) for symbol in ("^GSPC", "SIM0001")) > 1e-9


def test_since_leaves_out_the_history_and_keeps_the_recursive_indicators_to_the_bit(sp500: pl.DataFrame) -> None:
    full = F.compute_features(sp500)
    for since in (dt.date(1990, 1, 2), dt.date(1999, 3, 1), dt.date(2010, 6, 1)):
        got = F.compute_features(sp500, since=since)
        expected = full.filter(pl.col("date") >= since)
        assert got.select(F.RECURSIVE_COLUMNS).equals(expected.select(F.RECURSIVE_COLUMNS))
        assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
