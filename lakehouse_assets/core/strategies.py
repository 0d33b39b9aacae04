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

Returns are fractions, net of costs (``cost_per_side`` of the traded notional: the
underlying for directional trades, the legs' premium for spreads), on the capital at
risk: a spread's maximum loss, a directional trade's notional (the entry price; one unit
of the underlying per trade).

``predicted_return_pct`` is the strategy's expected *realized* return: the expectation,
under the forecast distribution the strategy reads at entry, of what :func:`check_exit`
will book, with the same exits, holding period, marks and costs, in the same units as
``actual_pnl_pct``. The forecast distribution is a normal log return per session: for
directional trades the champion's ``forecast_horizon``-day point and volatility spread
over the sessions (:func:`session_moments`), for spreads the champion's daily drift and the
GARCH volatility per session (the implied-volatility proxy the spread is priced with).
Directional trades: Monte Carlo over :data:`PATHS` paths shared by every entry (fixed
seed), the intraday high and low drawn from the Brownian bridge
(:func:`expected_directional_return`). Spreads: backward induction on a grid of prices,
marked daily by Black–Scholes (:func:`expected_spread_return`). Both are deterministic:
an entry's prediction depends on its inputs only, never on the run it is computed in.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from lakehouse_assets.core import options

SPREADS = ("iron_condor", "bull_put_spread", "bear_call_spread")
DIRECTIONAL = ("swing_momentum", "mean_reversion", "forecast_follow")
STRATEGIES = SPREADS + DIRECTIONAL
UNKNOWN_REGIME = "unknown"  # the original's default regime_at_entry
SESSIONS_PER_YEAR = 252
PATHS = 1000  # Monte Carlo paths of the expected return (half of them antithetic)
SEED = 15  # the paths' seed: one set of draws for every entry (common random numbers)
_BLOCK = 64  # sessions drawn per path; longer lives draw a longer block
_GRID_STEPS_PER_SD = 6  # the spreads' grid: points per sd of one session's move ...
_GRID_WIDTH_SD = 7.0  # ... out to this many sd of the whole life's move
_KERNEL_WIDTH_SD = 7.0  # one session's move is discretized out to this many sd


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
    market_regime: str | None = None  # the index's regime that day (the market's)


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
    strategy: str,
    s: Signal,
    decision: Decision,
    entry_date: dt.date,
    open_price: float,
    rules: StrategyRules,
    sessions: Sequence[dt.date] | None = None,
) -> Position | None:
    """The position entered at ``open_price`` on ``entry_date``; None when it cannot be priced.

    ``sessions``: for spreads, the exchange's sessions from ``entry_date`` to the expiry
    (both included when they are sessions); None: weekdays. Directional trades count sessions.
    """
    pid = prediction_id(s.symbol, strategy, entry_date)
    if strategy in SPREADS:
        iv = s.iv
        if iv is None or not math.isfinite(iv) or iv <= 0:
            return None
        t = rules.dte / 365.0
        spread = options.credit_spread(
            strategy, open_price, t, rules.risk_free_rate, iv, rules.width(open_price), rules.short_delta
        )
        if spread.credit <= 0 or spread.max_loss <= 0:
            return None
        expiry = entry_date + dt.timedelta(days=rules.dte)
        life = list(sessions) if sessions is not None else _weekdays(entry_date, expiry)
        ages = [(d - entry_date).days for d in life if entry_date <= d <= expiry]
        mu = s.drift if s.drift is not None and math.isfinite(s.drift) else 0.0
        expected = expected_spread_return(spread, open_price, iv, mu, iv / math.sqrt(SESSIONS_PER_YEAR), ages, rules)
        return Position(
            pid, s.symbol, strategy, s.date, entry_date, decision.direction, decision.confidence, spread.credit,
            open_price, expected, rules.stop_loss, rules.profit_target, expiry, spread.legs, iv, spread.max_loss,
        )  # fmt: skip
    sd = _move_sd(s, rules)
    moments = session_moments(s, rules)
    if sd is None or moments is None:
        return None
    sign = 1.0 if decision.direction == "long" else -1.0
    stop = open_price * math.exp(-sign * rules.stop_sigma * sd)
    target = open_price * math.exp(sign * rules.target_sigma * sd)
    expected = expected_directional_return(
        sign, math.log(stop / open_price), math.log(target / open_price), *moments, rules
    )
    return Position(
        pid, s.symbol, strategy, s.date, entry_date, decision.direction, decision.confidence, open_price,
        open_price, expected, stop, target, None,
    )  # fmt: skip


