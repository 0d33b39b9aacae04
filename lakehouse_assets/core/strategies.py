"""Strategies: entry decisions from a signal day, the prediction at entry, and exits.

A strategy sees one symbol's *signal day* S (after its close): features, regime, the
champion forecasts and sentiment (a :class:`Signal`), and decides whether to enter at the
next session's open (the original system's 10 AM snapshot, with daily bars). Options
spreads (``iron_condor``, ``bull_put_spread``, ``bear_call_spread``) are priced with
Black–Scholes, the GARCH volatility forecast standing in for implied volatility, and are
marked each day from the underlying's close with that volatility; they exit at expiry, at a
profit target or at a stop. Directional trades (``swing_momentum``, ``mean_reversion``,
``forecast_follow``) hold 2 to 10 sessions between a stop and a target set in units of
the expected move. Every signal day on which a strategy fires is a prediction of its own
(positions overlap): the ledger measures the strategies, it is not one account.

Returns are fractions. ``predicted_return_pct`` is the expected net return under the
forecast distribution (normal log return around the champion point forecast); the
actual is net of costs (``cost_per_side`` of the traded notional: the underlying for
directional trades, the legs' premium for spreads). A spread's returns are on the
capital at risk (its maximum loss).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from scipy.stats import norm

from lakehouse_assets.core import options

SPREADS = ("iron_condor", "bull_put_spread", "bear_call_spread")
DIRECTIONAL = ("swing_momentum", "mean_reversion", "forecast_follow")
STRATEGIES = SPREADS + DIRECTIONAL
UNKNOWN_REGIME = "unknown"  # the original's default regime_at_entry


@dataclass(frozen=True)
class StrategyRules:
    """``config/strategies.yaml``; each strategy's own thresholds are in ``params``."""

    enabled: tuple[str, ...]
    params: Mapping[str, Mapping[str, float]]
    cost_per_side: float
    capital: float
    min_trades: int
    risk_free_rate: float
    forecast_horizon: int  # the champion forecast the directional strategies read
    iv_rank_window: int
    iv_rank_min: int
    suppress_bullish_below: float
    boost_above: float
    boost: float
    dte: int
    strike_width: float
    strike_width_reference: float
    short_delta: float | None  # None: short strikes one width out of the money
    profit_target: float
    stop_loss: float
    min_hold: int
    max_hold: int
    stop_sigma: float
    target_sigma: float

    def width(self, spot: float) -> float:
        """The wing width at this spot: the original's ``strike_width`` points on an
        underlying priced ``strike_width_reference`` (10 on ~400, SPY), scaled."""
        return self.strike_width / self.strike_width_reference * spot


@dataclass(frozen=True)
class Signal:
    """One symbol on its signal day. Forecast fields are the champion's (None: none yet)."""

    symbol: str
    date: dt.date
    close: float
    rsi_14: float | None
    momentum_20: float | None
    sma_20: float | None
    sma_50: float | None
    adx_14: float | None
    realized_vol_21: float | None
    regime: str | None
    trend: str | None
    sentiment: float | None
    point: float | None  # champion h-day log return, h = forecast_horizon
    volatility: float | None  # its standard deviation
    prob_up: float | None
    drift: float | None  # daily mean log return of the champion at the longest horizon (spreads)
    iv: float | None  # annualized GARCH volatility forecast (the implied-volatility proxy)
    iv_rank: float | None  # percentile (0-100) of iv over the last iv_rank_window sessions


@dataclass(frozen=True)
class Decision:
    direction: str  # long | short | neutral
    confidence: float  # 0..1
    bullish: bool


