"""Forecasts of h-day log returns: six models, fitted on a cadence, filtered daily.

Target: the log return from the close of the origin session D to the close ``h`` sessions
later (the sum of the next ``h`` daily log returns), for each configured horizon. Every
model gives its mean and variance; intervals are normal around the mean (80%: +-1.2816
sd, 95%: +-1.96 sd), ``volatility`` is the forecast standard deviation of the h-day
return (a fraction, not annualized) and ``prob_up`` the probability that it is positive.

Cost discipline: ``fit`` (order selection, parameter estimation, training) runs only on
refit dates (the first session of each week or month, or every session, by config) and
returns a *state*; on every session the forecasts apply the state of the latest refit
date to the data up to D without re-estimating anything (fixed-parameter Kalman filtering
for ARIMA/SARIMAX, ``arch``'s ``fix`` for GARCH, the stored eigenvectors for SSA, the
stored estimator for the classifier). A state is a function of the data window ending at
its refit date R, and a forecast of its state and the *span* from the first session of R's
window up to D (the fit's window plus the sessions since R), so a day's forecast is the
same alone or in a backfill and never sees data after D; the days of one refit are
forecast together, one filter pass for all of them (a filter's state after D does not
depend on what follows D). The ARIMA order search is pmdarima's stepwise ``auto_arima``
or, cheaper at the same accuracy (``bench/forecast_bench.py``), the whole grid ranked at
Hannan-Rissanen estimates (``order_search``); ARIMA parameters are re-estimated on every
refit date or only with the order search (``arima_refit``).

Windows count sessions: the window of day X holds the bars of the last ``fit_window``
sessions up to X. Models compute in percent returns internally (better conditioned).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import json
import math
import pickle
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

if TYPE_CHECKING:
    from types import TracebackType

    import polars as pl

Z80, Z95 = 1.2815515655446004, 1.959963984540054
MODELS = ("naive", "auto_arima", "sarimax", "garch", "ssa", "direction_classifier")
# models that run together in one pool task (sarimax reuses auto_arima's order); about equal cost
MODEL_GROUPS = (("auto_arima", "sarimax"), ("direction_classifier",), ("naive", "garch", "ssa"))
CADENCES = ("daily", "weekly", "monthly")
# arch's names of the volatility processes and error distributions used here
GarchVol = Literal["GARCH", "EGARCH"]
GarchDist = Literal["normal", "t", "skewt"]
# kind -> (p, o, q, volatility process)
GARCH_KINDS: dict[str, tuple[int, int, int, GarchVol]] = {
    "garch": (1, 0, 1, "GARCH"),
    "gjr": (1, 1, 1, "GARCH"),
    "egarch": (1, 0, 1, "EGARCH"),
}
# the ARIMA order search: pmdarima's stepwise auto_arima (exact likelihood of each candidate it
# visits), or the whole grid ranked by the likelihood at Hannan-Rissanen estimates (approximate)
ORDER_SEARCHES = ("stepwise", "approximate")
# when auto_arima and sarimax re-estimate their parameters: on every refit date (cadence), or
# only with the order search (order_selection; the refits in between filter those estimates)
ARIMA_REFITS = ("cadence", "order_selection")
# a model's fit: JSON-like parameters (the classifier's hold its fitted estimators too), pickled
# into ``model_fits``; each model reads its own keys
State = dict[str, Any]


@dataclass(frozen=True)
class ForecastSettings:
    """``config/forecasting.yaml``."""

    horizons: tuple[int, ...]
    models: tuple[str, ...]
    fit_window: int
    min_observations: int
    cadence: str
    order_selection: str
    arima_max_p: int
    arima_max_q: int
    arima_maxiter: int
    sarimax_exog: tuple[str, ...]
    garch_kind: str
    garch_dist: str
    ssa_window: int
    ssa_energy: float
    classifier_features: tuple[str, ...]
    classifier_validation_fraction: float
    classifier_min_sharpe: float
    classifier_min_win_rate: float
    replay_size: int = 1000
    replay_weight: float = 3.0
    replay_min_confidence: float = 0.6
    seed: int = 0
    order_search: str = "approximate"  # ORDER_SEARCHES
    arima_refit: str = "cadence"  # ARIMA_REFITS

    @property
    def feature_columns(self) -> list[str]:
        """The ``features`` columns the models read: the classifier's and SARIMAX's regressors."""
        return sorted(set(self.classifier_features) | set(self.sarimax_exog))


@dataclass
class Window:
    """One symbol's data over a window of sessions, oldest first.

    ``returns[i]`` is the log return into ``dates[i]`` (fraction; NaN for a symbol's first
    bar), ``log_close[i]`` the log close, ``features`` the feature columns (NaN = null).
    """

    dates: np.ndarray
    returns: np.ndarray
    log_close: np.ndarray
    features: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.dates)

    def clean_returns(self) -> np.ndarray:
        clean: np.ndarray = self.returns[~np.isnan(self.returns)]
        return clean


@dataclass(frozen=True)
class Prediction:
    horizon: int
    mean: float
    variance: float
    prob_up: float | None = None


# --- the models ------------------------------------------------------------------------


class _Silenced:
    """Silence estimator chatter (convergence, frequency, overflow): states record convergence instead."""

    def __enter__(self) -> None:
        self._guard = warnings.catch_warnings()
        self._guard.__enter__()
        warnings.simplefilter("ignore")
        self._settings = np.seterr(all="ignore")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        np.seterr(**self._settings)
        self._guard.__exit__(kind, error, traceback)


def _normal_up(mean: float, variance: float) -> float:
    if variance <= 0:
        return 0.5 if mean == 0 else float(mean > 0)
    return 0.5 * (1.0 + math.erf(mean / math.sqrt(2.0 * variance)))


def naive_fit(window: Window, settings: ForecastSettings) -> State:
    """The random walk has nothing to estimate."""
    return {}


def naive_forecasts(
    state: State, span: Window, ends: Sequence[int], settings: ForecastSettings
) -> list[list[Prediction]]:
    """Random walk: mean 0; variance h * the sample variance of the daily returns up to the origin."""
    out = []
    for end in ends:
        r = span.returns[:end]
        var = float(np.var(r[~np.isnan(r)], ddof=1))
        out.append([Prediction(h, 0.0, h * var, 0.5) for h in settings.horizons])
    return out


def _cumulative_arma(means: np.ndarray, ar: np.ndarray, ma: np.ndarray, sigma2: float, h: int) -> tuple[float, float]:
    """Mean and variance of the sum of the next ``h`` values of an ARMA process.

    The error of the sum loads ``Psi_j = psi_0 + ... + psi_j`` on the shock ``h - j`` steps
    ahead, so its variance is ``sigma2 * sum_{j<h} Psi_j^2`` (psi: the MA(inf) weights).
    """
    from statsmodels.tsa.arima_process import arma2ma

    psi = arma2ma(np.r_[1.0, -ar], np.r_[1.0, ma], lags=h)
    return float(means[:h].sum()), float(sigma2 * np.sum(np.cumsum(psi) ** 2))


def _sarimax(endog: np.ndarray, order: tuple[int, int, int], trend: str, exog: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    """A statsmodels SARIMAX; forecasts filter it with fixed parameters (no covariance)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    return SARIMAX(endog, exog=exog, order=order, trend=trend)


def _estimate(
    y: np.ndarray,
    order: tuple[int, int, int],
    trend: str,
    maxiter: int,
    exog: np.ndarray | None = None,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, float, bool]:
    """Maximum likelihood of a SARIMAX: parameters in statsmodels' order with ``sigma2`` last,
    AIC, and whether the optimizer converged. ``start`` includes ``sigma2`` (ignored).

    The scale is concentrated out of the likelihood (one parameter fewer for L-BFGS and its
    finite-difference gradient: about a quarter fewer evaluations) and appended afterwards;
    neither the parameters' covariance nor the smoothed states are computed (never used).
    White noise, order (0, 0, 0), has its maximum in closed form (``_white_noise_estimate``).
    """
    if tuple(order) == (0, 0, 0):
        return _white_noise_estimate(y, trend, exog)
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    concentrated = SARIMAX(y, exog=exog, order=order, trend=trend, concentrate_scale=True)
    result = concentrated.fit(
        start_params=None if start is None else np.asarray(start)[:-1],
        maxiter=maxiter,
        disp=False,
        cov_type="none",
        low_memory=True,
    )
    converged = bool(result.mle_retvals.get("converged", True)) if result.mle_retvals else True
    return np.r_[result.params, result.scale], float(result.aic), converged


def _white_noise_estimate(y: np.ndarray, trend: str, exog: np.ndarray | None = None) -> tuple[np.ndarray, float, bool]:
    """``_estimate``'s answer for order (0, 0, 0): the exact Gaussian maximum likelihood.

    Without AR or MA terms the model is ``y = c + X beta + e`` with independent normal errors
    (statsmodels' state is the current shock, transition 0, stationary start), so the
    likelihood's maximum is ordinary least squares: the coefficients by ``lstsq`` (the sample
    mean alone for a constant without regressors; nothing for trend "n" without them) and
    ``sigma2 = RSS / n``. About 60% of the selected orders are white noise, and L-BFGS with
    finite-difference gradients took about 7 ms CPU (SARIMAX with two regressors, 750 returns)
    to reach this point only to its tolerance, against 2 ms here (mostly the loglikelihood)
    (``tests/core/test_forecast_closed_form.py`` compares with statsmodels' own fit: the
    parameters agree to its tolerance and the likelihood here is never lower).

    Parameters are in statsmodels' order (constant, regressors, ``sigma2``); the AIC is
    statsmodels' loglikelihood at them, ``-2 llf + 2 k`` with ``k`` counting ``sigma2``, the
    definition of a fitted result's ``aic`` with the scale concentrated out.
    """
    if exog is None and trend == "n":
        params = np.array([float(np.mean(y**2))])
    elif exog is None:
        mean = float(np.mean(y))
        params = np.array([mean, float(np.mean((y - mean) ** 2))])
    else:
        design = exog if trend == "n" else np.column_stack([np.ones(len(y)), exog])
        beta = np.linalg.lstsq(design, y, rcond=None)[0]
        resid = y - design @ beta
        params = np.r_[beta, float(resid @ resid) / len(y)]
    loglike = float(_sarimax(y, (0, 0, 0), trend, exog).loglike(params))
    return params, -2.0 * loglike + 2.0 * len(params), True


