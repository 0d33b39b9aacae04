"""Strategy entries, sentiment gating, exits with costs, and the expected spread return."""

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import options
from lakehouse_assets.core import strategies as st
from tests.conftest import REPO

D = dt.date
RULES = load_config(REPO / "config").strategies
COST = RULES.cost_per_side


def signal(**changes: object) -> st.Signal:
    base = st.Signal(
        symbol="^GSPC", date=D(2018, 6, 1), close=2700.0, rsi_14=55.0, momentum_20=0.03, sma_20=2680.0,
        sma_50=2650.0, adx_14=28.0, realized_vol_21=0.12, regime="normal", trend="bull", sentiment=None,
        point=0.004, volatility=0.02, prob_up=0.6, drift=0.0004, iv=0.13, iv_rank=55.0,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_sentiment_suppresses_bullish_entries_and_boosts_confidence() -> None:
    plain = st.decide("swing_momentum", signal(), RULES)
    assert plain is not None and plain.direction == "long" and plain.bullish
    assert st.decide("swing_momentum", signal(sentiment=-0.31), RULES) is None
    assert st.decide("swing_momentum", signal(sentiment=-0.3), RULES) == plain  # not below -0.3
    boosted = st.decide("swing_momentum", signal(sentiment=0.51), RULES)
    assert boosted is not None and boosted.confidence == pytest.approx(min(1.0, plain.confidence * 1.2))
    bearish = st.decide("mean_reversion", signal(rsi_14=75.0, sentiment=-0.9), RULES)
    assert bearish is not None and bearish.direction == "short"  # bad news does not block a short
    assert st.decide("iron_condor", signal(adx_14=15.0, sentiment=-0.9), RULES) is not None  # neutral


def test_rules_fire_on_their_conditions() -> None:
    assert st.decide("mean_reversion", signal(rsi_14=50.0), RULES) is None
    assert st.decide("mean_reversion", signal(rsi_14=25.0), RULES).direction == "long"  # type: ignore[union-attr]
    assert st.decide("forecast_follow", signal(point=-0.01), RULES).direction == "short"  # type: ignore[union-attr]
    assert st.decide("forecast_follow", signal(point=0.0), RULES) is None  # a naive champion says nothing
    assert st.decide("iron_condor", signal(adx_14=15.0, regime="crash"), RULES) is None
    assert st.decide("iron_condor", signal(adx_14=15.0, iv_rank=10.0), RULES) is None
    assert st.decide("bear_call_spread", signal(rsi_14=70.0), RULES) is not None
    assert st.decide("bull_put_spread", signal(close=2600.0), RULES) is None  # below its 50-day average


def test_prediction_ids_are_deterministic() -> None:
    a = st.prediction_id("MSFT", "iron_condor", D(2017, 3, 1))
    assert a == st.prediction_id("MSFT", "iron_condor", D(2017, 3, 1)) and len(a) == 32
    assert a != st.prediction_id("MSFT", "iron_condor", D(2017, 3, 2))


def directional(direction: str = "long") -> st.Position:
    decision = st.Decision(direction, 0.7, direction == "long")
    position = st.open_position("swing_momentum", signal(), decision, D(2018, 6, 4), 100.0, RULES)
    assert position is not None
    return position


def bar(o: float, h: float, lo: float, c: float, day: dt.date | None = None) -> st.Bar:
    return st.Bar(day or D(2018, 6, 6), o, h, lo, c)


def test_directional_exits_stop_target_gap_and_time_net_of_costs() -> None:
    p = directional()
    sd = 0.12 * math.sqrt(RULES.max_hold / 252)
    assert p.stop == pytest.approx(100 * math.exp(-RULES.stop_sigma * sd))
    assert p.target == pytest.approx(100 * math.exp(RULES.target_sigma * sd))
    assert st.check_exit(p, bar(100, 200, 1, 100), held=1, last_session=False, rules=RULES) is None  # entry day
    stop = st.check_exit(p, bar(100, 200, 1, 100), held=2, last_session=False, rules=RULES)  # both touched: stop
    assert stop.reason == "stop" and stop.price == p.stop  # type: ignore[union-attr]
    assert stop.pnl_pct == pytest.approx((p.stop - 100) / 100 - COST * (1 + p.stop / 100))  # type: ignore[union-attr]
    gap = st.check_exit(p, bar(90, 91, 89, 90), held=3, last_session=False, rules=RULES)
    assert gap.reason == "stop" and gap.price == 90  # type: ignore[union-attr]
    target = st.check_exit(p, bar(100, 106, 99.9, 105), held=3, last_session=False, rules=RULES)
    assert target.reason == "target" and target.price == p.target  # type: ignore[union-attr]
    assert st.check_exit(p, bar(100, 101, 99, 100.5), held=9, last_session=False, rules=RULES) is None
    timed = st.check_exit(p, bar(100, 101, 99, 100.5), held=10, last_session=False, rules=RULES)
    assert timed.reason == "time" and timed.holding_days == 10  # type: ignore[union-attr]
    assert timed.pnl_pct == pytest.approx(0.005 - COST * (1 + 1.005))  # type: ignore[union-attr]
    short = directional("short")
    up = st.check_exit(short, bar(100, 104, 99, 103), held=2, last_session=False, rules=RULES)
    assert up.reason == "stop" and up.pnl_pct < 0  # type: ignore[union-attr]


def spread_position(drift: float = 0.0) -> st.Position:
    decision = st.Decision("long", 0.7, True)
    position = st.open_position("bull_put_spread", signal(drift=drift), decision, D(2018, 6, 4), 2700.0, RULES)
    assert position is not None and position.expiry == D(2018, 7, 19)
    return position


def test_spread_exits_at_the_profit_target_the_stop_or_expiry() -> None:
    p = spread_position()
    assert st.check_exit(p, bar(2700, 2710, 2690, 2705), held=2, last_session=False, rules=RULES) is None
    rally = st.check_exit(p, bar(2900, 2950, 2890, 2950), held=3, last_session=False, rules=RULES)
    assert rally.reason == "target" and rally.pnl_pct > 0  # type: ignore[union-attr]
    crash = st.check_exit(p, bar(2400, 2410, 2350, 2400), held=3, last_session=False, rules=RULES)
    assert crash.reason == "stop" and crash.pnl_pct < 0  # type: ignore[union-attr]
    expiry = st.check_exit(p, bar(2700, 2710, 2690, 2701, D(2018, 7, 19)), held=32, last_session=True, rules=RULES)
    assert expiry.reason == "expiry" and expiry.price == 0.0  # type: ignore[union-attr]
    premium = sum(
        options.black_scholes(k, 2700.0, s, RULES.dte / 365, RULES.risk_free_rate, p.iv) for k, s, _ in p.legs
    )  # type: ignore[arg-type]
    assert expiry.pnl_pct == pytest.approx((p.entry_price - COST * premium) / p.max_loss)  # type: ignore[union-attr,operator]


# --- the prediction: the expected realized return under the strategy's own exits ------------


def far(rules: st.StrategyRules = RULES) -> st.StrategyRules:
    """Rules whose stops and targets can never be reached."""
    return dataclasses.replace(rules, stop_sigma=1e3, target_sigma=1e3, profit_target=10.0, stop_loss=1e9)


@pytest.mark.parametrize("direction", ["long", "short"])
def test_directional_prediction_with_unreachable_barriers_is_the_closed_form(direction: str) -> None:
    """Held to the time exit at max_hold: E[sign (S_T / S_0 - 1)] - costs, S_T / S_0 lognormal."""
    s = signal(point=0.012, volatility=0.03)
    p = st.open_position("forecast_follow", s, st.Decision(direction, 0.7, True), D(2018, 6, 4), 100.0, far())
    sign = 1.0 if direction == "long" else -1.0
    n, mu, sd = RULES.max_hold, 0.012 / RULES.forecast_horizon, 0.03 / math.sqrt(RULES.forecast_horizon)
    growth = math.exp(n * mu + 0.5 * n * sd**2)
    assert p.predicted_return_pct == pytest.approx(sign * (growth - 1) - COST * (1 + growth), rel=1e-12)  # type: ignore[union-attr]


ENTRY = D(2018, 6, 4)


def deterministic_bars(start: float, steps: list[float], first: dt.date = ENTRY) -> list[st.Bar]:
    """Bars of a path without noise: each session opens at the previous close."""
    out, level = [], start
    for i, step in enumerate(steps):
        close = level * math.exp(step)
        out.append(st.Bar(first + dt.timedelta(days=i), level, max(level, close), min(level, close), close))
        level = close
    return out


def replay(position: st.Position, bars: list[st.Bar], rules: st.StrategyRules) -> st.Exit:
    for held, b in enumerate(bars, start=1):
        done = st.check_exit(position, b, held, held == len(bars), rules)
        if done is not None:
            return done
    raise AssertionError("no exit")


@pytest.mark.parametrize(
    ("direction", "point"),
    [("long", 0.01), ("long", 0.05), ("long", -0.06), ("short", -0.01), ("short", -0.05), ("short", 0.06)],
)
def test_directional_prediction_on_a_zero_volatility_path_is_its_outcome(direction: str, point: float) -> None:
    """No noise: the prediction is what check_exit books on the one path (a time exit, the
    target, or the stop, depending on the drift)."""
    s = signal(point=point, volatility=0.0)
    p = st.open_position("forecast_follow", s, st.Decision(direction, 0.7, True), D(2018, 6, 4), 100.0, RULES)
    outcome = replay(p, deterministic_bars(100.0, [point / RULES.forecast_horizon] * RULES.max_hold), RULES)  # type: ignore[arg-type]
    assert p.predicted_return_pct == pytest.approx(outcome.pnl_pct, rel=1e-12, abs=1e-15)  # type: ignore[union-attr]


def spread_moments(rules: st.StrategyRules, drift: float, iv: float, entry: dt.date) -> tuple[int, float, float]:
    n = len(st._weekdays(entry, entry + dt.timedelta(days=rules.dte)))
    return n, n * drift, math.sqrt(n) * iv / math.sqrt(252)


@pytest.mark.parametrize("name", ["bull_put_spread", "bear_call_spread", "iron_condor"])
def test_spread_prediction_with_unreachable_exits_is_the_expectation_at_expiry(name: str) -> None:
    """Target and stop out of reach: the expected net return at expiry, by numerical
    integration of the payoff over the normal log return to expiry."""
    from scipy import integrate
    from scipy.stats import norm

    rules, entry, spot, iv, drift = far(), D(2018, 6, 4), 2700.0, 0.13, 0.0008
    p = st.open_position(name, signal(drift=drift, iv=iv), st.Decision("neutral", 0.6, False), entry, spot, rules)
    assert p is not None and p.max_loss is not None
    _, mean, sd = spread_moments(rules, drift, iv, entry)
    premium = sum(
        options.black_scholes(kind, spot, k, rules.dte / 365, rules.risk_free_rate, iv) for kind, k, _ in p.legs
    )

    def net(z: float) -> float:
        s = spot * math.exp(mean + sd * z)
        intrinsic = sum(max(s - k, 0.0) if kind == "call" else max(k - s, 0.0) for kind, k, _ in p.legs)
        return (p.entry_price - options.payoff(p.legs, s) - COST * (premium + intrinsic)) / p.max_loss * norm.pdf(z)

    strikes = sorted((math.log(k / spot) - mean) / sd for _, k, _ in p.legs)
    expected, _ = integrate.quad(net, -12, 12, points=strikes, limit=200, epsabs=1e-12)
    assert p.predicted_return_pct == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("name", "drift"), [("bull_put_spread", 0.0), ("bull_put_spread", -0.01), ("iron_condor", 0.004)]
)
def test_spread_prediction_on_a_zero_volatility_path_is_its_outcome(name: str, drift: float) -> None:
    """No noise in the underlying: the prediction is what check_exit books on the one path."""
    entry, spot, iv = D(2018, 6, 4), 2700.0, 0.13
    p = st.open_position(name, signal(drift=drift, iv=iv), st.Decision("neutral", 0.6, False), entry, spot, RULES)
    assert p is not None
    days = st._weekdays(entry, p.expiry)  # type: ignore[arg-type]
    spread = options.Spread(p.legs, p.entry_price, p.max_loss)  # type: ignore[arg-type]
    ages = [(d - entry).days for d in days]
    predicted = st.expected_spread_return(spread, spot, iv, drift, 0.0, ages, RULES)
    closes = [spot * math.exp(drift * (k + 1)) for k in range(len(days))]
    bars = [st.Bar(d, c, c, c, c) for d, c in zip(days, closes, strict=True)]
    outcome = replay(p, bars, RULES)
    assert predicted == pytest.approx(outcome.pnl_pct, rel=1e-12, abs=1e-15)


