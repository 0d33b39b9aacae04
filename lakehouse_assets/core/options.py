"""Black–Scholes prices and the credit spreads of the options strategies.

European options on a non-dividend-paying underlying: spot ``s``, strike ``k``, years to
expiry ``t``, continuously compounded rate ``r``, annual volatility ``sigma``. A spread is
a list of legs ``(kind, strike, quantity)``: ``quantity`` +1 bought, -1 sold. Its *value*
is what closing it costs (positive for a short credit spread), so the P&L of a credit
spread opened for ``credit`` is ``credit - value``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

Leg = tuple[str, float, int]  # ("put" | "call", strike, +1 bought / -1 sold)


def black_scholes(kind: str, s: float, k: float, t: float, r: float, sigma: float) -> float:
    """The price of a European call or put; at or after expiry (t <= 0), its intrinsic value."""
    if t <= 0.0 or sigma <= 0.0:
        forward_k = k * math.exp(-r * max(t, 0.0))
        return max(s - forward_k, 0.0) if kind == "call" else max(forward_k - s, 0.0)
    sd = sigma * math.sqrt(t)
    d1 = (math.log(s / k) + (r + 0.5 * sigma * sigma) * t) / sd
    d2 = d1 - sd
    if kind == "call":
        return float(s * ndtr(d1) - k * math.exp(-r * t) * ndtr(d2))
    if kind == "put":
        return float(k * math.exp(-r * t) * ndtr(-d2) - s * ndtr(-d1))
    raise ValueError(f"unknown option kind {kind!r}; call or put")


def delta(kind: str, s: float, k: float, t: float, r: float, sigma: float) -> float:
    """dPrice/dSpot: N(d1) for a call, N(d1) - 1 for a put."""
    d1 = (math.log(s / k) + (r + 0.5 * sigma * sigma) * t) / (sigma * math.sqrt(t))
    return float(ndtr(d1) - (kind == "put"))


def strike_for_delta(kind: str, target: float, s: float, t: float, r: float, sigma: float) -> float:
    """The strike whose delta has magnitude ``target`` (e.g. 0.16), in closed form."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {target}")
    d1 = ndtri(target) if kind == "call" else -ndtri(target)
    return float(s * math.exp(-d1 * sigma * math.sqrt(t) + (r + 0.5 * sigma * sigma) * t))


def spread_value(legs: Sequence[Leg], s: float, t: float, r: float, sigma: float) -> float:
    """What closing the position costs: sold legs' prices minus bought legs'."""
    return -sum(q * black_scholes(kind, s, k, t, r, sigma) for kind, k, q in legs)


def payoff(legs: Sequence[Leg], s: float) -> float:
    """The position's value at expiry, as ``spread_value`` counts it."""
    return -sum(q * (max(s - k, 0.0) if kind == "call" else max(k - s, 0.0)) for kind, k, q in legs)


def expected_intrinsic(kind: str, k: float, s: float, mean: float, sd: float) -> float:
    """E[max(S - k, 0)] (call) or E[max(k - S, 0)] (put) at expiry when ``log(S / s)`` is
    normal (``mean``, ``sd``): Black's formula on the forward ``F = s exp(mean + sd^2 / 2)``,
    undiscounted."""
    forward = s * math.exp(mean + 0.5 * sd * sd)
    if sd <= 0.0:
        return max(forward - k, 0.0) if kind == "call" else max(k - forward, 0.0)
    d1 = (math.log(forward / k) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    if kind == "call":
        return float(forward * ndtr(d1) - k * ndtr(d2))
    return float(k * ndtr(-d2) - forward * ndtr(-d1))


def expected_payoff(legs: Sequence[Leg], s: float, mean: float, sd: float) -> float:
    """E[``payoff``] when the log return to expiry is normal (``mean``, ``sd``), leg by leg
    (:func:`expected_intrinsic`)."""
    return -sum(q * expected_intrinsic(kind, k, s, mean, sd) for kind, k, q in legs)


def black_scholes_array(
    call: np.ndarray | bool,
    s: np.ndarray,
    k: np.ndarray | float,
    t: np.ndarray | float,
    r: float,
    sigma: np.ndarray | float,
) -> np.ndarray:
    """:func:`black_scholes` on arrays (broadcast): ``call`` True for calls, False for puts.
    Every ``t`` and ``sigma`` must be positive (intrinsic values are the caller's)."""
    sd = sigma * np.sqrt(t)
    d1 = (np.log(s / k) + (r + 0.5 * sigma * sigma) * t) / sd
    d2 = d1 - sd
    discounted = k * np.exp(-r * t)
    if isinstance(call, bool):  # one leg: only its own formula
        return s * ndtr(d1) - discounted * ndtr(d2) if call else discounted * ndtr(-d2) - s * ndtr(-d1)
    call_price = s * ndtr(d1) - discounted * ndtr(d2)
    put_price = discounted * ndtr(-d2) - s * ndtr(-d1)
    return np.where(call, call_price, put_price)


@dataclass(frozen=True)
class Spread:
    """A credit spread as opened: legs, credit received and the most it can lose."""

    legs: tuple[Leg, ...]
    credit: float
    max_loss: float


def credit_spread(
    strategy: str, s: float, t: float, r: float, sigma: float, width: float, short_delta: float | None
) -> Spread:
    """``bull_put_spread``, ``bear_call_spread`` or ``iron_condor`` (both) at spot ``s``.

    The short strike is at ``short_delta`` (by delta) or one ``width`` out of the money
    (by width, ``short_delta`` None); the long strike is one ``width`` further out.
    """

    def short_strike(kind: str) -> float:
        if short_delta is not None:
            return strike_for_delta(kind, short_delta, s, t, r, sigma)
        return s - width if kind == "put" else s + width

    legs: list[Leg] = []
    if strategy in ("bull_put_spread", "iron_condor"):
        k = short_strike("put")
        legs += [("put", k, -1), ("put", k - width, 1)]
    if strategy in ("bear_call_spread", "iron_condor"):
        k = short_strike("call")
        legs += [("call", k, -1), ("call", k + width, 1)]
    if not legs:
        raise ValueError(f"unknown spread {strategy!r}")
    credit = spread_value(legs, s, t, r, sigma)
    # one side of a condor can finish in the money, never both: the loss is capped by one width
    return Spread(tuple(legs), credit, width - credit)