def _weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    days = (start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5]


def _move_sd(s: Signal, rules: StrategyRules) -> float | None:
    """The standard deviation of the log return over the longest holding period (the
    stop and target distances): ``realized_vol_21`` scaled to ``max_hold`` sessions."""
    vol = s.realized_vol_21 if _usable(s.realized_vol_21) and s.realized_vol_21 > 0 else None  # type: ignore[operator]
    return None if vol is None else vol * math.sqrt(rules.max_hold / SESSIONS_PER_YEAR)


def session_moments(s: Signal, rules: StrategyRules) -> tuple[float, float] | None:
    """Mean and standard deviation of one session's log return under the forecast the
    strategy reads: the champion's ``forecast_horizon``-day point and volatility spread
    evenly over the sessions (point / h, volatility / sqrt(h)); without a champion
    forecast, no drift and ``realized_vol_21`` (annualized) per session. None: neither."""
    h = rules.forecast_horizon
    if _usable(s.point, s.volatility) and s.volatility >= 0:  # type: ignore[operator]
        return s.point / h, s.volatility / math.sqrt(h)  # type: ignore[operator]
    if _usable(s.realized_vol_21) and s.realized_vol_21 > 0:  # type: ignore[operator]
        return 0.0, s.realized_vol_21 / math.sqrt(SESSIONS_PER_YEAR)  # type: ignore[operator]
    return None


# --- the expected realized return: Monte Carlo with common random numbers --------------------


