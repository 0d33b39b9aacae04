"""The cheap paths of an ordinary day's forecasts against what they replace, bit for bit:
the ARMA filter without statsmodels' results object, white noise without a filter, and the
GARCH variances without ``fix`` and without ``forecast``'s frames. Each oracle is the code
the path replaced, written out here."""

import dataclasses

import numpy as np
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import forecasting as fc
from tests.conftest import REPO

SETTINGS = load_config(REPO / "config").forecasting
N = 760  # the sessions of an ordinary day's span: the fit window and the week since its refit


def _returns(seed: int, phi: float = 0.3, theta: float = -0.2) -> np.ndarray:
    """Daily log returns (fractions) of an ARMA(1, 1) with a small drift."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, 0.012, N + 1)
    r = np.zeros(N + 1)
    for t in range(1, N + 1):
        r[t] = 0.0003 + phi * r[t - 1] + e[t] + theta * e[t - 1]
    return r[1:]


def _span(returns: np.ndarray, seed: int) -> fc.Window:
    rng = np.random.default_rng(seed + 100)
    dates = np.arange(np.datetime64("2015-01-01"), np.datetime64("2015-01-01") + N).astype("datetime64[D]")
    returns = returns.copy()
    returns[0] = np.nan  # a symbol's first bar has no return
    features = {n: rng.normal(50.0, 10.0, N) for n in SETTINGS.feature_columns}
    features["rsi_14"][:14] = np.nan  # warming up: those rows are dropped with their returns
    return fc.Window(dates, returns, np.cumsum(np.nan_to_num(returns)), features)


def _oracle_arma(paths: np.ndarray, result, settings: fc.ForecastSettings) -> list[list[fc.Prediction]]:  # type: ignore[no-untyped-def]
    """The replaced ``_arma_predictions``: the coefficients read from a results object."""
    from statsmodels.tsa.arima_process import arma2ma

    psi = arma2ma(np.r_[1.0, -result.arparams], np.r_[1.0, result.maparams], lags=max(settings.horizons))
    sigma2 = float(result.params[-1])
    variances = {h: float(sigma2 * np.sum(np.cumsum(psi[:h]) ** 2)) for h in settings.horizons}
    out = []
    for path in paths:
        row = []
        for h in settings.horizons:
            mean, var = float(path[:h].sum()), variances[h]
            row.append(fc.Prediction(h, mean / 100.0, var / 1e4, fc._normal_up(mean, var)))
        out.append(row)
    return out


def _oracle_filter(model, params: np.ndarray):  # type: ignore[no-untyped-def]
    """The replaced ``_filtered``: statsmodels' ``filter`` with its results object."""
    from statsmodels.tsa.statespace import kalman_filter as kf

    memory = (
        kf.MEMORY_NO_FORECAST
        | kf.MEMORY_NO_PREDICTED_COV
        | kf.MEMORY_NO_FILTERED
        | kf.MEMORY_NO_LIKELIHOOD
        | kf.MEMORY_NO_GAIN
        | kf.MEMORY_NO_SMOOTHING
        | kf.MEMORY_NO_STD_FORECAST
    )
    return model.filter(params, cov_type="none", conserve_memory=memory)


def _oracle_auto_arima(state: fc.State, span: fc.Window, ends: list[int]) -> list[list[fc.Prediction]]:
    y = span.returns * 100.0
    ok, counts = fc._observed(y, ends)
    with fc._Silenced():
        result = _oracle_filter(fc._sarimax(y[ok], tuple(state["order"]), state["trend"]), np.asarray(state["params"]))
        paths = fc._mean_paths(result.filter_results, counts, max(SETTINGS.horizons))
    return _oracle_arma(paths, result, SETTINGS)


def _oracle_sarimax(state: fc.State, span: fc.Window, ends: list[int]) -> list[list[fc.Prediction]]:
    y, names, steps = span.returns * 100.0, state["exog"], max(SETTINGS.horizons)
    params = np.asarray(state["params"])
    last = np.asarray(ends) - 1
    lagged, ok = fc._lagged_exog(span, names)  # type: ignore[misc]
    counts = np.cumsum(ok)[last]
    mu, sd = np.asarray(state["scaling"]["mean"]), np.asarray(state["scaling"]["std"])
    x = (lagged[ok] - mu) / sd
    today = (np.column_stack([span.features[n][last] for n in names]) - mu) / sd
    missing = np.isnan(today).any(axis=1)
    intercept = fc._combine(params[1 : 1 + len(names)][None, :], np.nan_to_num(today).T)[0]
    with fc._Silenced():
        result = _oracle_filter(fc._sarimax(y[ok], tuple(state["order"]), "c", x), params)
        paths = fc._mean_paths(result.filter_results, counts, steps, intercept)
    rows = _oracle_arma(paths, result, SETTINGS)
    return [[] if gone else row for gone, row in zip(missing, rows, strict=True)]


