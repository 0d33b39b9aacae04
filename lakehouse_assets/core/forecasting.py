"""Forecasts of h-day log returns: six models, fitted on a cadence, filtered daily.

Target: the log return from the close of the origin session D to the close ``h`` sessions
later (the sum of the next ``h`` daily log returns), for each configured horizon. Every
model gives its mean and variance; intervals are normal around the mean (80%: +-1.2816
sd, 95%: +-1.96 sd), ``volatility`` is the forecast standard deviation of the h-day
return (a fraction, not annualized) and ``prob_up`` the probability that it is positive.

Cost discipline: ``fit`` (order selection, parameter estimation, training) runs only on
refit dates (the first session of each week or month, or every session, by config) and
returns a *state*; on every session ``forecast`` applies the state of the latest refit
date to the data up to D without re-estimating anything (fixed-parameter Kalman filtering
for ARIMA/SARIMAX, ``arch``'s ``fix`` for GARCH, the stored eigenvectors for SSA, the
stored estimator for the classifier). A state is a function of the data window ending at
its refit date, and a forecast of its state and the window ending at D, so a day's
forecast is the same alone or in a backfill and never sees data after D.

Windows count sessions: the window of day X holds the bars of the last ``fit_window``
sessions up to X. Models compute in percent returns internally (better conditioned).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import pickle
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

Z80, Z95 = 1.2815515655446004, 1.959963984540054
MODELS = ("naive", "auto_arima", "sarimax", "garch", "ssa", "direction_classifier")
# models that run together in one pool task (sarimax reuses auto_arima's order); about equal cost
MODEL_GROUPS = (("auto_arima", "sarimax"), ("direction_classifier",), ("naive", "garch", "ssa"))
CADENCES = ("daily", "weekly", "monthly")
GARCH_KINDS = {"garch": (1, 0, 1, "GARCH"), "gjr": (1, 1, 1, "GARCH"), "egarch": (1, 0, 1, "EGARCH")}


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
        return self.returns[~np.isnan(self.returns)]


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

    def __exit__(self, *exc: object) -> None:
        np.seterr(**self._settings)
        self._guard.__exit__(*exc)


def _normal_up(mean: float, variance: float) -> float:
    if variance <= 0:
        return 0.5 if mean == 0 else float(mean > 0)
    return 0.5 * (1.0 + math.erf(mean / math.sqrt(2.0 * variance)))


def naive_fit(window: Window, settings: ForecastSettings) -> dict:
    """The random walk has nothing to estimate."""
    return {}


def naive_forecast(state: dict, window: Window, settings: ForecastSettings) -> list[Prediction]:
    """Random walk: mean 0; variance h * the sample variance of the window's daily returns."""
    var = float(np.var(window.clean_returns(), ddof=1))
    return [Prediction(h, 0.0, h * var, 0.5) for h in settings.horizons]


def _cumulative_arma(means: np.ndarray, ar: np.ndarray, ma: np.ndarray, sigma2: float, h: int) -> tuple[float, float]:
    """Mean and variance of the sum of the next ``h`` values of an ARMA process.

    The error of the sum loads ``Psi_j = psi_0 + ... + psi_j`` on the shock ``h - j`` steps
    ahead, so its variance is ``sigma2 * sum_{j<h} Psi_j^2`` (psi: the MA(inf) weights).
    """
    from statsmodels.tsa.arima_process import arma2ma

    psi = arma2ma(np.r_[1.0, -ar], np.r_[1.0, ma], lags=h)
    return float(means[:h].sum()), float(sigma2 * np.sum(np.cumsum(psi) ** 2))