def _filtered(model, params: np.ndarray):  # type: ignore[no-untyped-def]
    """``model``'s Kalman filter run with fixed ``params``, keeping only the predicted states
    (what ``_mean_paths`` reads): statsmodels' raw ``FilterResults``.

    The model's own ``filter`` would do the same two steps (``update`` puts the parameters
    into the state-space matrices, ``ssm.filter`` runs the filter) and then name the
    parameters and wrap the output in a results object, which the forecasts never read:
    that was 40% of the filter's cost (about 0.35 ms a model, two models a symbol and day).
    The ARMA's parameters are read from ``params`` by ``_arma_parts``."""
    from statsmodels.tsa.statespace import kalman_filter as kf

    keep_only_predicted_states = (
        kf.MEMORY_NO_FORECAST
        | kf.MEMORY_NO_PREDICTED_COV
        | kf.MEMORY_NO_FILTERED
        | kf.MEMORY_NO_LIKELIHOOD
        | kf.MEMORY_NO_GAIN
        | kf.MEMORY_NO_SMOOTHING
        | kf.MEMORY_NO_STD_FORECAST
    )
    model.update(params, transformed=True)
    return model.ssm.filter(conserve_memory=keep_only_predicted_states)


def _arma_parts(model, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:  # type: ignore[no-untyped-def]
    """The AR and MA coefficients and the innovation variance in a SARIMAX's ``params``
    (statsmodels' order: trend, regressors, AR, MA, variance), the slices its results
    object calls ``arparams``, ``maparams`` and the last parameter."""
    first = model.k_trend + model.k_exog
    ar = params[first : first + model.k_ar_params]
    ma = params[first + model.k_ar_params : first + model.k_ar_params + model.k_ma_params]
    return ar, ma, float(params[-1])


def _filter_arma(
    y: np.ndarray, order: tuple[int, int, int], trend: str, params: np.ndarray, exog: np.ndarray | None = None
) -> tuple[Any, np.ndarray, np.ndarray, float]:
    """The SARIMAX of ``order``, ``trend`` and ``exog`` filtered over ``y`` with fixed ``params``
    (``_filtered``), and its AR and MA coefficients and variance (``_arma_parts``).

    White noise, order (0, 0, 0), has nothing to filter: its state is the current shock, its
    transition is zero, so statsmodels' one-step predicted state after any observations is
    the state intercept (the constant, or 0 without one), ``0 x a + c``, which is ``c`` to the
    bit. Its filter output is then written down instead of computed (``_white_noise``): about
    60% of the symbols' ARIMA and SARIMAX orders are (0, 0, 0), and building and filtering their
    statsmodels models was a third of an ordinary day's forecasts. The regressors of a SARIMAX
    enter the mean paths through ``_mean_paths``' intercept, not through the filter's state."""
    if order == (0, 0, 0):
        constant = float(params[0]) if trend == "c" else 0.0
        return _white_noise(constant, len(y)), params[:0], params[:0], float(params[-1])
    model = _sarimax(y, order, trend, exog)
    return _filtered(model, params), *_arma_parts(model, params)


def _white_noise(constant: float, nobs: int) -> SimpleNamespace:
    """What ``_mean_paths`` reads of statsmodels' filter output for a SARIMAX of order (0, 0, 0)
    with state intercept ``constant`` over ``nobs`` observations: design 1, transition 0, the
    last state intercept, and the predicted state after each observation: the constant. The
    state before the first observation (statsmodels' initialization) is left NaN: no origin
    reads it, every one has observations before it."""
    predicted = np.full((1, nobs + 1), constant)
    predicted[0, 0] = np.nan
    return SimpleNamespace(
        design=np.ones((1, 1, 1)),
        transition=np.zeros((1, 1, 1)),
        state_intercept=np.full((1, 1), constant),
        predicted_state=predicted,
    )


def _observed(values: np.ndarray, ends: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Which ``values`` are not NaN, and how many of those lie before each of ``ends``."""
    ok = ~np.isnan(values)
    return ok, np.cumsum(ok)[np.asarray(ends) - 1]


def _combine(matrix: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``matrix @ vectors`` summed term by term in a fixed order, so that a column's result
    does not depend on how many columns there are (a BLAS product may change kernels)."""
    out: np.ndarray = matrix[:, :1] * vectors[:1]
    for i in range(1, matrix.shape[1]):
        out = out + matrix[:, i : i + 1] * vectors[i : i + 1]
    return out


def _mean_paths(filtered, counts: np.ndarray, steps: int, intercept: np.ndarray | float = 0.0) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Means of the next ``steps`` observations after the first ``counts[i]`` observations
    (row i), from the filter's one-step predicted state there, run on without data:
    ``y = Z a + intercept``, ``a <- T a + c``. One filter over the longest span serves every
    origin: the state after n observations is the same whatever follows them.
    ``filtered``: statsmodels' ``FilterResults`` (a results object's ``filter_results``)."""
    design, transition = filtered.design[:, :, 0], filtered.transition[:, :, 0]
    constant = filtered.state_intercept[:, -1:]
    state = filtered.predicted_state[:, counts]
    paths = np.empty((len(counts), steps))
    for j in range(steps):
        paths[:, j] = _combine(design, state)[0] + intercept
        state = _combine(transition, state) + constant
    return paths


def _arma_predictions(
    paths: np.ndarray, ar: np.ndarray, ma: np.ndarray, sigma2: float, settings: ForecastSettings
) -> list[list[Prediction]]:
    """Predictions of percent-return mean paths (rows) with the ARMA's cumulative variance
    (``_cumulative_arma``'s, from one set of MA(inf) weights for every horizon)."""
    from statsmodels.tsa.arima_process import arma2ma

    psi = arma2ma(np.r_[1.0, -ar], np.r_[1.0, ma], lags=max(settings.horizons))
    variances = {h: float(sigma2 * np.sum(np.cumsum(psi[:h]) ** 2)) for h in settings.horizons}
    out = []
    for path in paths:
        row = []
        for h in settings.horizons:
            mean, var = float(path[:h].sum()), variances[h]
            row.append(Prediction(h, mean / 100.0, var / 1e4, _normal_up(mean, var)))
        out.append(row)
    return out


def auto_arima_fit(window: Window, settings: ForecastSettings) -> State:
    """pmdarima ``auto_arima`` over a bounded grid (stepwise, d = 0 on returns, AIC)."""
    import pmdarima as pm

    y = window.clean_returns() * 100.0
    with _Silenced():
        model = pm.auto_arima(
            y,
            start_p=0,
            start_q=0,
            max_p=settings.arima_max_p,
            max_q=settings.arima_max_q,
            d=0,
            seasonal=False,
            stepwise=True,
            information_criterion="aic",
            suppress_warnings=True,
            error_action="ignore",
            maxiter=settings.arima_maxiter,
            cov_type="none",
            low_memory=True,
        )
    result = model.arima_res_
    return {
        "order": list(model.order),
        "trend": "c" if model.with_intercept else "n",
        "order_selected_on": str(window.dates[-1].astype("datetime64[D]")) if len(window) else None,
        "params": [float(p) for p in result.params],
        "aic": float(result.aic),
        "converged": bool(result.mle_retvals.get("converged", True)) if result.mle_retvals else True,
    }


def approximate_order_search(window: Window, settings: ForecastSettings) -> State:
    """The order search of ``auto_arima_fit`` made cheap: every candidate of the same grid
    (``p <= max_p``, ``q <= max_q``, ``d = 0``, with and without a constant) is scored by AIC
    at its Hannan-Rissanen estimates (statsmodels: least-squares regressions on the demeaned
    returns, no optimizer) through one exact Kalman-filter likelihood, instead of at its maximum
    likelihood; the chosen order is then estimated by exact maximum likelihood from them.
    Candidates whose regression estimates are not stationary or not invertible are passed
    over. The same approximation as R's ``auto.arima`` (and statsforecast's
    ``approximation=True``), which score candidates by conditional sum of squares.
    """
    y = window.clean_returns() * 100.0
    level = float(y.mean())
    best: tuple[float, tuple[int, int, int], str, np.ndarray] | None = None
    long_ar: dict[int, np.ndarray] = {}  # the first stage of Hannan-Rissanen, shared by the orders
    with _Silenced():
        for p in range(settings.arima_max_p + 1):
            for q in range(settings.arima_max_q + 1):
                # one regression per order, on the demeaned returns; with a constant (the mean
                # times 1 - sum(ar)) and without (the returns' mean is close to 0 either way)
                fitted = _hannan_rissanen(y - level, p, q, long_ar)
                if not (fitted.is_stationary and fitted.is_invertible):
                    continue
                ar, ma = np.asarray(fitted.ar_params, float), np.asarray(fitted.ma_params, float)
                # a constant of 0 gives the likelihood without one (to ~1e-9): one model scores both
                model = _sarimax(y, (p, 0, q), "c")
                for trend, constant in (("c", level * (1.0 - ar.sum())), ("n", 0.0)):
                    start = np.r_[constant, ar, ma, fitted.sigma2]
                    k = len(start) - (trend == "n")
                    aic = -2.0 * model.loglike(start) + 2.0 * k
                    if best is None or aic < best[0]:
                        best = (aic, (p, 0, q), trend, start[(trend == "n") :])
        assert best is not None  # white noise, (0, 0, 0), is always a candidate
        _, order, trend, start = best
        params, aic, converged = _estimate(y, order, trend, settings.arima_maxiter, start=start)
    return {
        "order": list(order),
        "trend": trend,
        "order_selected_on": str(window.dates[-1].astype("datetime64[D]")) if len(window) else None,
        "params": [float(p) for p in params],
        "aic": aic,
        "converged": converged,
    }


def _hannan_rissanen(x: np.ndarray, p: int, q: int, long_ar: dict[int, np.ndarray]) -> Any:
    """statsmodels' ``hannan_rissanen(x, ar_order=p, ma_order=q, demean=False)``'s estimates
    (its ``SARIMAXParams``), the same bits, at about half its cost over the search's grid
    (25 instead of 46 s CPU for the 9 orders of 1,200 windows of 750 returns).

    The procedure (statsmodels 0.15, no fixed parameters) has three steps for ``q > 0``: a
    long AR by Yule-Walker gives residuals; the ARMA is a regression on lagged values and
    lagged residuals; if that is stationary and invertible, a bias correction filters the
    series through the ARMA and regresses again. Two parts of it are done differently here,
    with the same arithmetic:

    * the long AR's residuals depend only on ``x`` and the long order (43 lags for 750
      returns), not on ``(p, q)``: they are computed once per series and order and kept in
      ``long_ar`` (the caller's, for one series), instead of once per candidate;
    * the correction's filter was a Python loop of two ``np.dot`` calls per observation
      (about 85% of the procedure's cost): ``_bias_filter``.

    ``q = 0`` (least squares or a variance, no long AR) is statsmodels' own function.
    ``tests/core/test_forecast_closed_form.py`` compares the two on the grid of orders.
    """
    from scipy.signal import lfilter
    from statsmodels.regression.linear_model import OLS, yule_walker
    from statsmodels.tsa.arima.estimators.hannan_rissanen import _validate_order_params, hannan_rissanen
    from statsmodels.tsa.arima.params import SARIMAXParams
    from statsmodels.tsa.arima.specification import SARIMAXSpecification
    from statsmodels.tsa.tsatools import lagmat

    if q == 0:
        return hannan_rissanen(x, ar_order=p, ma_order=q, demean=False)[0]
    spec = SARIMAXSpecification(x, ar_order=p, ma_order=q)
    fitted = SARIMAXParams(spec=spec)
    nobs = len(x)
    initial = max(int(np.floor(np.log(nobs) ** 2)), 2 * max(p, q))
    _validate_order_params(nobs, p, q, initial)
    if initial not in long_ar:
        initial_params, _ = yule_walker(x, order=initial, method="mle", result_object=False)
        long_ar[initial] = x[initial:] - lagmat(x, initial, trim="both").dot(initial_params)
    # the columns taken as statsmodels takes them (an index array: a C-ordered copy), so that
    # the regressions see the same memory layout, and BLAS sums in the same order
    ar_lags, ma_lags = np.arange(p), np.arange(q)
    lagged_x = lagmat(x, p, trim="both")
    lagged_resid = lagmat(long_ar[initial], q, trim="both")
    regressors = np.c_[lagged_x[initial + q - p :, ar_lags], lagged_resid[:, ma_lags]]
    regression = OLS(x[initial + q :], regressors).fit()
    fitted.ar_params = list(regression.params[:p])
    fitted.ma_params = list(regression.params[p:])
    fitted.sigma2 = regression.scale
    if fitted.is_stationary and fitted.is_invertible:
        ar_coef, ma_coef = fitted.ar_poly.coef, fitted.ma_poly.coef
        z = _bias_filter(x, -ar_coef[1:], ma_coef[1:])
        v = lfilter([1], ar_coef, z)
        w = lfilter(np.r_[1, -ma_coef[1:]], [1], z)
        exog = np.c_[
            lagmat(v, p, trim="both")[max(q - p, 0) :, ar_lags], lagmat(w, q, trim="both")[max(p - q, 0) :, ma_lags]
        ]
        correction = OLS(z[max(p, q) :], exog).fit()
        fitted.ar_params = fitted.ar_params + correction.params[:p]
        fitted.ma_params = fitted.ma_params + correction.params[p:]
        resid = regression.model.endog - regression.model.exog.dot(np.r_[fitted.ar_params, fitted.ma_params])
        fitted.sigma2 = np.inner(resid, resid) / len(resid)
    return fitted


def _bias_filter(x: np.ndarray, phi: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The series of statsmodels' Hannan-Rissanen bias correction, the same bits:
    ``z[t] = x[t] - np.dot(phi, x[t-p:t][::-1]) - np.dot(theta, z[t-q:t][::-1])`` from
    ``t = max(p, q)`` on, 0 before.

    numpy's dot of these short strided vectors is, with this build's OpenBLAS, a running sum
    of fused multiply-adds (``acc = fma(a_k, b_k, acc)`` from ``acc = +0.0``), which no
    vectorized numpy operation reproduces once there are two terms. One term is ``a * b + 0.0`` in plain arithmetic (the
    addition only turns a product of -0.0 into +0.0, as the fma does), so a lag polynomial of
    degree 1 needs no call to ``np.dot``: an AR(1) term is one vector product for the whole
    series, and an MA(1) recursion is a loop over Python floats. Longer polynomials call
    ``np.dot`` itself on the same vectors, term by term, as statsmodels does.
    """
    p, q, nobs = len(phi), len(theta), len(x)
    start = max(p, q)
    ar_terms = np.zeros(nobs)
    if p == 1:
        ar_terms[start:] = phi[0] * x[start - 1 : nobs - 1] + 0.0
    elif p > 1:
        reversed_lags = np.lib.stride_tricks.sliding_window_view(x, p)[:, ::-1]  # row t - p: x[t-p:t][::-1]
        ar_terms[start:] = [np.dot(phi, reversed_lags[t - p]) for t in range(start, nobs)]
    if q == 1:
        known, slope = (x - ar_terms).tolist(), float(theta[0])
        series = [0.0] * nobs
        for t in range(start, nobs):
            series[t] = known[t] - (slope * series[t - 1] + 0.0)
        return np.array(series)
    z = np.zeros_like(x)
    reversed_z = np.lib.stride_tricks.sliding_window_view(z, q)[:, ::-1]  # a view: sees z as it fills
    for t in range(start, nobs):
        z[t] = x[t] - ar_terms[t] - np.dot(theta, reversed_z[t - q])
    return z


ORDER_SEARCH = {"stepwise": auto_arima_fit, "approximate": approximate_order_search}


def arima_estimate(window: Window, settings: ForecastSettings, selected: State) -> State:
    """Re-estimate the parameters of an order chosen earlier (no order search), starting
    from the selection's estimates (a function of the selection's window only)."""
    y = window.clean_returns() * 100.0
    with _Silenced():
        params, aic, converged = _estimate(
            y, tuple(selected["order"]), selected["trend"], settings.arima_maxiter, start=selected["params"]
        )
    return {
        "order": list(selected["order"]),
        "trend": selected["trend"],
        "params": [float(p) for p in params],
        "aic": aic,
        "converged": converged,
        "order_selected_on": selected.get("order_selected_on"),
    }


def auto_arima_forecasts(
    state: State, span: Window, ends: Sequence[int], settings: ForecastSettings
) -> list[list[Prediction]]:
    """The selected ARIMA with the refit's parameters, Kalman-filtered once over the span;
    each origin's forecast runs on from the predicted state at its end."""
    y = span.returns * 100.0
    ok, counts = _observed(y, ends)
    with _Silenced():
        order = tuple(state["order"])
        filtered, ar, ma, sigma2 = _filter_arma(y[ok], order, state["trend"], np.asarray(state["params"]))
        paths = _mean_paths(filtered, counts, max(settings.horizons))
    return _arma_predictions(paths, ar, ma, sigma2, settings)


def _lagged_exog(window: Window, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Exogenous regressors for the returns: each feature of the *previous* session,
    standardized over the window; rows with a missing value are dropped (with their returns)."""
    if not names:
        return None
    x = np.column_stack([window.features[n] for n in names])
    lagged = np.vstack([np.full((1, x.shape[1]), np.nan), x[:-1]])
    ok = ~np.isnan(window.returns) & ~np.isnan(lagged).any(axis=1)
    return lagged, ok


def sarimax_fit(window: Window, settings: ForecastSettings, order_state: State) -> State:
    """statsmodels SARIMAX with auto_arima's order, a constant and lagged feature regressors."""
    y = window.returns * 100.0
    order = tuple(order_state["order"])
    exog = _lagged_exog(window, settings.sarimax_exog)
    x = None
    if exog is not None:
        lagged, ok = exog
        mu, sd = lagged[ok].mean(axis=0), lagged[ok].std(axis=0, ddof=1)
        sd[sd == 0] = 1.0
        y, x = y[ok], (lagged[ok] - mu) / sd
        scaling = {"mean": mu.tolist(), "std": sd.tolist()}
    else:
        y, scaling = y[~np.isnan(y)], {}
    with _Silenced():
        params, aic, converged = _estimate(y, order, "c", settings.arima_maxiter, x)
    return {
        "order": list(order),
        "exog": list(settings.sarimax_exog),
        "scaling": scaling,
        "params": [float(p) for p in params],
        "aic": aic,
        "converged": converged,
    }


def sarimax_forecasts(
    state: State, span: Window, ends: Sequence[int], settings: ForecastSettings
) -> list[list[Prediction]]:
    """Filter once over the span with the refit's parameters; future regressors are held at
    each origin's values (no forecast for an origin whose features are missing)."""
    y, names, steps = span.returns * 100.0, state["exog"], max(settings.horizons)
    params = np.asarray(state["params"])
    last = np.asarray(ends) - 1
    x, intercept, missing = None, np.zeros(len(ends)), np.zeros(len(ends), dtype=bool)
    if names:
        lagged, ok = _lagged_exog(span, names)  # type: ignore[misc]
        counts = np.cumsum(ok)[last]
        mu, sd = np.asarray(state["scaling"]["mean"]), np.asarray(state["scaling"]["std"])
        x = (lagged[ok] - mu) / sd
        today = (np.column_stack([span.features[n][last] for n in names]) - mu) / sd
        missing = np.isnan(today).any(axis=1)
        beta = params[1 : 1 + len(names)]  # the constant, then the regressors' coefficients
        intercept = _combine(beta[None, :], np.nan_to_num(today).T)[0]
    else:
        ok, counts = _observed(y, ends)
    with _Silenced():
        filtered, ar, ma, sigma2 = _filter_arma(y[ok], tuple(state["order"]), "c", params, x)
        paths = _mean_paths(filtered, counts, steps, intercept)
    predictions = _arma_predictions(paths, ar, ma, sigma2, settings)
    return [[] if gone else row for gone, row in zip(missing, predictions, strict=True)]


def garch_model(returns_pct: np.ndarray, kind: str, dist: str, seed: int | None = None):  # type: ignore[no-untyped-def]
    """``arch_model`` with a constant mean: GARCH(1,1), GJR-GARCH(1,1,1) or EGARCH(1,1).

    ``seed``: the error distribution draws its simulations (``forecast(method="simulation")``)
    from a generator seeded with it (``numpy.random.default_rng(seed)``); without one, from an
    unseeded generator. arch takes the draws from the distribution's own generator and uses
    ``forecast``'s ``random_state`` only for the bootstrap, and ``arch_model`` takes no seed, so
    the distribution is replaced by the same class made with the seed."""
    from arch import arch_model

    p, o, q, vol = GARCH_KINDS[kind]
    # the configuration admits only GarchDist's names (config.py's Garch.dist)
    model = arch_model(returns_pct, mean="Constant", vol=vol, p=p, o=o, q=q, dist=cast(GarchDist, dist))
    if seed is not None:
        model.distribution = type(model.distribution)(seed=seed)
    return model


def garch_fit_returns(returns_pct: np.ndarray, kind: str = "garch", dist: str = "normal") -> State:
    """Maximum-likelihood fit on percent returns (the ``arch`` documentation's setup)."""
    with _Silenced():
        result = garch_model(returns_pct, kind, dist).fit(disp="off")
    return {
        "kind": kind,
        "dist": dist,
        "params": {k: float(v) for k, v in result.params.items()},
        "loglikelihood": float(result.loglikelihood),
        "converged": int(result.convergence_flag) == 0,
    }


def garch_fit(window: Window, settings: ForecastSettings) -> State:
    return garch_fit_returns(window.clean_returns() * 100.0, settings.garch_kind, settings.garch_dist)


def garch_forecasts(
    state: State, span: Window, ends: Sequence[int], settings: ForecastSettings
) -> list[list[Prediction]]:
    """Constant mean times h; variance the sum of the next h conditional variances.

    GARCH and GJR-GARCH: one recursion with the state's parameters over the span, analytic
    forecasts from each origin (``arch``'s ``start``). EGARCH has no closed-form multi-step
    variance: it is simulated, one origin at a time, each from a generator seeded with the
    config's ``seed`` (``garch_model``), so a forecast is reproducible and an origin's draws do
    not depend on others.

    The model is given the parameters directly (``fix(params).forecast()`` computes the same
    after a likelihood evaluation, a variance recursion and a deep copy of the model that the
    forecast never reads), and the analytic forecasts are ``_garch_variances``'.
    """
    y_all = span.returns * 100.0
    ok, counts = _observed(y_all, ends)
    y, steps = y_all[ok], max(settings.horizons)
    values = np.array([state["params"][n] for n in state["params"]], dtype=float)
    with _Silenced():
        if state["kind"] == "egarch":
            rows = []
            for n in counts:  # a model, so a generator, per origin: seeded with the config's seed
                fc = garch_model(y[:n], state["kind"], state["dist"], seed=settings.seed).forecast(
                    values, horizon=steps, reindex=False, method="simulation", simulations=500
                )
                rows.append(np.asarray(fc.variance)[-1])
        else:
            first = int(counts.min()) - 1
            variance = _garch_variances(garch_model(y, state["kind"], state["dist"]), values, first, steps)
            rows = [variance[n - 1 - first] for n in counts]
    mu = state["params"]["mu"]
    out = []
    for variances in rows:
        row = []
        for h in settings.horizons:
            mean, var = mu * h, float(variances[:h].sum())
            row.append(Prediction(h, mean / 100.0, var / 1e4, _normal_up(mean, var)))
        out.append(row)
    return out


def _garch_variances(model, values: np.ndarray, start: int, steps: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The next ``steps`` conditional variances of the returns from each observation since
    ``start`` (rows), by the analytic forecast of ``model``'s volatility process with ``values``.

    This is what ``model.forecast(values, ...).variance`` holds for a constant mean, the same
    calls on the same residuals (``arch``'s own volatility ``forecast``, backcast and variance
    bounds), without the three pandas frames of forecasts (mean, variance, residual variance)
    that ``forecast`` builds around them: half of its cost. A constant mean adds nothing to the
    residuals' variance; ``forecast`` gets there through the mean's impulse response (1, 0, 0,
    ...), a product that equals the residual variance exactly while it is finite, so a
    non-finite forecast is left to ``forecast`` itself."""
    vol = model.volatility
    k = model.num_params
    mean, params = values[:k], values[k : k + vol.num_params]
    resids = np.asarray(model.resids(mean))
    bounds = vol.variance_bounds(resids, 2.0)
    variances: np.ndarray = vol.forecast(
        params, resids, vol.backcast(resids), bounds, start=start, horizon=steps
    ).forecasts
    if np.isfinite(variances).all():
        return variances
    return np.asarray(model.forecast(values, horizon=steps, start=start, reindex=False).variance)


def ssa_fit(window: Window, settings: ForecastSettings) -> State:
    """Singular spectrum analysis of the window's log closes, around their linear trend.

    The log close is detrended first (least-squares line over the window): SSA of the raw
    series would give the level and the drift nearly all of the energy (the first
    eigentriple holds >= 0.9999 of it, so the energy rule would always pick rank 1). On the
    detrended series, embedding length L = ``ssa_window``, the leading eigentriples that
    together hold at least ``ssa_energy`` of the trajectory matrix's energy (sum of squared
    singular values) are kept, and an AR(1) is fitted to the residual (detrended series
    minus its reconstruction). The state keeps the trend's slope (log return per session):
    forecasts re-centre each window on it and extrapolate it.
    """
    x = window.log_close[~np.isnan(window.log_close)]
    lag = settings.ssa_window
    slope = _slope(x)
    y = _detrended(x, slope)
    trajectory = np.lib.stride_tricks.sliding_window_view(y, lag).T  # L x K
    u, s, _ = np.linalg.svd(trajectory, full_matrices=False)
    energy = np.cumsum(s**2) / np.sum(s**2)
    rank = min(int(np.searchsorted(energy, settings.ssa_energy)) + 1, lag)
    basis = u[:, :rank]
    residual = y - _reconstruct(y, basis)
    phi = float(np.dot(residual[1:], residual[:-1]) / np.dot(residual[:-1], residual[:-1]))
    return {
        "L": lag,
        "rank": rank,
        "energy": float(energy[rank - 1]),
        "slope": slope,
        "basis": basis.tolist(),
        "phi": phi,
    }


def _slope(x: np.ndarray) -> float:
    """Least-squares slope of ``x`` on 0, 1, ..., n - 1."""
    t = np.arange(len(x), dtype=float)
    t -= t.mean()
    return float(np.dot(t, x - x.mean()) / np.dot(t, t))


def _detrended(x: np.ndarray, slope: float) -> np.ndarray:
    """``x`` minus the line of ``slope`` through its centroid (mean zero)."""
    t = np.arange(len(x), dtype=float)
    line = slope * (t - t.mean())
    detrended: np.ndarray = x - x.mean() - line
    return detrended


def _reconstruct(x: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Project the trajectory matrix on ``basis`` and diagonal-average back to a series."""
    lag = basis.shape[0]
    trajectory = np.lib.stride_tricks.sliding_window_view(x, lag).T
    approx = basis @ (basis.T @ trajectory)
    out, counts = np.zeros(len(x)), np.zeros(len(x))
    for i in range(lag):
        out[i : i + approx.shape[1]] += approx[i]
        counts[i : i + approx.shape[1]] += 1
    return out / counts


def ssa_forecasts(
    state: State, span: Window, ends: Sequence[int], settings: ForecastSettings
) -> list[list[Prediction]]:
    """``ssa_forecast`` of the span up to each origin."""
    return [ssa_forecast(state, _head(span, end), settings) for end in ends]


def _head(window: Window, end: int) -> Window:
    """The first ``end`` sessions of a window."""
    return Window(
        window.dates[:end],
        window.returns[:end],
        window.log_close[:end],
        {name: values[:end] for name, values in window.features.items()},
    )


def ssa_forecast(state: State, window: Window, settings: ForecastSettings) -> list[Prediction]:
    """Recurrent SSA forecast of the detrended signal, plus the AR(1) decay of today's
    residual, plus the trend's slope times h.

    The window is detrended with the fit's slope (its own centroid: nothing is
    re-estimated). Falls back to the random walk's mean (0) when the recurrence is not
    defined (the verticality coefficient reaches 1) or the forecast is not finite.
    """
    x = window.log_close[~np.isnan(window.log_close)]
    basis = np.asarray(state["basis"])
    slope = float(state.get("slope", 0.0))
    y = _detrended(x, slope)
    signal = _reconstruct(y, basis)
    pi = basis[-1]
    nu2 = float(np.dot(pi, pi))
    var = float(np.var(window.clean_returns(), ddof=1))
    steps = max(settings.horizons)
    if nu2 >= 1.0 - 1e-9:
        return [Prediction(h, 0.0, h * var, 0.5) for h in settings.horizons]
    coefficients = (basis[:-1] @ pi) / (1.0 - nu2)  # weights of the last L-1 values
    path = list(signal[-(basis.shape[0] - 1) :])
    for _ in range(steps):
        path.append(float(np.dot(coefficients, path[-(basis.shape[0] - 1) :])))
    future = np.asarray(path[basis.shape[0] - 1 :])
    residual = y[-1] - signal[-1]
    out = []
    for h in settings.horizons:
        mean = future[h - 1] + state["phi"] ** h * residual - y[-1] + slope * h
        if not math.isfinite(mean):
            mean = 0.0
        out.append(Prediction(h, float(mean), h * var, _normal_up(mean, h * var)))
    return out


def forward_returns(returns: np.ndarray, h: int) -> np.ndarray:
    """Sum of the next ``h`` returns at each row (NaN where they are not all known)."""
    out = np.full(len(returns), np.nan)
    csum = np.concatenate([[0.0], np.nancumsum(np.nan_to_num(returns, nan=0.0))])
    n = len(returns)
    if n > h:
        out[: n - h] = csum[1 + h : n + 1] - csum[1 : n - h + 1]
    return out


def replay_weights(
    dates: np.ndarray, target: np.ndarray, calls: Mapping[np.datetime64, float], settings: ForecastSettings
) -> np.ndarray:
    """Sample weights of one horizon's rows: ``replay_weight`` for the error replay buffer,
    1 elsewhere. The buffer is the worst ``replay_size`` of the classifier's own wrong calls
    on these rows (``calls``: origin date -> the prob_up it served) whose outcome is known,
    by ``error_score = confidence x wrong`` with ``confidence = max(p, 1 - p)`` at least
    ``replay_min_confidence`` (ties: the latest first).

    ``dates`` are days (``datetime64[D]``, ascending, distinct) and so are the keys of
    ``calls``. The rows are matched to the calls by array lookups, not a dictionary lookup per
    row (hashing a ``datetime64`` scalar per row: about 0.5 ms of a 750-row window, once per horizon).

    >>> days = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-04"))
    >>> s = ForecastSettings((1,), ("naive",), 2, 2, "weekly", "monthly", 0, 0, 1, (), "garch", "normal",
    ...                      5, 0.9, (), 0.2, 0.0, 0.0, replay_size=1)
    >>> replay_weights(days, np.array([-0.01, 0.02, -0.03]), {days[0]: 0.9, days[2]: 0.8}, s).tolist()
    [3.0, 1.0, 1.0]
    """
    n = len(dates)
    weights = np.ones(n)
    if not calls or not n:
        return weights
    days = np.asarray(dates, dtype="datetime64[D]")
    called = np.array(list(calls), dtype="datetime64[D]")
    served = np.array(list(calls.values()), dtype=np.float64)  # a None call is NaN: never judged
    order = np.argsort(called)
    called, served = called[order], served[order]
    at = np.minimum(np.searchsorted(called, days), len(called) - 1)
    found = called[at] == days
    p = np.where(found, served[at], np.nan)
    with np.errstate(invalid="ignore"):
        confidence = np.maximum(p, 1.0 - p)
        wrong = (p > 0.5) != (target > 0)
        judged = found & ~np.isnan(p) & ~np.isnan(target) & (target != 0) & (p != 0.5)
        errors = np.flatnonzero(judged & wrong & (confidence >= settings.replay_min_confidence))
    # the worst first: highest confidence, then the latest day (rows are in date order)
    worst = errors[np.lexsort((errors, confidence[errors]))[::-1]]
    weights[worst[: settings.replay_size]] = settings.replay_weight
    return weights


def purged_blocks(rows: np.ndarray, fraction: float, gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, calibration and validation blocks of ``rows`` (in order): the last two blocks
    each ``int(len(rows) x fraction)`` rows, with ``gap`` rows dropped before each of them.

    >>> [b.tolist() for b in purged_blocks(np.arange(12), 0.25, 1)]
    [[0, 1, 2, 3], [5, 6, 7], [9, 10, 11]]
    """
    n = len(rows)
    block = int(n * fraction)
    valid_start = n - block
    calibrate_start = valid_start - gap - block
    train_end = max(calibrate_start - gap, 0)
    return rows[:train_end], rows[max(calibrate_start, 0) : max(valid_start - gap, 0)], rows[valid_start:]


# scikit-learn's HistGradientBoosting bins each feature into at most 255 quantile bins
MAX_BINS = 255


def quantile_edges(values: np.ndarray, weights: np.ndarray, max_bins: int = MAX_BINS) -> np.ndarray:
    """Bin edges of one feature as ``HistGradientBoostingClassifier`` computes them from its
    training rows with sample weights (scikit-learn's ``_find_binning_thresholds``), vectorized.

    NaN and zero-weight rows are left out. With at most ``max_bins`` distinct values the edges
    are the midpoints between them; otherwise the weighted percentiles at ``100 k / max_bins``
    (k = 1 .. max_bins - 1) by the averaged inverted CDF: the value where the cumulative weight
    first reaches the rank, or the mean of it and the next value when it reaches it exactly.
    Value ``x`` falls in bin ``i`` when ``edges[i - 1] < x <= edges[i]``.

    >>> quantile_edges(np.array([3.0, 1.0, 2.0, np.nan]), np.ones(4)).tolist()
    [1.5, 2.5]
    """
    keep = ~np.isnan(values) & (weights != 0)
    kept = values[keep]
    order = np.argsort(kept)
    x = kept[order]
    # ``x`` is sorted: its distinct values are those differing from their predecessor (``np.unique``
    # sorted it again); a -0.0 kept instead of 0.0 or the reverse gives the same midpoints
    distinct = x[np.concatenate(([True], x[1:] != x[:-1]))] if len(x) else x
    if len(distinct) <= 1:
        return np.empty(0)
    if len(distinct) <= max_bins:
        edges = (distinct[:-1] + distinct[1:]) / 2
    else:
        w = weights[keep][order]
        cdf = np.cumsum(w)
        ranks = np.linspace(0, 100, num=max_bins + 1)[1:-1] / 100 * cdf[-1]
        at = np.clip(np.searchsorted(cdf, ranks), 0, len(x) - 1)
        above = cdf[at] - ranks > np.finfo(np.float64).eps
        edges = np.where(above, x[at], (x[at] + x[np.clip(at + 1, 0, len(x) - 1)]) / 2)
        edges = np.unique(edges)
    bounded: np.ndarray = np.minimum(edges, 1e300)  # scikit-learn's ALMOST_INF: no infinite edge
    return bounded


def _two_values(v: np.ndarray) -> bool:
    """Whether ``v`` holds at least two distinct values besides NaN (``len(np.unique(...)) >= 2``
    without sorting)."""
    v = v[~np.isnan(v)]
    return bool(len(v) and v.min() < v.max())


def bin_codes(x: np.ndarray, edges: Sequence[np.ndarray]) -> np.ndarray:
    """Each column of ``x`` replaced by its bin number under its ``edges`` (NaN stays NaN)."""
    codes = np.column_stack([np.searchsorted(e, x[:, j], side="left") for j, e in enumerate(edges)]).astype(float)
    codes[np.isnan(x)] = np.nan
    return codes


@dataclass(frozen=True)
class BinnedClassifier:
    """A classifier fitted on the bin numbers of its features, with the edges it was fitted with.

    Binning the rows ourselves gives ``HistGradientBoostingClassifier`` at most 255 distinct
    values per feature, so its own binning is the identity: the trees are those it would grow
    on the raw features with the same sample weights, without its weighted-percentile loop
    (254 calls per feature, about 0.3 s of a 0.32 s fit of 500 rows).

    ``direction_fit`` stores it compiled (``CompiledClassifier``); classifier states stored
    before that hold it as is, about 65 KB a horizon, and ``load_state`` compiles them.
    """

    edges: tuple[np.ndarray, ...]
    model: object  # the sigmoid-calibrated frozen trees (CalibratedClassifierCV), fitted on bin_codes(x, edges)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(bin_codes(x, self.edges))  # type: ignore[attr-defined,no-any-return]


@dataclass(frozen=True)
class CompiledClassifier:
    """A ``BinnedClassifier`` reduced to what its probability of "up" needs: the trees' nodes
    with each split moved from bin numbers to raw feature values, the baseline and the
    sigmoid calibration's ``a`` and ``b``: about 8 KB a horizon instead of 65 KB (the fitted
    scikit-learn objects carry their bin mapper, the edges and training-only attributes).

    It computes what scikit-learn does, operation for operation, so the probabilities are the
    same bits: the raw score is the baseline plus each tree's leaf value, added tree by tree
    (``_raw_predict``), and ``p = expit(-(a * raw + b))`` (``_SigmoidCalibration.predict``).
    A split ``code <= t`` on a feature's bin number ``code = #{edges < x}`` is ``x <= edges[k]``
    with ``k = floor(t)`` (``+inf`` when ``k`` is past the last edge); a missing value goes
    where the tree sends missing values.

    Attributes:
        roots: each tree's root node, in boosting order.
        feature, split, leaf, left, right, missing_left: per node, its feature (column of the
            raw rows), the raw threshold of a split node or the value of a leaf, whether it is
            a leaf, its children (node numbers) and where a missing value goes.
    """

    roots: np.ndarray
    feature: np.ndarray
    split: np.ndarray
    leaf: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing_left: np.ndarray
    baseline: float
    a: float
    b: float

    @classmethod
    def of(cls, fitted: BinnedClassifier) -> CompiledClassifier:
        """``fitted`` compiled: its calibrated classifier must be one sigmoid calibration of
        frozen binary ``HistGradientBoostingClassifier`` trees on numeric features."""
        calibrated = fitted.model
        (one,) = calibrated.calibrated_classifiers_  # type: ignore[attr-defined]
        (sigmoid,) = one.calibrators
        if one.method != "sigmoid":
            raise ValueError("only the sigmoid calibration of binary trees compiles")
        # FrozenEstimator -> HistGradientBoostingClassifier
        return cls.of_trees(one.estimator.estimator, fitted.edges, float(sigmoid.a_), float(sigmoid.b_))

    @classmethod
    def of_trees(cls, trees: Any, edges: Sequence[np.ndarray], a: float, b: float) -> CompiledClassifier:
        """Binary ``HistGradientBoostingClassifier`` ``trees`` fitted on ``bin_codes(x, edges)``
        and the sigmoid ``expit(-(a * raw + b))`` on their decision function, compiled."""
        if trees.n_trees_per_iteration_ != 1:
            raise ValueError("only the sigmoid calibration of binary trees compiles")
        nodes = [predictor.nodes for (predictor,) in trees._predictors]
        sizes = [len(n) for n in nodes]
        offsets = np.cumsum([0, *sizes])
        # the nodes' bytes joined: ``np.concatenate`` of structured arrays promotes their dtype field
        # by field in Python for each of the 40 (0.4 ms a horizon; this is 5 us), the same records
        kind = nodes[0].dtype
        joined = all(n.dtype == kind for n in nodes)
        every = np.frombuffer(b"".join(n.tobytes() for n in nodes), dtype=kind) if joined else np.concatenate(nodes)
        if every["is_categorical"].any():
            raise ValueError("categorical splits do not compile")
        if len(every) >= 2**15 or len(edges) > 2**8:
            raise ValueError("too many nodes or features for the compiled arrays")
        leaf = every["is_leaf"].astype(bool)
        feature = np.where(leaf, 0, every["feature_idx"]).astype(np.uint8)
        split = every["value"].astype(np.float64)
        # all split nodes at once (about 280 a horizon): the bin threshold ``t`` of a split on
        # feature j becomes ``edges[j][floor(t)]``, or ``inf`` past the last edge (every value
        # left), read from a table of each feature's edges padded with ``inf``
        splits = np.flatnonzero(~leaf)
        if len(splits):
            lengths = np.array([len(e) for e in edges], dtype=np.intp)
            padded = np.full((len(edges), int(lengths.max()) + 1), np.inf)
            for j, own in enumerate(edges):
                padded[j, : len(own)] = own
            on, threshold = feature[splits], every["num_threshold"][splits]
            k = np.where(threshold < lengths[on], np.floor(threshold), lengths[on]).astype(np.intp)
            split[splits] = padded[on, k]
        shift = np.repeat(offsets[:-1], sizes)
        return cls(
            roots=offsets[:-1].astype(np.int16),
            feature=feature,
            split=split,
            leaf=leaf,
            left=np.where(leaf, 0, every["left"] + shift).astype(np.int16),
            right=np.where(leaf, 0, every["right"] + shift).astype(np.int16),
            missing_left=every["missing_go_to_left"].astype(bool),
            baseline=float(trees._baseline_prediction[0, 0]),
            a=float(a),
            b=float(b),
        )

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The trees' summed score (log-odds before calibration) of each row of raw features ``x``."""
        rows = np.arange(len(x))[:, None]
        node = np.broadcast_to(self.roots, (len(x), len(self.roots)))
        while not self.leaf[node].all():
            value = x[rows, self.feature[node]]
            missing = np.isnan(value)
            goes_left = np.where(missing, self.missing_left[node], value <= self.split[node])
            node = np.where(self.leaf[node], node, np.where(goes_left, self.left[node], self.right[node]))
        leaves = self.split[node]
        # tree by tree, as scikit-learn adds them: a running sum (``cumsum`` adds each term to
        # the total so far, in order) is that loop's arithmetic in one call instead of one per tree
        terms = np.column_stack([np.zeros(len(x)) + self.baseline, leaves])
        # a contiguous copy of the last column (the same values): the sigmoid calibration's
        # optimizer reads it about 30 times, and a view would keep the whole running sum alive
        score: np.ndarray = np.ascontiguousarray(np.cumsum(terms, axis=1)[:, -1])
        return score

    def up(self, raw: np.ndarray) -> np.ndarray:
        """The calibrated probability of up of raw scores (``raw``), ``_SigmoidCalibration.predict``."""
        from scipy.special import expit

        p: np.ndarray = expit(-(self.a * raw + self.b))
        return p

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probabilities of down and up (columns), as ``BinnedClassifier.predict_proba``."""
        up = self.up(self.raw(x))
        proba = np.zeros((len(x), 2))
        proba[:, 1] = up
        proba[:, 0] = 1.0 - proba[:, 1]
        return proba


def load_state(model: str, blob: bytes) -> State:
    """A stored state, unpickled; a classifier state stored before ``CompiledClassifier``
    has its models compiled (the same probabilities, a seventh of the memory). Serving
    models that are the candidate's own stay one object."""
    state: State = pickle.loads(blob)
    if model != "direction_classifier":
        return state
    compiled: dict[int, CompiledClassifier] = {}

    def compile_once(m: object) -> object:
        if not isinstance(m, BinnedClassifier):
            return m
        return compiled.setdefault(id(m), CompiledClassifier.of(m))

    candidate = state["candidate"]
    candidate["models"] = {h: compile_once(m) for h, m in candidate["models"].items()}
    for serving in state["serving"].values():
        serving["model"] = compile_once(serving["model"])
    return state


def direction_fit(
    window: Window,
    settings: ForecastSettings,
    calls: Mapping[int, Mapping[np.datetime64, float]] | None = None,
    horizons: Sequence[int] | None = None,
) -> State:
    """Per horizon (``horizons``, default all): a gradient-boosted classifier of the sign of the h-day return.

    Trained on the window's rows whose h-day outcome is known by the refit date (no row
    uses a later bar), in three consecutive blocks: fit, then calibrate (sigmoid) on the
    next ``classifier_validation_fraction``, then validate on the last as much. h - 1 rows
    are purged between blocks: the label of row i is the return over (i, i + h], so the
    last row of a block and the first of the next would otherwise share outcomes. The
    rollback rule of the original system: a candidate whose validation Sharpe (long if
    p > 0.5 else short, annualized) is below ``classifier_min_sharpe`` or whose win rate
    is below ``classifier_min_win_rate`` is rejected, and the caller keeps the previous
    model of that horizon. ``calls`` (horizon -> origin date -> prob_up) are the
    classifier's earlier forecasts: its confident mistakes on training rows weigh
    ``replay_weight`` times (``replay_weights``). Features are binned on the training rows
    (``BinnedClassifier``); each horizon's model depends on nothing but its own rows.

    The sigmoid calibration is scikit-learn's own Platt fit (``_sigmoid_calibration``) of the
    calibration rows' labels on the trees' decision function there: what
    ``CalibratedClassifierCV(FrozenEstimator(trees), method="sigmoid")`` computes for frozen
    binary trees without sample weights (one calibrator, on ``decision_function``; the folds of
    frozen trees all predict the same), the same ``a`` and ``b`` to the bit
    (``tests/core/test_forecast_refit_classifier.py`` keeps that path as the oracle). Its
    validation, cloning, cross-validation and response-method dispatch cost more than the
    trees' own fit, and the compiled model never reads the calibrated object.
    """
    from sklearn import config_context
    from sklearn.calibration import _sigmoid_calibration
    from sklearn.ensemble import HistGradientBoostingClassifier

    columns = {n: window.features[n] for n in settings.classifier_features}
    features: dict[str, list[str]] = {}
    models: dict[str, object] = {}
    report: dict[str, dict[str, object]] = {}
    for h in settings.horizons if horizons is None else horizons:
        target = forward_returns(window.returns, h)
        rows = np.flatnonzero(~np.isnan(target))
        train, calibrate, valid = purged_blocks(rows, settings.classifier_validation_fraction, h - 1)
        block = len(valid)
        labels = (target > 0).astype(int)
        # a feature still warming up over the training rows (all null) cannot be binned: leave it out
        usable = [n for n, v in columns.items() if _two_values(v[train])]
        if block < 20 or len(train) < 100 or not usable:
            report[str(h)] = {"accepted": False, "reason": f"{len(rows)} labelled rows, {len(usable)} usable features"}
            continue
        if len(np.unique(labels[train])) < 2 or len(np.unique(labels[calibrate])) < 2:
            report[str(h)] = {"accepted": False, "reason": "one class only"}
            continue
        x = np.column_stack([columns[n] for n in usable])
        features[str(h)] = usable
        base = HistGradientBoostingClassifier(
            max_iter=40, max_depth=3, learning_rate=0.08, early_stopping=False, random_state=settings.seed
        )
        weights = replay_weights(window.dates, target, (calls or {}).get(h, {}), settings)
        edges = tuple(quantile_edges(x[train, j], weights[train]) for j in range(x.shape[1]))
        # the parameters above are constants scikit-learn accepts: checking them again on every
        # fit (a few tenths of a ms of a 14 ms fit) can only raise, so it is skipped
        with _Silenced(), config_context(skip_parameter_validation=True):
            base.fit(bin_codes(x[train], edges), labels[train], sample_weight=weights[train])
        # the compiled trees score raw features to the bits of ``decision_function`` on the bin
        # numbers (``CompiledClassifier``), in one pass for the calibration and validation rows
        trees = CompiledClassifier.of_trees(base, edges, 0.0, 0.0)
        raw = trees.raw(x[np.concatenate([calibrate, valid])])
        with _Silenced():
            a, b = _sigmoid_calibration(raw[: len(calibrate)], labels[calibrate])
        classifier = replace(trees, a=float(a), b=float(b))
        p = classifier.up(raw[len(calibrate) :])
        position = np.where(p > 0.5, 1.0, -1.0)
        pnl = position * target[valid]
        sd = pnl.std(ddof=1)
        sharpe = float(pnl.mean() / sd * math.sqrt(252.0 / h)) if sd > 0 else 0.0
        win_rate = float((pnl > 0).mean())
        accepted = sharpe >= settings.classifier_min_sharpe and win_rate >= settings.classifier_min_win_rate
        report[str(h)] = {
            "accepted": accepted,
            "validation_sharpe": sharpe,
            "validation_win_rate": win_rate,
            "train_rows": len(train),
            "replayed_rows": int((weights[train] != 1.0).sum()),
            "validation_rows": len(valid),
            "mean_abs_return": float(np.abs(target[train]).mean()),
            "return_std": float(target[train].std(ddof=1)),
        }
        models[str(h)] = classifier
    return {"features": features, "report": report, "models": models}


def direction_forecasts(
    state: State, span: Window, ends: Sequence[int], settings: ForecastSettings
) -> list[list[Prediction]]:
    """``prob_up`` from the serving classifier of each horizon on each origin's features (one
    call for all origins: rows are scored independently); mean ``(2p - 1) * E|r_h|`` and the
    variance of the training outcomes."""
    out: list[list[Prediction]] = [[] for _ in ends]
    last = np.asarray(ends) - 1
    for h in settings.horizons:
        serving = state["serving"].get(str(h))
        if serving is None:
            continue
        today = np.column_stack([span.features[n][last] for n in serving["features"]])
        with _Silenced():
            probabilities = serving["model"].predict_proba(today)[:, 1]
        report = serving["report"]
        for row, p in zip(out, probabilities, strict=True):
            p = float(p)
            row.append(Prediction(h, (2.0 * p - 1.0) * report["mean_abs_return"], report["return_std"] ** 2, p))
    return out


def direction_serving(candidate: State, previous: State | None) -> dict[str, State]:
    """The rollback rule, per horizon: serve this refit's candidate if it passed validation,
    else the previous refit's candidate if *it* passed, else this one flagged unvalidated.

    Looking back one refit only keeps a state a function of two windows, not of the whole
    history of fits, so a day's forecast does not depend on which days ran before.
    """
    serving: dict[str, State] = {}
    for h, report in candidate["report"].items():
        own = {"features": candidate["features"].get(h, []), "model": candidate["models"].get(h), "report": report}
        if report.get("accepted"):
            serving[h] = own
        elif previous is not None and previous["report"].get(h, {}).get("accepted"):
            kept = {**previous["report"][h], "kept_previous": True, "rejected": report}
            serving[h] = {"features": previous["features"][h], "model": previous["models"][h], "report": kept}
        elif own["model"] is not None:
            serving[h] = {**own, "report": {**report, "unvalidated": True}}
    return serving


Forecasts = Callable[[State, Window, Sequence[int], ForecastSettings], list[list[Prediction]]]
# model -> forecasts of origins sharing one state: (state, span, ends, settings), where the
# span holds the sessions from the state's fit window on, and origin i's data are span[:ends[i]]
FORECASTERS: dict[str, Forecasts] = {
    "naive": naive_forecasts,
    "auto_arima": auto_arima_forecasts,
    "sarimax": sarimax_forecasts,
    "garch": garch_forecasts,
    "ssa": ssa_forecasts,
    "direction_classifier": direction_forecasts,
}


def forecast(model: str, state: State, window: Window, settings: ForecastSettings) -> list[Prediction]:
    """One origin's forecasts: the last day of ``window``."""
    return FORECASTERS[model](state, window, [len(window)], settings)[0]


# fits that need only their window; auto_arima, sarimax and the classifier also look at
# other stored states (see ``_fit``)
WINDOW_FITS: dict[str, Callable[[Window, ForecastSettings], State]] = {
    "naive": naive_fit,
    "garch": garch_fit,
    "ssa": ssa_fit,
}


# --- refit schedule and per-symbol runs --------------------------------------------------


def period(day: dt.date, cadence: str) -> tuple[int, ...]:
    """The refit period of a day: itself, its ISO week, or its month."""
    if cadence == "daily":
        return (day.toordinal(),)
    if cadence == "weekly":
        return tuple(day.isocalendar()[:2])
    if cadence == "monthly":
        return (day.year, day.month)
    raise ValueError(f"unknown cadence {cadence!r}; one of {', '.join(CADENCES)}")


def period_start(sessions: Sequence[dt.date], day: dt.date, cadence: str) -> dt.date:
    """The first session of ``day``'s period (``sessions``: sorted trading days including ``day``)."""
    i = bisect.bisect_right(sessions, day) - 1
    key = period(day, cadence)
    while i > 0 and period(sessions[i - 1], cadence) == key:
        i -= 1
    return sessions[i]


def refit_date(sessions: Sequence[dt.date], day: dt.date, cadence: str, triggers: Sequence[dt.date] = ()) -> dt.date:
    """The refit in force on ``day``: the first session of its period, or a later requested
    refit (``triggers``: sorted sessions on which drift asked for one), whichever is later."""
    start = period_start(sessions, day, cadence)
    i = bisect.bisect_right(triggers, day)
    return max(start, triggers[i - 1]) if i else start


def _shift(sessions: Sequence[dt.date], day: dt.date, n: int) -> dt.date:
    """``TradingCalendar.shift_sessions`` on a list: ``n`` sessions from the last session on
    or before ``day``, held at the ends of ``sessions``."""
    i = bisect.bisect_right(sessions, day) - 1 + n
    return sessions[min(max(i, 0), len(sessions) - 1)]


@dataclass(frozen=True)
class HistoryWindow:
    """How far back a run over a range of origins reads, each input as far as the run needs
    it (every date a session). With these inputs a range computes what the same days do
    inside any longer backfill; a shorter read made a first run fail (``bench/README.md``,
    "Library issues" 1).

    Attributes:
        first_refit: the first origin's refit by the cadence. When the stored fits of the
            range's refit dates are complete (all dated from here on: drift adds refits,
            never earlier ones), nothing is fitted and nothing older is read.
        since: the earliest fit the range may have to make or read: ``first_refit``'s order
            selection, or the refit before it, which the classifier's rollback rule compares
            with.
        start: the first bar and feature row: ``fit_window`` sessions before ``since`` (the
            window of a fit there, and a session more) or, when earlier, ``2 x score_window``
            and the longest horizon before the first origin (the closes of the forecasts the
            range's decisions judge, from ``forecasts_from`` on, with two sessions more).
        reports_from: the first drift report: a flag on day F asks for a refit on the
            session after F, so the triggers from ``since`` on are known.
        previous: the session before the first origin (None at the calendar's first): its
            registry decision names the champion in force on the first origin.
        judged_from: the first target date the first origin's decision reads (each model's
            latest scored row among the targets of the last ``score_window`` sessions).
        scored_from: the first target scored: the rolling window of a row of ``judged_from``
            (a symbol without recent scores is judged by an older row, over its own window).
        forecasts_from: the first origin whose forecast may have a target from
            ``scored_from`` on (the longest horizon before it).
    """

    first_refit: dt.date
    since: dt.date
    start: dt.date
    reports_from: dt.date
    previous: dt.date | None
    judged_from: dt.date
    scored_from: dt.date
    forecasts_from: dt.date


def history_window(
    sessions: Sequence[dt.date], origins: Sequence[dt.date], settings: ForecastSettings, score_window: int
) -> HistoryWindow:
    """What a run over ``origins`` (ascending sessions) must read (see ``HistoryWindow``).

    ``sessions``: the trading days from the calendar's first up to the last origin at least
    (shifts before the first are held there, as the calendar's are).

    >>> days = [dt.date(2018, 9, 24) + dt.timedelta(d) for d in range(14) if d % 7 < 5]
    >>> settings = ForecastSettings((1,), ("naive",), 2, 2, "weekly", "monthly", 0, 0, 1, (), "garch", "normal",
    ...                             5, 0.9, (), 0.2, 0.0, 0.0)
    >>> window = history_window(days, [dt.date(2018, 10, 1)], settings, 2)
    >>> window.first_refit, window.since, window.start
    (datetime.date(2018, 10, 1), datetime.date(2018, 9, 24), datetime.date(2018, 9, 24))
    """
    first = origins[0]
    longest = max(settings.horizons)
    first_refit = period_start(sessions, first, settings.cadence)
    first_selection = period_start(sessions, first_refit, settings.order_selection)
    previous_refit = period_start(sessions, _shift(sessions, first_refit, -1), settings.cadence)
    since = min(first_selection, previous_refit)
    judged_from = _shift(sessions, first, -(score_window - 1))
    scored_from = _shift(sessions, judged_from, -(score_window - 1))
    i = bisect.bisect_left(sessions, first)
    return HistoryWindow(
        first_refit=first_refit,
        since=since,
        start=min(
            _shift(sessions, since, -settings.fit_window), _shift(sessions, first, -(2 * score_window + longest))
        ),
        reports_from=_shift(sessions, since, -1),
        previous=sessions[i - 1] if i > 0 else None,
        judged_from=judged_from,
        scored_from=scored_from,
        forecasts_from=_shift(sessions, scored_from, -longest),
    )


@dataclass
class SymbolTask:
    """Everything one symbol's forecasts need; picklable for a process pool.

    ``sessions`` are the exchange's trading days, from at least ``fit_window`` sessions
    before the earliest window needed: windows and refit dates are counted on them.
    ``states`` holds stored fits, ``(model, fit date) -> state``. ``triggers`` are the
    sessions on which drift flagged the symbol for refit (the session after the flag):
    each starts a new fit, and a new ARIMA order search, off the cadence. ``calls`` are the
    classifier's forecasts (horizon -> origin -> prob_up) made before the first origin,
    for its error replay; the run adds its own as it goes.
    """

    symbol: str
    dates: np.ndarray
    returns: np.ndarray
    log_close: np.ndarray
    features: dict[str, np.ndarray]
    origins: list[dt.date]
    sessions: list[dt.date]
    states: dict[tuple[str, dt.date], State]
    settings: ForecastSettings
    models: tuple[str, ...] = ()  # a subset of settings.models (a pool balances them); () = all
    triggers: tuple[dt.date, ...] = ()
    calls: dict[int, dict[np.datetime64, float]] = field(default_factory=dict)  # classifier prob_up before origins


@dataclass
class Fit:
    symbol: str
    model: str
    fit_date: dt.date
    state: State
    n_obs: int
    seconds: float

    def summary(self) -> str:
        """The state without the heavy parts (estimators, bases), as JSON."""
        return _state_params(self.model, self.state)

    def blob(self) -> bytes:
        """The state pickled as it is after crossing a process (one pickle round trip), so a fit
        stores the same bytes whether a pool's worker or this process made it: unpickling makes
        equal one-character strings (the classifier's horizon keys ``str(h)``) one object, which
        pickle then writes once and refers back to."""
        return pickle.dumps(pickle.loads(pickle.dumps(self.state, protocol=5)), protocol=5)


@dataclass
class SymbolResult:
    rows: list[dict[str, object]]
    fits: list[Fit]
    skipped: dict[str, int]  # model -> days without a forecast (warm-up, or no fit possible)


def symbol_tasks(
    symbols: Sequence[str],
    bars: pl.DataFrame,
    feature_rows: pl.DataFrame,
    origins: list[dt.date],
    sessions: list[dt.date],
    states: Mapping[str, dict[tuple[str, dt.date], State]],
    triggers: Mapping[str, tuple[dt.date, ...]],
    calls: Mapping[str, dict[int, dict[np.datetime64, float]]],
    settings: ForecastSettings,
) -> list[SymbolTask]:
    """The pool's tasks: per symbol (in order) one for each group of its models
    (``MODEL_GROUPS``: about equal cost, so a pool balances them), carrying the stored fits of
    its own models only (the classifier's are the largest, ~23 KB).

    ``bars``: ``ohlcv_daily``'s symbol, date, close and log_return; ``feature_rows``: the
    symbol, date and ``settings.feature_columns`` of ``features`` (a missing row is NaN);
    ``states``, ``triggers`` and ``calls`` per symbol (see ``SymbolTask``; no calls: none).
    """
    import polars as pl

    groups = [g for g in (tuple(m for m in group if m in settings.models) for group in MODEL_GROUPS) if g]
    names = settings.feature_columns
    # one join and one conversion of every symbol's rows (per symbol, the conversions cost
    # 0.75 s of an ordinary day at N = 500), then one frame per symbol (filtering the whole
    # frame once per symbol is quadratic in N)
    joined = (
        bars.join(feature_rows, on=["symbol", "date"], how="left")
        .with_columns(pl.col("log_return").fill_null(np.nan), pl.col(names).cast(pl.Float64).fill_null(np.nan))
        .sort("symbol", "date")
    )
    of = joined.partition_by("symbol", as_dict=True)
    tasks = []
    for symbol in symbols:
        own = of.get((symbol,), joined.clear())
        columns = {
            "dates": own.get_column("date").to_numpy().astype("datetime64[D]"),
            "returns": own.get_column("log_return").to_numpy(),
            "log_close": np.log(own.get_column("close").to_numpy()),
            "features": {n: own.get_column(n).to_numpy() for n in names},
        }
        tasks += [
            SymbolTask(
                symbol=symbol,
                **columns,
                origins=origins,
                sessions=sessions,
                states={k: v for k, v in states[symbol].items() if k[0] in group},
                settings=settings,
                models=group,
                triggers=triggers[symbol],
                calls=calls.get(symbol, {}),
            )
            for group in groups
        ]
    return tasks


def refits_in_force(
    sessions: Sequence[dt.date],
    origins: Sequence[dt.date],
    triggers: Mapping[str, Sequence[dt.date]],
    settings: ForecastSettings,
) -> dict[str, set[dt.date]]:
    """Per symbol (the keys of ``triggers``), the refit dates in force on ``origins``: the fit
    dates whose states the forecasts of the range apply (an ordinary day: one per symbol)."""
    return {
        symbol: {refit_date(sessions, day, settings.cadence, own) for day in origins}
        for symbol, own in triggers.items()
    }


def missing_fits(
    states: Mapping[str, Mapping[tuple[str, dt.date], State]],
    refits: Mapping[str, set[dt.date]],
    settings: ForecastSettings,
) -> dict[str, int]:
    """Per symbol with any, how many of its fits (model, refit in force: ``refits_in_force``)
    are not among ``states`` (per symbol, ``(model, fit date) -> state``): the fits a run makes.
    Only these symbols fit, so only they need older fits and the classifier's earlier calls."""
    counts = {
        symbol: sum((model, refit) not in states[symbol] for refit in dates for model in settings.models)
        for symbol, dates in refits.items()
    }
    return {symbol: n for symbol, n in counts.items() if n}


def classifier_calls(forecasts: pl.DataFrame) -> dict[str, dict[int, dict[np.datetime64, float]]]:
    """The direction classifier's stored calls for its error replay, as ``SymbolTask.calls``:
    symbol -> horizon -> origin -> prob_up (``forecasts``: its symbol, date, horizon, prob_up)."""
    calls: dict[str, dict[int, dict[np.datetime64, float]]] = {}
    for (symbol, horizon), part in forecasts.partition_by(["symbol", "horizon"], as_dict=True).items():
        days = part.get_column("date").to_numpy().astype("datetime64[D]")
        own = dict(zip(days, part.get_column("prob_up").to_list(), strict=True))
        calls.setdefault(str(symbol), {})[int(horizon)] = own
    return calls


def window_start(sessions: Sequence[dt.date], day: dt.date, size: int) -> dt.date:
    """The first session of the ``size``-session window that ends on ``day``."""
    i = bisect.bisect_right(sessions, day) - 1
    if i - size + 1 < 0:
        raise ValueError(f"sessions start too late for the {size}-session window of {day}")
    return sessions[i - size + 1]


def _window(task: SymbolTask, day: dt.date) -> Window:
    """The ``fit_window`` sessions ending on ``day``: what a fit on ``day`` sees."""
    return _between(task, window_start(task.sessions, day, task.settings.fit_window), day)


def _span(task: SymbolTask, refit: dt.date, last: dt.date) -> Window:
    """The sessions from the first of ``refit``'s window to ``last``: the forecasts of an origin
    D whose state was fitted on ``refit`` filter that state over this span up to D."""
    return _between(task, window_start(task.sessions, refit, task.settings.fit_window), last)


def _between(task: SymbolTask, first: dt.date, last: dt.date) -> Window:
    lo = np.searchsorted(task.dates, np.datetime64(first), side="left")
    hi = np.searchsorted(task.dates, np.datetime64(last), side="right")
    return Window(
        task.dates[lo:hi],
        task.returns[lo:hi],
        task.log_close[lo:hi],
        {name: values[lo:hi] for name, values in task.features.items()},
    )


def _state_params(model: str, state: State) -> str:
    if model == "direction_classifier":
        light = {h: {"features": v["features"], **v["report"]} for h, v in state["serving"].items()}
        return json.dumps(light, sort_keys=True, default=str)
    light = {k: v for k, v in state.items() if k != "basis"}
    return json.dumps(light, sort_keys=True)


def run_symbol(task: SymbolTask) -> SymbolResult:
    """Forecasts of one symbol for every origin date, fitting only where no state exists.

    The fit for a refit date R uses the window ending at R; the direction classifier keeps
    the previous refit's model (per horizon) when a candidate fails the rollback rule.
    """
    with _threadpools().limit(limits=1):  # one core per symbol: the pool spreads symbols over cores
        return _run_symbol(task)


@functools.cache
def _threadpools():  # type: ignore[no-untyped-def]
    """The process's native thread pools, found once: ``threadpool_limits`` looks them up on every
    call (about 4 ms, three times per symbol and day). The estimators' libraries are imported
    first: a limit applies only to the libraries loaded when it is set, and scikit-learn's
    OpenMP runtime left at one thread per core made each one-row ``predict_proba`` wait for
    idle threads (about 60 ms per classifier on 2 busy cores) and bin features on a polling
    thread pool. (pmdarima, imported by the stepwise search, brings no thread pool of its own.)"""
    import arch.univariate  # noqa: F401
    import scipy.linalg  # noqa: F401
    import sklearn.calibration
    import sklearn.ensemble  # noqa: F401
    import statsmodels.tsa.statespace.sarimax  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _run_symbol(task: SymbolTask) -> SymbolResult:
    settings = task.settings
    models = task.models or settings.models
    states = dict(task.states)
    rows: list[dict[str, object]] = []
    fits: list[Fit] = []
    skipped: dict[str, int] = {}
    calls = {h: dict(c) for h, c in task.calls.items()}
    days = [day for day in task.origins if _has_bar(task, day)]
    # the days of one refit are forecast together: one filter pass per model and refit
    for refit, same_refit in itertools.groupby(
        days, key=lambda day: refit_date(task.sessions, day, settings.cadence, task.triggers)
    ):
        ready = []
        for day in same_refit:
            if len(_window(task, day).clean_returns()) < settings.min_observations:
                for model in models:  # still warming up: no forecast yet
                    skipped[model] = skipped.get(model, 0) + 1
            else:
                ready.append(day)
        if not ready:
            continue
        span = _span(task, refit, ready[-1])
        ends = [int(np.searchsorted(span.dates, np.datetime64(day), side="right")) for day in ready]
        made: dict[str, tuple[str, list[list[Prediction]]]] = {}
        for model in models:
            state = states.get((model, refit))
            if state is None:
                fit_window = _window(task, refit)
                if len(fit_window.clean_returns()) < settings.min_observations:
                    skipped[model] = skipped.get(model, 0) + len(ready)
                    continue
                began = time.perf_counter()
                state = _fit(task, model, fit_window, states, refit, fits, calls)
                fits.append(Fit(task.symbol, model, refit, state, len(fit_window), time.perf_counter() - began))
                states[(model, refit)] = state
            made[model] = (_state_params(model, state), FORECASTERS[model](state, span, ends, settings))
        for i, day in enumerate(ready):
            for model, (described, predictions) in made.items():
                for p in predictions[i]:
                    if model == "direction_classifier":
                        assert p.prob_up is not None  # the classifier's forecasts all make a call
                        calls.setdefault(p.horizon, {})[np.datetime64(day, "D")] = p.prob_up
                    rows.append(_row(task.symbol, day, model, refit, described, p))
    return SymbolResult(rows, fits, skipped)


def _row(symbol: str, day: dt.date, model: str, refit: dt.date, described: str, p: Prediction) -> dict[str, object]:
    sd = math.sqrt(max(p.variance, 0.0))
    return {
        "symbol": symbol,
        "date": day,
        "model": model,
        "horizon": p.horizon,
        "point": p.mean,
        "volatility": sd,
        "lower_80": p.mean - Z80 * sd,
        "upper_80": p.mean + Z80 * sd,
        "lower_95": p.mean - Z95 * sd,
        "upper_95": p.mean + Z95 * sd,
        "prob_up": p.prob_up,
        "fit_date": refit,
        "params": described,
    }


def _has_bar(task: SymbolTask, day: dt.date) -> bool:
    i = np.searchsorted(task.dates, np.datetime64(day))
    return bool(i < len(task.dates) and task.dates[i] == np.datetime64(day))


def _fit(
    task: SymbolTask,
    model: str,
    window: Window,
    states: dict[tuple[str, dt.date], State],
    refit: dt.date,
    fits: list[Fit],
    calls: dict[int, dict[np.datetime64, float]],
) -> State:
    settings = task.settings
    if model == "auto_arima":
        return _arima_state(task, window, states, refit, fits)
    if model == "sarimax":
        order = states.get(("auto_arima", refit)) or _arima_state(task, window, states, refit, fits)
        selection_date = refit_date(task.sessions, refit, settings.order_selection, task.triggers)
        if settings.arima_refit == "order_selection" and selection_date != refit:
            # the estimates on the order-selection date's window (as an earlier refit of the
            # period stored them, or made again), filtered over this refit's span
            on = selection_date.isoformat()
            for (name, _day), stored in states.items():
                if name == "sarimax" and stored.get("estimated_on") == on:
                    return dict(stored)
            return {**sarimax_fit(_window(task, selection_date), settings, order), "estimated_on": on}
        return {**sarimax_fit(window, settings, order), "estimated_on": refit.isoformat()}
    if model == "direction_classifier":
        return _classifier_state(task, window, states, refit, calls)
    return WINDOW_FITS[model](window, settings)


def _arima_state(
    task: SymbolTask, window: Window, states: dict[tuple[str, dt.date], State], refit: dt.date, fits: list[Fit]
) -> State:
    """Order search on order-selection dates; otherwise re-estimate that date's order (or,
    with ``arima_refit: order_selection``, keep its estimates).

    The selection of date S depends only on S's window, so the order in force is the
    same however the days are run; a missing selection is made (and stored) on demand.
    """
    settings = task.settings
    search = ORDER_SEARCH[settings.order_search]
    selection_date = refit_date(task.sessions, refit, settings.order_selection, task.triggers)
    if selection_date == refit:
        return search(window, settings)
    selected = _selection_state(task, "auto_arima", selection_date, states, fits, lambda w: search(w, settings))
    if settings.arima_refit == "order_selection":
        return dict(selected)
    return arima_estimate(window, settings, selected)


def _selection_state(
    task: SymbolTask,
    model: str,
    selection_date: dt.date,
    states: dict[tuple[str, dt.date], State],
    fits: list[Fit],
    make: Callable[[Window], State],
) -> State:
    """The state of ``model`` on an order-selection date: stored, or made (and stored) now."""
    state = states.get((model, selection_date))
    if state is None:
        began = time.perf_counter()
        selection_window = _window(task, selection_date)
        state = make(selection_window)
        states[(model, selection_date)] = state
        seconds = time.perf_counter() - began
        fits.append(Fit(task.symbol, model, selection_date, state, len(selection_window), seconds))
    return state


def _classifier_state(
    task: SymbolTask,
    window: Window,
    states: dict[tuple[str, dt.date], State],
    refit: dt.date,
    calls: dict[int, dict[np.datetime64, float]],
) -> State:
    """This refit's candidate, and what serves after the rollback rule (see ``direction_serving``)."""
    candidate = direction_fit(window, task.settings, calls)
    previous = None
    rejected = [int(h) for h, r in candidate["report"].items() if not r.get("accepted")]
    if rejected:
        i = bisect.bisect_left(task.sessions, refit)
        if i > 0:
            before = refit_date(task.sessions, task.sessions[i - 1], task.settings.cadence, task.triggers)
            stored = states.get(("direction_classifier", before))
            # not stored (a day run alone): only the horizons the rollback rule looks at
            previous = (
                stored["candidate"] if stored else direction_fit(_window(task, before), task.settings, calls, rejected)
            )
    return {"candidate": candidate, "serving": direction_serving(candidate, previous)}