ORDERS = [((0, 0, 0), "n"), ((0, 0, 0), "c"), ((1, 0, 0), "c"), ((0, 0, 2), "n"), ((2, 0, 1), "c"), ((1, 0, 1), "n")]


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.EstimationWarning")
@pytest.mark.parametrize(("order", "trend"), ORDERS)
def test_arma_forecasts_equal_statsmodels_results_objects_bit_for_bit(order: tuple[int, int, int], trend: str) -> None:
    """Estimated states (so white noise gets a real constant and variance), forecast from
    three origins of one span, by the new path and by the replaced one."""
    for seed in range(3):
        span = _span(_returns(seed), seed)
        window = fc._head(span, N - 5)
        y = window.clean_returns() * 100.0
        with fc._Silenced():
            params, _, _ = fc._estimate(y, order, trend, SETTINGS.arima_maxiter)
        state = {"order": list(order), "trend": trend, "params": [float(p) for p in params]}
        ends = [N - 5, N - 2, N]
        assert fc.auto_arima_forecasts(state, span, ends, SETTINGS) == _oracle_auto_arima(state, span, ends)
        sarimax = fc.sarimax_fit(window, SETTINGS, state)
        assert sarimax["order"] == list(order)
        assert fc.sarimax_forecasts(sarimax, span, ends, SETTINGS) == _oracle_sarimax(sarimax, span, ends)


@pytest.mark.parametrize("trend", ["n", "c"])
def test_white_noise_predicted_states_are_the_state_intercept(trend: str) -> None:
    """What ``_white_noise`` writes down is what statsmodels' filter computes: every
    predicted state after an observation of an order (0, 0, 0) model, whatever the data, and
    the matrices ``_mean_paths`` reads (the last state intercept)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    rng = np.random.default_rng(5)
    for constant in (0.0713, -0.0402, 1e-9):
        y = rng.standard_t(4, N) + (constant if trend == "c" else 0.0)
        exog = rng.normal(size=(N, 2))
        for x in (None, exog):
            params = np.r_[[constant] if trend == "c" else [], [0.3, -0.2] if x is not None else [], 1.7]
            model = SARIMAX(y, exog=x, order=(0, 0, 0), trend=trend)
            filtered = _oracle_filter(model, params).filter_results
            written = fc._white_noise(constant if trend == "c" else 0.0, N)
            np.testing.assert_array_equal(filtered.predicted_state[:, 1:], written.predicted_state[:, 1:])
            np.testing.assert_array_equal(filtered.design, written.design)
            np.testing.assert_array_equal(filtered.transition, written.transition)
            np.testing.assert_array_equal(filtered.state_intercept[:, -1:], written.state_intercept)


@pytest.mark.parametrize("kind", ["garch", "gjr"])
def test_garch_forecasts_equal_the_fixed_results_forecasts_bit_for_bit(kind: str) -> None:
    """``garch_forecasts`` against the replaced ``fix(values).forecast(...)`` of each origin.
    (Not EGARCH: arch draws its simulations from the distribution's own unseeded generator,
    not from ``random_state``, so two runs of either path differ.)"""
    settings = dataclasses.replace(SETTINGS, garch_kind=kind)
    for seed in range(3):
        span = _span(_returns(seed, phi=0.0, theta=0.0), seed)
        state = fc.garch_fit(fc._head(span, N - 5), settings)
        ends = [N - 5, N - 2, N]
        y_all = span.returns * 100.0
        ok, counts = fc._observed(y_all, ends)
        y, values = y_all[ok], [state["params"][n] for n in state["params"]]
        expected = []
        with fc._Silenced():
            for n in counts:
                fixed = fc.garch_model(y, kind, state["dist"]).fix(values)
                forecast = fixed.forecast(horizon=21, start=int(n) - 1, reindex=False)
                expected.append(np.asarray(forecast.variance)[0])
        got = fc.garch_forecasts(state, span, ends, settings)
        mu = state["params"]["mu"]
        for row, variances in zip(got, expected, strict=True):
            want = [
                fc.Prediction(
                    h,
                    mu * h / 100.0,
                    float(variances[:h].sum()) / 1e4,
                    fc._normal_up(mu * h, float(variances[:h].sum())),
                )
                for h in settings.horizons
            ]
            assert row == want


def test_garch_variances_leave_a_non_finite_forecast_to_arch() -> None:
    """An explosive process (alpha + beta far above 1) overflows: the result is then arch's own."""
    y = np.random.default_rng(2).normal(0.0, 1.0, N)
    values = np.array([0.01, 1e306, 0.9, 0.9])  # mu, omega, alpha, beta
    with fc._Silenced():
        model = fc.garch_model(y, "garch", "normal")
        got = fc._garch_variances(model, values, N - 3, 21)
        fixed = fc.garch_model(y, "garch", "normal").fix(values)
        want = np.asarray(fixed.forecast(horizon=21, start=N - 3, reindex=False).variance)
    assert not np.isfinite(got).all()
    np.testing.assert_array_equal(got, want)
