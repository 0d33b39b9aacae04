"""Strategy entries, sentiment gating, exits with costs, and the expected spread return."""

import dataclasses
import datetime as dt
import math

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


def test_expected_spread_return_is_zero_under_the_pricing_measure() -> None:
    """With no costs, no rate and the risk-neutral drift of the log price (-sigma^2 / 2 a
    year), the expected payoff is the Black–Scholes price: the expected return is 0."""
    rules = dataclasses.replace(RULES, cost_per_side=0.0, risk_free_rate=0.0)
    iv = 0.13
    neutral = -0.5 * iv**2 * (365 / 252) / 365  # per session, scaled so that sessions x drift = -sigma^2 T / 2
    for name in ("bull_put_spread", "bear_call_spread", "iron_condor"):
        p = st.open_position(
            name, signal(drift=neutral, iv=iv), st.Decision("neutral", 0.6, False), D(2018, 6, 4), 2700.0, rules
        )
        assert p is not None and p.predicted_return_pct == pytest.approx(0.0, abs=1e-9), name
    bullish = st.open_position(
        "bull_put_spread", signal(drift=0.002, iv=iv), st.Decision("long", 0.6, True), D(2018, 6, 4), 2700.0, rules
    )
    assert bullish.predicted_return_pct > 0.05  # type: ignore[union-attr]  # a rising market favours the put seller
