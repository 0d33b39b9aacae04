"""A simulated equity universe for scale tests: a GARCH market factor, sector factors, idiosyncratic noise.

Conventions: returns are daily *log* returns as fractions (not percent); volatilities are
daily standard deviations of log returns unless a name says ``annual`` (x sqrt(252)). The
GARCH parameters are in the percent scale ``arch`` fits in (returns x 100), as fitted.

Model, for session ``t`` and symbol ``i`` in sector ``k(i)``::

    m_t    = (mu + sigma_t z_t) / 100           GARCH(1,1), z bootstrapped from the fit's residuals
    s_kt   = sector_vol_k * (sigma_t / sigma_bar) * e_kt       e ~ N(0, 1)
    r_it   = beta_i m_t + loading_i s_kt + idio_vol_i * (sigma_t / sigma_bar) * u_it
    close  = p0_i * exp(cumsum r)

Sector and idiosyncratic noise scale with the market's conditional volatility relative to
its unconditional level ``sigma_bar``, so calm and stressed periods are shared, as in real
data. Open gaps from the previous close by a small normal draw; high and low widen
``max/min(open, close)`` by a non-negative amount proportional to the day's volatility, so
the OHLC bounds hold by construction (and survive rounding, which is monotone). Volume is
lognormal around a per-symbol level and rises with the day's volatility.

Everything is drawn from one ``numpy.random.Generator`` seeded by ``seed`` in a fixed
order: the same inputs give the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SECTORS = (
    "Energy",
    "Materials",
    "Industrials",
    "Consumer Discretionary",
    "Consumer Staples",
    "Health Care",
    "Financials",
    "Information Technology",
    "Communication Services",
    "Utilities",
    "Real Estate",
)
TRADING_DAYS = 252
PRICE_DECIMALS = 4


@dataclass(frozen=True, eq=False)
class MarketModel:
    """A fitted GARCH(1,1) with constant mean, in percent units (returns x 100).

    ``residuals`` are the fit's standardized residuals (mean 0, variance 1 after
    :func:`standardize`), bootstrapped as the innovations.
    """

    mu: float
    omega: float
    alpha: float
    beta: float
    residuals: np.ndarray

    def __post_init__(self) -> None:
        if self.omega <= 0 or self.alpha < 0 or self.beta < 0 or self.alpha + self.beta >= 1:
            raise ValueError(
                f"GARCH(1,1) must be stationary with omega > 0: omega={self.omega}, alpha={self.alpha}, "
                f"beta={self.beta}"
            )
        if self.residuals.ndim != 1 or self.residuals.size < 2:
            raise ValueError("residuals must be a 1-d array of at least two values")

    @property
    def unconditional_vol(self) -> float:
        """Unconditional daily volatility, percent."""
        return float(np.sqrt(self.omega / (1.0 - self.alpha - self.beta)))


@dataclass(frozen=True, eq=False)
class Universe:
    """Simulated arrays; price and volume arrays are ``(sessions, symbols)``."""

    symbols: list[str]
    sectors: list[str]
    beta: np.ndarray
    market_return: np.ndarray  # (sessions,) daily log return, fraction
    market_vol: np.ndarray  # (sessions,) conditional daily vol, fraction
    sector_return: np.ndarray  # (sessions, 11) daily log return, fraction
    log_return: np.ndarray  # close-to-close daily log return, fraction
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def standardize(residuals: np.ndarray) -> np.ndarray:
    """Finite values rescaled to mean 0 and variance 1 (the bootstrap's innovations)."""
    z = np.asarray(residuals, dtype=float)
    z = z[np.isfinite(z)]
    standardized: np.ndarray = (z - z.mean()) / z.std()
    return standardized


def simulate_garch(model: MarketModel, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` daily log returns and their conditional vols (both fractions), starting at the
    unconditional variance, innovations drawn with replacement from ``model.residuals``."""
    z = rng.choice(model.residuals, size=n, replace=True)
    returns = np.empty(n)
    sigma2 = np.empty(n)
    variance = model.omega / (1.0 - model.alpha - model.beta)
    for t in range(n):
        sigma2[t] = variance
        shock = np.sqrt(variance) * z[t]
        returns[t] = model.mu + shock
        variance = model.omega + model.alpha * shock * shock + model.beta * variance
    return returns / 100.0, np.sqrt(sigma2) / 100.0


def symbol_names(n: int) -> list[str]:
    """``SIM0001``, ``SIM0002``, ... (at least four digits)."""
    width = max(4, len(str(n)))
    return [f"SIM{i:0{width}d}" for i in range(1, n + 1)]


def simulate_universe(model: MarketModel, n_symbols: int, n_sessions: int, seed: int) -> Universe:
    """The universe of ``n_symbols`` over ``n_sessions`` sessions; sectors round-robin in :data:`SECTORS`."""
    if n_symbols < 1 or n_sessions < 1:
        raise ValueError(f"need at least one symbol and one session, got {n_symbols} and {n_sessions}")
    rng = np.random.default_rng(seed)
    n, s, k = n_sessions, n_symbols, len(SECTORS)

    market, market_vol = simulate_garch(model, n, rng)
    regime = market_vol / (model.unconditional_vol / 100.0)  # 1 on an average day

    sector_vol = rng.uniform(0.08, 0.16, size=k) / np.sqrt(TRADING_DAYS)
    sector = rng.standard_normal((n, k)) * sector_vol * regime[:, None]

    sector_of = np.arange(s) % k
    beta = np.clip(rng.normal(1.0, 0.3, size=s), 0.3, 2.0)
    loading = rng.uniform(0.6, 1.4, size=s)
    idio_vol = np.clip(np.exp(rng.normal(np.log(0.25), 0.35, size=s)), 0.10, 0.60) / np.sqrt(TRADING_DAYS)
    idio = rng.standard_normal((n, s)) * idio_vol * regime[:, None]
    log_return = beta * market[:, None] + loading * sector[:, sector_of] + idio

    day_vol = np.sqrt(
        (beta * market_vol[:, None]) ** 2
        + (loading * sector_vol[sector_of] * regime[:, None]) ** 2
        + (idio_vol * regime[:, None]) ** 2
    )
    p0 = np.exp(rng.uniform(np.log(10.0), np.log(500.0), size=s))
    close = p0 * np.exp(np.cumsum(log_return, axis=0))
    previous = np.vstack([p0[None, :], close[:-1]])
    gap = rng.standard_normal((n, s)) * 0.2 * day_vol
    open_ = previous * np.exp(gap)
    high = np.maximum(open_, close) * np.exp(rng.exponential(0.5, size=(n, s)) * day_vol)
    low = np.minimum(open_, close) * np.exp(-rng.exponential(0.5, size=(n, s)) * day_vol)

    level = np.exp(rng.normal(np.log(1e6), 1.0, size=s))
    typical_vol = day_vol.mean(axis=0)
    volume = level * np.exp(rng.normal(0.0, 0.3, size=(n, s))) * (day_vol / typical_vol)
    volume = np.maximum(np.round(volume), 1.0)

    def price(x: np.ndarray) -> np.ndarray:
        return np.round(x, PRICE_DECIMALS)

    return Universe(
        symbols=symbol_names(s),
        sectors=[SECTORS[j] for j in sector_of],
        beta=beta,
        market_return=market,
        market_vol=market_vol,
        sector_return=sector,
        log_return=log_return,
        open=price(open_),
        high=price(high),
        low=price(low),
        close=price(close),
        volume=volume,
    )


def weekly_sentiment(
    log_return: np.ndarray, rows: np.ndarray, seed: int, lookback: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Scores in [-1, 1] and confidences in [0, 1] for the session indices ``rows``
    (``(len(rows), symbols)``): the tanh of the trailing ``lookback``-session return over
    its typical size, plus noise, so sentiment leans with recent moves."""
    rng = np.random.default_rng([seed, 1])  # its own stream: adding sentiment does not change the bars
    cumulative = np.vstack([np.zeros((1, log_return.shape[1])), np.cumsum(log_return, axis=0)])
    stop = np.asarray(rows) + 1
    trailing = cumulative[stop] - cumulative[np.maximum(stop - lookback, 0)]
    scale = log_return.std(axis=0) * np.sqrt(lookback) + 1e-12
    score = np.tanh(trailing / scale * 0.5 + rng.normal(0.0, 0.3, size=trailing.shape))
    confidence = rng.uniform(0.3, 0.95, size=trailing.shape)
    return np.round(score, 4), np.round(confidence, 4)