def _sarimax(endog: np.ndarray, order: tuple[int, int, int], trend: str, exog: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    """A statsmodels SARIMAX; forecasts filter it with fixed parameters (no covariance, low memory)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    return SARIMAX(endog, exog=exog, order=order, trend=trend)


def auto_arima_fit(window: Window, settings: ForecastSettings) -> dict:
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


def arima_estimate(window: Window, settings: ForecastSettings, selected: dict) -> dict:
    """Re-estimate the parameters of an order chosen earlier (no order search), starting
    from the selection's estimates (a function of the selection's window only)."""
    y = window.clean_returns() * 100.0
    with _Silenced():
        result = _sarimax(y, tuple(selected["order"]), selected["trend"]).fit(
            start_params=np.asarray(selected["params"]), disp=False, maxiter=settings.arima_maxiter
        )
    return {
        "order": list(selected["order"]),
        "trend": selected["trend"],
        "params": [float(p) for p in result.params],
        "aic": float(result.aic),
        "converged": bool(result.mle_retvals.get("converged", True)) if result.mle_retvals else True,
        "order_selected_on": selected.get("order_selected_on"),
    }


def auto_arima_forecast(state: dict, window: Window, settings: ForecastSettings) -> list[Prediction]:
    """The selected ARIMA with the refit's parameters, Kalman-filtered over the window."""
    y = window.clean_returns() * 100.0
    with _Silenced():
        result = _sarimax(y, tuple(state["order"]), state["trend"]).filter(
            np.asarray(state["params"]), cov_type="none", low_memory=True
        )
        means = np.asarray(result.forecast(max(settings.horizons)))
    out = []
    for h in settings.horizons:
        mean, var = _cumulative_arma(means, result.arparams, result.maparams, result.params[-1], h)
        out.append(Prediction(h, mean / 100.0, var / 1e4, _normal_up(mean, var)))
    return out