def simulated_bars(rng: np.random.Generator, start: float, mu: float, sd: float, days: list[dt.date]) -> list[st.Bar]:
    """A path drawn from the predicted distribution, written out session by session: a normal
    log return a session, each session opening at the last close, its high and low drawn from
    the Brownian bridge between its open and its close."""
    out, level = [], math.log(start)
    for day in days:
        close = level + rng.normal(mu, sd)
        jump = (close - level) ** 2
        high = 0.5 * (level + close + math.sqrt(jump - 2 * sd * sd * math.log(1 - rng.random())))
        low = 0.5 * (level + close - math.sqrt(jump - 2 * sd * sd * math.log(1 - rng.random())))
        out.append(st.Bar(day, math.exp(level), math.exp(high), math.exp(low), math.exp(close)))
        level = close
    return out


@pytest.mark.parametrize(
    ("strategy", "direction", "changes", "trades"),
    [
        ("forecast_follow", "long", {"point": 0.01, "volatility": 0.04}, 4000),
        ("forecast_follow", "short", {"point": 0.02, "volatility": 0.05}, 4000),
        ("bull_put_spread", "long", {"drift": 0.0005, "iv": 0.15}, 1500),
        ("iron_condor", "neutral", {"drift": -0.0005, "iv": 0.12}, 1500),
    ],
)
def test_realized_actuals_average_to_the_prediction_on_paths_from_the_predicted_distribution(
    strategy: str, direction: str, changes: dict[str, float], trades: int
) -> None:
    """The ledger's calibration: trades whose prices follow the distribution the prediction
    assumed, closed by check_exit bar by bar, realize the prediction on average (within 4
    standard errors of the mean)."""
    rng = np.random.default_rng(20240615)
    s, entry, spot = signal(**changes), D(2018, 6, 4), 2700.0
    p = st.open_position(strategy, s, st.Decision(direction, 0.6, direction == "long"), entry, spot, RULES)
    assert p is not None
    if strategy in st.SPREADS:
        days = st._weekdays(entry, p.expiry)  # type: ignore[arg-type]
        mu, sd = s.drift, s.iv / math.sqrt(252)  # type: ignore[operator]
    else:
        days = [entry + dt.timedelta(days=i) for i in range(RULES.max_hold)]
        mu, sd = st.session_moments(s, RULES)  # type: ignore[misc]
    actuals = np.array([replay(p, simulated_bars(rng, spot, mu, sd, days), RULES).pnl_pct for _ in range(trades)])  # type: ignore[arg-type]
    se = actuals.std(ddof=1) / math.sqrt(trades)
    assert abs(actuals.mean() - p.predicted_return_pct) < 4 * se, (actuals.mean(), p.predicted_return_pct, se)


def test_predictions_are_deterministic_and_the_cost_per_entry_is_small() -> None:
    import time

    decision = st.Decision("neutral", 0.6, False)
    first = st.open_position("iron_condor", signal(), decision, D(2018, 6, 4), 2700.0, RULES)
    st._draws.cache_clear()
    began = time.perf_counter()
    again = st.open_position("iron_condor", signal(), decision, D(2018, 6, 4), 2700.0, RULES)
    assert first == again
    assert time.perf_counter() - began < 0.5  # a few ms; generous for a loaded machine


def test_a_rising_market_favours_the_put_seller() -> None:
    bullish = st.open_position(
        "bull_put_spread", signal(drift=0.002), st.Decision("long", 0.6, True), D(2018, 6, 4), 2700.0, RULES
    )
    bearish = st.open_position(
        "bull_put_spread", signal(drift=-0.002), st.Decision("long", 0.6, True), D(2018, 6, 4), 2700.0, RULES
    )
    assert bullish.predicted_return_pct > 0.05 > bearish.predicted_return_pct  # type: ignore[union-attr]