@functools.cache
def _draws(paths: int, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shared draws: standard normals of the session log returns and two uniforms in
    (0, 1] per session for the Brownian-bridge high and low, ``paths`` x ``steps`` (the first
    ``steps`` columns of a fixed block), the second half antithetic to the first (negated
    normals, high and low uniforms swapped: a short is the mirror image of a long).
    A fixed seed: every entry, on any day and in any run, sees the same draws."""
    half, block = max(paths // 2, 1), max(_BLOCK, steps)
    rng = np.random.default_rng(SEED)
    z = rng.standard_normal((half, block))
    u = 1.0 - rng.random((2, half, block))
    out = (
        np.concatenate([z, -z])[:, :steps],
        np.concatenate([u[0], u[1]])[:, :steps],
        np.concatenate([u[1], u[0]])[:, :steps],
    )
    for a in out:
        a.setflags(write=False)
    return out


def expected_directional_return(
    sign: float, stop: float, target: float, mu: float, sigma: float, rules: StrategyRules, paths: int = PATHS
) -> float:
    """E[net return on the notional] of a directional trade under its exit policy.

    ``sign``: +1 long, -1 short; ``stop``, ``target``: the levels as log returns from the
    entry (``log(level / entry)``); ``mu``, ``sigma``: one session's log-return mean and sd.
    The log price is a Brownian motion from the entry open with one unit of time per session
    (the entry day counts as one); a session opens at the previous close, its high and low
    are drawn from the Brownian bridge between its open and close. From session ``min_hold``
    the exits of :func:`check_exit` apply in its order (a stop at the open, a stop touched,
    a target at the open, a target touched; stop first) and the close of session ``max_hold``
    is the time exit; costs are ``cost_per_side`` of the notional each way.

    The estimate is the mean over :data:`PATHS` shared paths with the time-exit payoff at
    ``max_hold`` (no barriers) as a control variate, whose mean is closed-form: with barriers
    that are never reached, the estimate is exactly ``sign (G - 1) - cost (1 + G)``,
    ``G = exp(max_hold mu + max_hold sigma^2 / 2)``; with ``sigma = 0``, the path's outcome.
    """
    n, first = rules.max_hold, rules.min_hold - 1
    z, u_high, u_low = _draws(paths, n)
    x = np.cumsum(mu + sigma * z, axis=1)  # log close of sessions 1..n
    start = np.concatenate([np.zeros((x.shape[0], 1)), x[:, :-1]], axis=1)  # log open
    jump = (x - start) ** 2
    high = 0.5 * (start + x + np.sqrt(jump - 2.0 * sigma * sigma * np.log(u_high)))
    low = 0.5 * (start + x - np.sqrt(jump - 2.0 * sigma * sigma * np.log(u_low)))
    # in the trade's own direction (y = sign x): the stop is below, the target above
    if sign > 0:
        y_open, y_high, y_low, y_close = start, high, low, x
    else:
        y_open, y_high, y_low, y_close = -start, -low, -high, -x
    stop_y, target_y = sign * stop, sign * target
    o, h, lo, c = (a[:, first:] for a in (y_open, y_high, y_low, y_close))
    stop_hit, target_hit = lo <= stop_y, h >= target_y
    fill = np.where(
        o <= stop_y, o, np.where(stop_hit, stop_y, np.where(o >= target_y, o, np.where(target_hit, target_y, c)))
    )
    done = stop_hit | target_hit
    done[:, -1] = True
    exit_at = np.argmax(done, axis=1)
    ratio = np.exp(sign * fill[np.arange(fill.shape[0]), exit_at])  # exit price / entry price
    cost = rules.cost_per_side
    realized = sign * (ratio - 1.0) - cost * (1.0 + ratio)
    final = np.exp(x[:, -1])
    control = sign * (final - 1.0) - cost * (1.0 + final)
    growth = math.exp(n * mu + 0.5 * n * sigma * sigma)
    return float(np.mean(realized - control) + sign * (growth - 1.0) - cost * (1.0 + growth))


def expected_spread_return(
    spread: options.Spread,
    spot: float,
    iv: float,
    mu: float,
    sigma: float,
    ages: Sequence[int],
    rules: StrategyRules,
) -> float:
    """E[net P&L / max loss] of a credit spread under its exit policy.

    ``ages``: calendar days from the entry to each session of the position's life (0 for the
    entry day, the last one on or before the expiry); ``mu``, ``sigma``: one session's
    log-return mean and sd of the underlying (the champion's daily drift, the GARCH
    volatility per session). The log price moves one normal step per session from the entry
    open (the entry day included); the spread is marked at each close with Black–Scholes at
    ``iv`` and the remaining time, and from session ``min_hold`` exits as :func:`check_exit`
    does: at the profit target, at the stop, or at the last session for its value at expiry;
    costs are ``cost_per_side`` of the legs' premium at entry and at exit.

    Computed by backward induction on a grid of log prices (spacing ``sigma / 6``, +-7 sd of
    the whole life, the step's normal law discretized on the grid), once with the exits and
    once without; the difference is added to the closed-form at-expiry expectation
    (:func:`options.expected_intrinsic`), so that when neither the target nor the stop can be
    reached the result is that expectation exactly. ``sigma = 0``: the one path's outcome.
    """
    n = len(ages)
    first = rules.min_hold
    value = _SpreadReturns(spread, spot, iv, ages, rules)
    if sigma <= 0.0:
        for k in range(first, n):
            done, ret = value.at(np.array([k * mu]), np.array([k]))
            if done[0]:
                return float(ret[0])
        return float(value.at_expiry(np.array([n * mu]))[0])
    dx = sigma / _GRID_STEPS_PER_SD
    m = math.ceil((_GRID_WIDTH_SD * sigma * math.sqrt(n) + abs(mu) * n) / dx)
    x = dx * np.arange(-m, m + 1)
    j = math.ceil((_KERNEL_WIDTH_SD * sigma + abs(mu)) / dx)
    weights = np.exp(-0.5 * ((dx * np.arange(-j, j + 1) - mu) / sigma) ** 2)
    weights /= weights.sum()

    padded = np.empty(len(x) + 2 * j)  # one buffer for every step: np.full and concatenate cost more than the sum

    def step(w: np.ndarray) -> np.ndarray:  # E[w(x + one session's move)] on the grid, flat beyond it
        padded[:j], padded[j : j + len(w)], padded[j + len(w) :] = w[0], w, w[-1]
        return np.correlate(padded, weights, mode="valid")

    with_exits = without = value.at_expiry(x)
    sessions = list(range(first, n))
    # exits are tested from min_hold on: with none before expiry, the loop below never reads these
    done, ret = value.at(x[:, None], np.array(sessions)) if sessions else (np.empty((0, 0), bool), np.empty((0, 0)))
    for k in range(n - 1, 0, -1):
        with_exits = step(with_exits)
        without = step(without)
        if k >= first:
            i = k - first
            with_exits = np.where(done[:, i], ret[:, i], with_exits)
    correction = float(step(with_exits)[m] - step(without)[m])
    return correction + value.expected_at_expiry(mu * n, sigma * math.sqrt(n))


class _SpreadReturns:
    """A spread's net return on max loss at the close of a session of its life, given the
    underlying's log move ``x`` from the entry (arrays)."""

    def __init__(self, spread: options.Spread, spot: float, iv: float, ages: Sequence[int], rules: StrategyRules):
        self.spread, self.spot, self.iv, self.ages, self.rules = spread, spot, iv, ages, rules
        self.entry_premium = _premium(spread.legs, spot, rules.dte / 365.0, rules.risk_free_rate, iv)

    def at(self, x: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sessions ``k`` (1-based, before the last; broadcast with ``x``): does the spread
        exit there, and its return if it does."""
        rules, credit = self.rules, self.spread.credit
        s = self.spot * np.exp(x)
        t = (rules.dte - np.asarray(self.ages)[k - 1]) / 365.0
        prices = [
            options.black_scholes_array(kind == "call", s, k_, t, rules.risk_free_rate, self.iv)
            for kind, k_, _ in self.spread.legs
        ]
        pnl = credit + sum(q * p for (_, _, q), p in zip(self.spread.legs, prices, strict=True))
        done = (pnl >= rules.profit_target * credit) | (-pnl >= rules.stop_loss * credit)
        returns = (pnl - rules.cost_per_side * (self.entry_premium + sum(prices))) / self.spread.max_loss
        return np.asarray(done), np.asarray(returns)

    def at_expiry(self, x: np.ndarray) -> np.ndarray:
        s = self.spot * np.exp(x)
        intrinsic = [
            np.maximum(s - k, 0.0) if kind == "call" else np.maximum(k - s, 0.0) for kind, k, _ in self.spread.legs
        ]
        pnl = self.spread.credit + sum(q * v for (_, _, q), v in zip(self.spread.legs, intrinsic, strict=True))
        costs = self.rules.cost_per_side * (self.entry_premium + sum(intrinsic))
        returns: np.ndarray = (pnl - costs) / self.spread.max_loss
        return returns

    def expected_at_expiry(self, mean: float, sd: float) -> float:
        """E[:meth:`at_expiry`] when the log move to expiry is normal (``mean``, ``sd``)."""
        legs = self.spread.legs
        value = options.expected_payoff(legs, self.spot, mean, sd)
        premium = sum(options.expected_intrinsic(kind, k, self.spot, mean, sd) for kind, k, _ in legs)
        costs = self.rules.cost_per_side * (self.entry_premium + premium)
        return (self.spread.credit - value - costs) / self.spread.max_loss


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