def _usable(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def decide(strategy: str, s: Signal, rules: StrategyRules) -> Decision | None:
    """The strategy's entry decision for the signal, sentiment gating included."""
    p = rules.params[strategy]
    decision = _RULES[strategy](s, p, rules)
    if decision is None:
        return None
    if s.sentiment is not None and math.isfinite(s.sentiment):
        if decision.bullish and s.sentiment < rules.suppress_bullish_below:
            return None  # bad news suppresses bullish entries
        if s.sentiment > rules.boost_above:
            return Decision(decision.direction, min(1.0, decision.confidence * rules.boost), decision.bullish)
    return decision


def _iron_condor(s: Signal, p: Mapping[str, float], rules: StrategyRules) -> Decision | None:
    # range-bound and rich premium: no trend, not a stressed regime, IV rank high enough
    if not _usable(s.iv, s.iv_rank, s.adx_14) or s.regime in ("crash", "high_volatility"):
        return None
    if s.adx_14 > p["max_adx"] or s.iv_rank < p["min_iv_rank"]:  # type: ignore[operator]
        return None
    confidence = 0.5 + 0.25 * (s.iv_rank / 100.0) + 0.25 * (1.0 - s.adx_14 / p["max_adx"])  # type: ignore[operator]
    return Decision("neutral", min(confidence, 1.0), False)


def _bull_put_spread(s: Signal, p: Mapping[str, float], rules: StrategyRules) -> Decision | None:
    if not _usable(s.iv, s.close, s.sma_50, s.rsi_14) or s.regime == "crash":
        return None
    if s.close <= s.sma_50 or s.rsi_14 > p["max_rsi"]:  # type: ignore[operator]
        return None
    up = s.prob_up if _usable(s.prob_up) else 0.5
    return Decision("long", max(0.5, min(1.0, 0.5 * up + 0.5 * (0.5 + (s.close / s.sma_50 - 1.0) * 5))), True)  # type: ignore[operator]


def _bear_call_spread(s: Signal, p: Mapping[str, float], rules: StrategyRules) -> Decision | None:
    # overbought or below the 50-day average: sell calls above the market
    if not _usable(s.iv, s.close, s.sma_50, s.rsi_14):
        return None
    if not (s.rsi_14 >= p["min_rsi"] or s.close < s.sma_50):  # type: ignore[operator]
        return None
    down = 1.0 - s.prob_up if _usable(s.prob_up) else 0.5  # type: ignore[operator]
    stretch = max(0.0, (s.rsi_14 - 50.0) / 50.0)  # type: ignore[operator]
    return Decision("short", max(0.5, min(1.0, 0.5 * down + 0.5 * (0.5 + stretch / 2))), False)


def _swing_momentum(s: Signal, p: Mapping[str, float], rules: StrategyRules) -> Decision | None:
    if not _usable(s.momentum_20, s.sma_20, s.sma_50, s.adx_14, s.realized_vol_21) or s.realized_vol_21 <= 0:  # type: ignore[operator]
        return None
    if s.adx_14 < p["min_adx"] or abs(s.momentum_20) < p["min_momentum"]:  # type: ignore[operator,arg-type]
        return None
    if s.momentum_20 > 0 and s.close > s.sma_20 > s.sma_50:  # type: ignore[operator]
        direction = "long"
    elif s.momentum_20 < 0 and s.close < s.sma_20 < s.sma_50:  # type: ignore[operator]
        direction = "short"
    else:
        return None
    z = abs(s.momentum_20) / (s.realized_vol_21 * math.sqrt(20 / 252))  # type: ignore[operator,arg-type]
    return Decision(direction, float(norm.cdf(z)), direction == "long")


def _mean_reversion(s: Signal, p: Mapping[str, float], rules: StrategyRules) -> Decision | None:
    if not _usable(s.rsi_14) or s.regime == "crash":
        return None
    if s.rsi_14 <= p["oversold"]:  # type: ignore[operator]
        return Decision("long", 0.5 + (50.0 - s.rsi_14) / 100.0, True)  # type: ignore[operator]
    if s.rsi_14 >= p["overbought"]:  # type: ignore[operator]
        return Decision("short", 0.5 + (s.rsi_14 - 50.0) / 100.0, False)  # type: ignore[operator]
    return None


def _forecast_follow(s: Signal, p: Mapping[str, float], rules: StrategyRules) -> Decision | None:
    if not _usable(s.point, s.volatility) or s.volatility <= 0:  # type: ignore[operator]
        return None
    z = s.point / s.volatility  # type: ignore[operator]
    if abs(z) < p["min_z"]:
        return None
    direction = "long" if z > 0 else "short"
    return Decision(direction, float(norm.cdf(abs(z))), direction == "long")


_RULES = {
    "iron_condor": _iron_condor,
    "bull_put_spread": _bull_put_spread,
    "bear_call_spread": _bear_call_spread,
    "swing_momentum": _swing_momentum,
    "mean_reversion": _mean_reversion,
    "forecast_follow": _forecast_follow,
}


def prediction_id(symbol: str, strategy: str, entry_date: dt.date) -> str:
    """Deterministic id of an entry: re-materializing a day never duplicates a prediction."""
    return hashlib.sha256(f"{symbol}|{strategy}|{entry_date.isoformat()}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Position:
    """An entry, as recorded in ``strategy_predictions``, with what its exits need."""

    prediction_id: str
    symbol: str
    strategy: str
    signal_date: dt.date
    entry_date: dt.date
    direction: str
    confidence: float
    entry_price: float  # the underlying's open for directional trades; the credit for spreads
    underlying_entry: float
    predicted_return_pct: float
    stop: float  # underlying level (directional) or loss in credits (spreads)
    target: float  # underlying level (directional) or profit share of the credit (spreads)
    expiry: dt.date | None  # spreads: expiry date (entry + dte calendar days)
    legs: tuple[options.Leg, ...] = ()
    iv: float | None = None
    max_loss: float | None = None

    def params(self) -> str:
        body = {"direction": self.direction, "stop": self.stop, "target": self.target, "confidence": self.confidence}
        if self.legs:
            body |= {"legs": [list(leg) for leg in self.legs], "iv": self.iv, "max_loss": self.max_loss}
        return json.dumps(body, sort_keys=True)


def open_position(
    strategy: str, s: Signal, decision: Decision, entry_date: dt.date, open_price: float, rules: StrategyRules
) -> Position | None:
    """The position entered at ``open_price`` on ``entry_date``; None when it cannot be priced."""
    pid = prediction_id(s.symbol, strategy, entry_date)
    mu = s.point if _usable(s.point) else 0.0
    if strategy in SPREADS:
        if not _usable(s.iv) or s.iv <= 0:  # type: ignore[operator]
            return None
        t = rules.dte / 365.0
        spread = options.credit_spread(
            strategy,
            open_price,
            t,
            rules.risk_free_rate,
            s.iv,
            rules.width(open_price),
            rules.short_delta,  # type: ignore[arg-type]
        )
        if spread.credit <= 0 or spread.max_loss <= 0:
            return None
        expected = _expected_spread_return(spread, open_price, s, rules)
        return Position(
            pid, s.symbol, strategy, s.date, entry_date, decision.direction, decision.confidence, spread.credit,
            open_price, expected, rules.stop_loss, rules.profit_target,
            entry_date + dt.timedelta(days=rules.dte), spread.legs, s.iv, spread.max_loss,
        )  # fmt: skip
    sd = _move_sd(s, rules)
    if sd is None:
        return None
    sign = 1.0 if decision.direction == "long" else -1.0
    horizon_sd = s.volatility if _usable(s.volatility) else sd
    gross = math.exp(mu + 0.5 * horizon_sd**2) - 1.0  # type: ignore[operator]
    expected = sign * gross - 2.0 * rules.cost_per_side
    stop = open_price * math.exp(-sign * rules.stop_sigma * sd)
    target = open_price * math.exp(sign * rules.target_sigma * sd)
    return Position(
        pid, s.symbol, strategy, s.date, entry_date, decision.direction, decision.confidence, open_price,
        open_price, expected, stop, target, None,
    )  # fmt: skip


def _move_sd(s: Signal, rules: StrategyRules) -> float | None:
    """The standard deviation of the log return over the longest holding period."""
    vol = s.realized_vol_21 if _usable(s.realized_vol_21) and s.realized_vol_21 > 0 else None  # type: ignore[operator]
    return None if vol is None else vol * math.sqrt(rules.max_hold / 252.0)


def _expected_spread_return(spread: options.Spread, spot: float, s: Signal, rules: StrategyRules) -> float:
    """E[net P&L at expiry] / max loss, the log return to expiry normal with the champion's
    daily drift (longest horizon) and the GARCH volatility, scaled to the sessions until expiry."""
    sessions = rules.dte * 252.0 / 365.0
    drift = s.drift * sessions if _usable(s.drift) else 0.0  # type: ignore[operator]
    sd = s.iv * math.sqrt(sessions / 252.0)  # type: ignore[operator]
    value = options.expected_payoff(spread.legs, spot, drift, sd)
    premium = _premium(spread.legs, spot, rules.dte / 365.0, rules.risk_free_rate, s.iv)  # type: ignore[arg-type]
    costs = rules.cost_per_side * 2.0 * premium
    return (spread.credit - value - costs) / spread.max_loss


def _premium(legs: tuple[options.Leg, ...], s: float, t: float, r: float, sigma: float) -> float:
    return sum(options.black_scholes(kind, s, k, t, r, sigma) for kind, k, _ in legs)


@dataclass(frozen=True)
class Bar:
    date: dt.date
    open: float
    high: float
    low: float
    close: float


@dataclass(frozen=True)
class Exit:
    date: dt.date
    price: float  # underlying exit price (directional) or the spread's closing value
    reason: str  # stop | target | time | expiry
    pnl_pct: float  # net of costs
    holding_days: int  # sessions from entry to exit, both counted


def check_exit(position: Position, bar: Bar, held: int, last_session: bool, rules: StrategyRules) -> Exit | None:
    """Does the position exit on this bar? ``held``: sessions held, the entry day being 1.

    Exits are tested from the second session: directional trades with the bar's open, low
    and high (a gap through a level fills at the open; stop before target when both are
    touched), timed out at the close of session ``max_hold``; spreads at the close.
    ``last_session``: the bar is the last session on or before the spread's expiry.
    """
    if held < rules.min_hold:
        return None
    if position.strategy in SPREADS:
        return _spread_exit(position, bar, held, last_session, rules)
    long = position.direction == "long"
    fill = None
    if (long and bar.open <= position.stop) or (not long and bar.open >= position.stop):
        fill = (bar.open, "stop")
    elif (long and bar.low <= position.stop) or (not long and bar.high >= position.stop):
        fill = (position.stop, "stop")
    elif (long and bar.open >= position.target) or (not long and bar.open <= position.target):
        fill = (bar.open, "target")
    elif (long and bar.high >= position.target) or (not long and bar.low <= position.target):
        fill = (position.target, "target")
    elif held >= rules.max_hold:
        fill = (bar.close, "time")
    if fill is None:
        return None
    price, reason = fill
    sign = 1.0 if long else -1.0
    entry = position.entry_price
    pnl = sign * (price - entry) / entry - rules.cost_per_side * (1.0 + price / entry)
    return Exit(bar.date, price, reason, pnl, held)


def _spread_exit(position: Position, bar: Bar, held: int, last_session: bool, rules: StrategyRules) -> Exit | None:
    t = max((position.expiry - bar.date).days, 0) / 365.0  # type: ignore[operator]
    r, sigma = rules.risk_free_rate, position.iv
    if last_session or t <= 0:
        value, reason = options.payoff(position.legs, bar.close), "expiry"
    else:
        value = options.spread_value(position.legs, bar.close, t, r, sigma)  # type: ignore[arg-type]
        pnl = position.entry_price - value
        if pnl >= position.target * position.entry_price:
            reason = "target"
        elif -pnl >= position.stop * position.entry_price:
            reason = "stop"
        else:
            return None
    entry_premium = _premium(position.legs, position.underlying_entry, rules.dte / 365.0, r, sigma)  # type: ignore[arg-type]
    exit_premium = (
        sum(max(bar.close - k, 0.0) if kind == "call" else max(k - bar.close, 0.0) for kind, k, _ in position.legs)
        if reason == "expiry"
        else _premium(position.legs, bar.close, t, r, sigma)  # type: ignore[arg-type]
    )
    costs = rules.cost_per_side * (entry_premium + exit_premium)
    pnl_pct = (position.entry_price - value - costs) / position.max_loss  # type: ignore[operator]
    return Exit(bar.date, value, reason, pnl_pct, held)