def _lagged_exog(window: Window, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Exogenous regressors for the returns: each feature of the *previous* session,
    standardized over the window; rows with a missing value are dropped (with their returns)."""
    if not names:
        return None
    x = np.column_stack([window.features[n] for n in names])
    lagged = np.vstack([np.full((1, x.shape[1]), np.nan), x[:-1]])
    ok = ~np.isnan(window.returns) & ~np.isnan(lagged).any(axis=1)
    return lagged, ok


def sarimax_fit(window: Window, settings: ForecastSettings, order_state: dict) -> dict:
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
        result = _sarimax(y, order, "c", x).fit(disp=False, maxiter=settings.arima_maxiter)
    return {
        "order": list(order),
        "exog": list(settings.sarimax_exog),
        "scaling": scaling,
        "params": [float(p) for p in result.params],
        "aic": float(result.aic),
        "converged": bool(result.mle_retvals.get("converged", True)) if result.mle_retvals else True,
    }


def sarimax_forecast(state: dict, window: Window, settings: ForecastSettings) -> list[Prediction]:
    """Filter with the refit's parameters; future regressors are held at D's values."""
    y, x, future = window.returns * 100.0, None, None
    names = state["exog"]
    if names:
        lagged, ok = _lagged_exog(window, names)  # type: ignore[misc]
        mu, sd = np.asarray(state["scaling"]["mean"]), np.asarray(state["scaling"]["std"])
        y, x = y[ok], (lagged[ok] - mu) / sd
        today = np.array([window.features[n][-1] for n in names])
        if np.isnan(today).any():
            return []
        future = np.tile((today - mu) / sd, (max(settings.horizons), 1))
    else:
        y = y[~np.isnan(y)]
    with _Silenced():
        result = _sarimax(y, tuple(state["order"]), "c", x).filter(
            np.asarray(state["params"]), cov_type="none", low_memory=True
        )
        means = np.asarray(result.forecast(max(settings.horizons), exog=future))
    sigma2 = result.params[-1]
    out = []
    for h in settings.horizons:
        mean, var = _cumulative_arma(means, result.arparams, result.maparams, sigma2, h)
        out.append(Prediction(h, mean / 100.0, var / 1e4, _normal_up(mean, var)))
    return out


def garch_model(returns_pct: np.ndarray, kind: str, dist: str):  # type: ignore[no-untyped-def]
    """``arch_model`` with a constant mean: GARCH(1,1), GJR-GARCH(1,1,1) or EGARCH(1,1)."""
    from arch import arch_model

    p, o, q, vol = GARCH_KINDS[kind]
    return arch_model(returns_pct, mean="Constant", vol=vol, p=p, o=o, q=q, dist=dist)


def garch_fit_returns(returns_pct: np.ndarray, kind: str = "garch", dist: str = "normal") -> dict:
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


def garch_fit(window: Window, settings: ForecastSettings) -> dict:
    return garch_fit_returns(window.clean_returns() * 100.0, settings.garch_kind, settings.garch_dist)


def garch_forecast(state: dict, window: Window, settings: ForecastSettings) -> list[Prediction]:
    """Constant mean times h; variance the sum of the next h conditional variances.

    EGARCH has no closed-form multi-step variance: it is simulated (fixed seed).
    """
    y = window.clean_returns() * 100.0
    names = list(state["params"])
    with _Silenced():
        fixed = garch_model(y, state["kind"], state["dist"]).fix([state["params"][n] for n in names])
        if state["kind"] == "egarch":
            seeded = np.random.RandomState(settings.seed)
            fc = fixed.forecast(
                horizon=max(settings.horizons), reindex=False, method="simulation", simulations=500, random_state=seeded
            )
        else:
            fc = fixed.forecast(horizon=max(settings.horizons), reindex=False)
    variances = np.asarray(fc.variance)[-1]
    mu = state["params"]["mu"]
    out = []
    for h in settings.horizons:
        mean, var = mu * h, float(variances[:h].sum())
        out.append(Prediction(h, mean / 100.0, var / 1e4, _normal_up(mean, var)))
    return out


def ssa_fit(window: Window, settings: ForecastSettings) -> dict:
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
    rank = int(min(np.searchsorted(energy, settings.ssa_energy) + 1, lag))
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
    return x - x.mean() - line


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


def ssa_forecast(state: dict, window: Window, settings: ForecastSettings) -> list[Prediction]:
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
    ``replay_min_confidence`` (ties: the latest first)."""
    weights = np.ones(len(dates))
    errors = []
    for i, (day, outcome) in enumerate(zip(dates, target, strict=True)):
        p = calls.get(day)
        if p is None or np.isnan(outcome) or outcome == 0 or p == 0.5:
            continue
        confidence = max(p, 1.0 - p)
        if (p > 0.5) != (outcome > 0) and confidence >= settings.replay_min_confidence:
            errors.append((confidence, day, i))
    for _, _, i in sorted(errors, reverse=True)[: settings.replay_size]:
        weights[i] = settings.replay_weight
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


def direction_fit(
    window: Window, settings: ForecastSettings, calls: Mapping[int, Mapping[np.datetime64, float]] | None = None
) -> dict:
    """Per horizon: a gradient-boosted classifier of the sign of the h-day return.

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
    ``replay_weight`` times (``replay_weights``).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.frozen import FrozenEstimator

    columns = {n: window.features[n] for n in settings.classifier_features}
    features: dict[str, list[str]] = {}
    models: dict[str, object] = {}
    report: dict[str, dict] = {}
    for h in settings.horizons:
        target = forward_returns(window.returns, h)
        rows = np.flatnonzero(~np.isnan(target))
        train, calibrate, valid = purged_blocks(rows, settings.classifier_validation_fraction, h - 1)
        block = len(valid)
        labels = (target > 0).astype(int)
        # a feature still warming up over the training rows (all null) cannot be binned: leave it out
        usable = [n for n, v in columns.items() if len(train) and len(np.unique(v[train][~np.isnan(v[train])])) >= 2]
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
        with _Silenced():
            base.fit(x[train], labels[train], sample_weight=weights[train])
            model = CalibratedClassifierCV(FrozenEstimator(base), method="sigmoid").fit(x[calibrate], labels[calibrate])
            p = model.predict_proba(x[valid])[:, 1]
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
        models[str(h)] = model
    return {"features": features, "report": report, "models": models}


def direction_forecast(state: dict, window: Window, settings: ForecastSettings) -> list[Prediction]:
    """``prob_up`` from the serving classifier of each horizon; mean ``(2p - 1) * E|r_h|``
    and the variance of the training outcomes."""
    out = []
    for h in settings.horizons:
        serving = state["serving"].get(str(h))
        if serving is None:
            continue
        today = np.array([[window.features[n][-1] for n in serving["features"]]])
        with _Silenced():
            p = float(serving["model"].predict_proba(today)[0, 1])
        report = serving["report"]
        out.append(Prediction(h, (2.0 * p - 1.0) * report["mean_abs_return"], report["return_std"] ** 2, p))
    return out


def direction_serving(candidate: dict, previous: dict | None) -> dict:
    """The rollback rule, per horizon: serve this refit's candidate if it passed validation,
    else the previous refit's candidate if *it* passed, else this one flagged unvalidated.

    Looking back one refit only keeps a state a function of two windows, not of the whole
    history of fits, so a day's forecast does not depend on which days ran before.
    """
    serving: dict[str, dict] = {}
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


FORECASTERS: dict[str, Callable[[dict, Window, ForecastSettings], list[Prediction]]] = {
    "naive": naive_forecast,
    "auto_arima": auto_arima_forecast,
    "sarimax": sarimax_forecast,
    "garch": garch_forecast,
    "ssa": ssa_forecast,
    "direction_classifier": direction_forecast,
}
# fits that need only their window; auto_arima, sarimax and the classifier also look at
# other stored states (see ``_fit``)
WINDOW_FITS: dict[str, Callable[[Window, ForecastSettings], dict]] = {
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
    states: dict[tuple[str, dt.date], dict]
    settings: ForecastSettings
    models: tuple[str, ...] = ()  # a subset of settings.models (a pool balances them); () = all
    triggers: tuple[dt.date, ...] = ()
    calls: dict[int, dict[np.datetime64, float]] = field(default_factory=dict)  # classifier prob_up before origins


@dataclass
class Fit:
    symbol: str
    model: str
    fit_date: dt.date
    state: dict
    n_obs: int
    seconds: float

    def summary(self) -> str:
        """The state without the heavy parts (estimators, bases), as JSON."""
        return _state_params(self.model, self.state)

    def blob(self) -> bytes:
        return pickle.dumps(self.state, protocol=5)


@dataclass
class SymbolResult:
    rows: list[dict]
    fits: list[Fit]
    skipped: dict[str, int]  # model -> days without a forecast (warm-up, or no fit possible)


def window_start(sessions: Sequence[dt.date], day: dt.date, size: int) -> dt.date:
    """The first session of the ``size``-session window that ends on ``day``."""
    i = bisect.bisect_right(sessions, day) - 1
    if i - size + 1 < 0:
        raise ValueError(f"sessions start too late for the {size}-session window of {day}")
    return sessions[i - size + 1]


def _window(task: SymbolTask, day: dt.date) -> Window:
    first = window_start(task.sessions, day, task.settings.fit_window)
    lo = np.searchsorted(task.dates, np.datetime64(first), side="left")
    hi = np.searchsorted(task.dates, np.datetime64(day), side="right")
    return Window(
        task.dates[lo:hi],
        task.returns[lo:hi],
        task.log_close[lo:hi],
        {name: values[lo:hi] for name, values in task.features.items()},
    )


def _state_params(model: str, state: dict) -> str:
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
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one core per symbol: the pool spreads symbols over cores
        return _run_symbol(task)


def _run_symbol(task: SymbolTask) -> SymbolResult:
    settings = task.settings
    states = dict(task.states)
    rows: list[dict] = []
    fits: list[Fit] = []
    skipped: dict[str, int] = {}
    described: dict[tuple[str, dt.date], str] = {}
    calls = {h: dict(c) for h, c in task.calls.items()}
    for day in task.origins:
        if not _has_bar(task, day):
            continue
        refit = refit_date(task.sessions, day, settings.cadence, task.triggers)
        window = _window(task, day)
        if len(window.clean_returns()) < settings.min_observations:
            for model in task.models or settings.models:  # still warming up: no forecast yet
                skipped[model] = skipped.get(model, 0) + 1
            continue
        for model in task.models or settings.models:
            state = states.get((model, refit))
            if state is None:
                fit_window = _window(task, refit)
                if len(fit_window.clean_returns()) < settings.min_observations:
                    skipped[model] = skipped.get(model, 0) + 1
                    continue
                began = time.perf_counter()
                state = _fit(task, model, fit_window, states, refit, fits, calls)
                fits.append(Fit(task.symbol, model, refit, state, len(fit_window), time.perf_counter() - began))
                states[(model, refit)] = state
            if (model, refit) not in described:  # the same JSON for every day of the refit
                described[(model, refit)] = _state_params(model, state)
            for p in FORECASTERS[model](state, window, settings):
                if model == "direction_classifier":
                    calls.setdefault(p.horizon, {})[np.datetime64(day, "D")] = p.prob_up
                sd = math.sqrt(max(p.variance, 0.0))
                rows.append(
                    {
                        "symbol": task.symbol,
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
                        "params": described[(model, refit)],
                    }
                )
    return SymbolResult(rows, fits, skipped)


def _has_bar(task: SymbolTask, day: dt.date) -> bool:
    i = np.searchsorted(task.dates, np.datetime64(day))
    return bool(i < len(task.dates) and task.dates[i] == np.datetime64(day))


def _fit(
    task: SymbolTask, model: str, window: Window, states: dict, refit: dt.date, fits: list[Fit], calls: dict
) -> dict:
    settings = task.settings
    if model == "auto_arima":
        return _arima_state(task, window, states, refit, fits)
    if model == "sarimax":
        order = states.get(("auto_arima", refit)) or _arima_state(task, window, states, refit, fits)
        return sarimax_fit(window, settings, order)
    if model == "direction_classifier":
        return _classifier_state(task, window, states, refit, calls)
    return WINDOW_FITS[model](window, settings)


def _arima_state(task: SymbolTask, window: Window, states: dict, refit: dt.date, fits: list[Fit]) -> dict:
    """Order search on order-selection dates; otherwise re-estimate that date's order.

    The selection of date S depends only on S's window, so the order in force is the
    same however the days are run; a missing selection is made (and stored) on demand.
    """
    selection_date = refit_date(task.sessions, refit, task.settings.order_selection, task.triggers)
    if selection_date == refit:
        return auto_arima_fit(window, task.settings)
    selected = states.get(("auto_arima", selection_date))
    if selected is None:
        began = time.perf_counter()
        selection_window = _window(task, selection_date)
        selected = auto_arima_fit(selection_window, task.settings)
        states[("auto_arima", selection_date)] = selected
        seconds = time.perf_counter() - began
        fits.append(Fit(task.symbol, "auto_arima", selection_date, selected, len(selection_window), seconds))
    return arima_estimate(window, task.settings, selected)


def _classifier_state(task: SymbolTask, window: Window, states: dict, refit: dt.date, calls: dict) -> dict:
    """This refit's candidate, and what serves after the rollback rule (see ``direction_serving``)."""
    candidate = direction_fit(window, task.settings, calls)
    previous = None
    if not all(r.get("accepted") for r in candidate["report"].values()):
        i = bisect.bisect_left(task.sessions, refit)
        if i > 0:
            before = refit_date(task.sessions, task.sessions[i - 1], task.settings.cadence, task.triggers)
            stored = states.get(("direction_classifier", before))
            previous = stored["candidate"] if stored else direction_fit(_window(task, before), task.settings, calls)
    return {"candidate": candidate, "serving": direction_serving(candidate, previous)}
