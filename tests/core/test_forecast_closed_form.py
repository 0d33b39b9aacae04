"""The ARIMA search's and SARIMAX's cheaper estimates against statsmodels.

* White noise, order (0, 0, 0), is estimated in closed form (``_white_noise_estimate``): the
  oracle is statsmodels' own maximum likelihood of the same model (the call ``_estimate``
  makes for other orders). The closed form is the exact maximum, the optimizer's is within its
  tolerance of it: parameters agree to 1e-6 (relative), the closed form's loglikelihood is not
  below the optimizer's (less 1e-9), and the AIC is statsmodels' definition at it.
* Hannan-Rissanen (``_hannan_rissanen``, ``_bias_filter``) gives statsmodels' estimates to the
  bit, and the order search gives what it gave with statsmodels' function (the oracle search
  below is the code it replaced).
"""

import numpy as np
import pytest
from statsmodels.tsa.arima.estimators.hannan_rissanen import hannan_rissanen
from statsmodels.tsa.statespace.sarimax import SARIMAX

from lakehouse_assets.core import forecasting as fc
from tests.core.forecast_settings import settings

N = 750  # a fit window


def _series(seed: int, phi: tuple[float, ...] = (), theta: tuple[float, ...] = (), drift: float = 0.02) -> np.ndarray:
    """Percent daily returns of an ARMA with a drift and slowly varying volatility."""
    rng = np.random.default_rng(seed)
    scale = 1.0 + 0.5 * np.sin(np.arange(N + 50) / 40.0) ** 2
    e = rng.standard_t(6, N + 50) * scale
    y = np.zeros(N + 50)
    for t in range(2, N + 50):
        ar = sum(c * y[t - 1 - k] for k, c in enumerate(phi))
        ma = sum(c * e[t - 1 - k] for k, c in enumerate(theta))
        y[t] = drift + ar + e[t] + ma
    return y[50:]


def _regressors(seed: int, n: int = N) -> np.ndarray:
    """Two standardized regressors, like SARIMAX's lagged features."""
    rng = np.random.default_rng(seed + 1000)
    x = np.column_stack([rng.normal(50.0, 12.0, n), rng.normal(0.0, 0.7, n)])
    standardized: np.ndarray = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    return standardized


def _statsmodels_fit(y: np.ndarray, trend: str, exog: np.ndarray | None):  # type: ignore[no-untyped-def]
    """What ``_estimate`` ran for white noise before the closed form (maxiter as configured);
    with nothing but the scale to estimate, the scale is not concentrated out (nothing would
    be left for the optimizer)."""
    concentrated = trend != "n" or exog is not None
    model = SARIMAX(y, exog=exog, order=(0, 0, 0), trend=trend, concentrate_scale=concentrated)
    with fc._Silenced():
        return model.fit(maxiter=30, disp=False, cov_type="none", low_memory=True)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("trend", "with_exog"), [("c", True), ("c", False), ("n", True), ("n", False)])
def test_white_noise_closed_form_is_the_maximum_likelihood(seed: int, trend: str, with_exog: bool) -> None:
    y = _series(seed, drift=0.05 * seed)
    exog = _regressors(seed) if with_exog else None
    # a series that does depend on the regressors, so the coefficients are not all near 0
    if exog is not None:
        y = y + exog @ np.array([0.3, -0.2])
    params, aic, converged = fc._estimate(y, (0, 0, 0), trend, 30, exog)
    oracle = _statsmodels_fit(y, trend, exog)
    expected = np.r_[oracle.params, oracle.scale] if trend != "n" or exog is not None else oracle.params
    assert converged
    assert params.shape == expected.shape
    np.testing.assert_allclose(params, expected, rtol=1e-6, atol=1e-9)
    with fc._Silenced():
        loglike = SARIMAX(y, exog=exog, order=(0, 0, 0), trend=trend).loglike(params)
    assert loglike >= oracle.llf - 1e-9  # the exact maximum: never below the optimizer's
    # statsmodels' AIC: -2 llf + 2 k, k counting sigma2 (its df_model with the scale concentrated)
    assert oracle.aic == pytest.approx(-2.0 * oracle.llf + 2.0 * len(params), rel=1e-12)
    assert aic == pytest.approx(-2.0 * loglike + 2.0 * len(params), rel=1e-12)
    assert aic <= oracle.aic + 1e-9
    assert aic == pytest.approx(oracle.aic, rel=1e-9)


def test_white_noise_closed_form_by_hand() -> None:
    """The normal likelihood written out: mean, ddof-0 variance, and -n/2 (log 2 pi s2 + 1)."""
    y = _series(7, drift=0.1)
    params, aic, _ = fc._estimate(y, (0, 0, 0), "c", 30)
    mean, variance = y.mean(), np.mean((y - y.mean()) ** 2)
    assert params.tolist() == [mean, variance]
    loglike = -0.5 * len(y) * (np.log(2.0 * np.pi * variance) + 1.0)
    assert aic == pytest.approx(-2.0 * loglike + 4.0, rel=1e-12)


def test_white_noise_without_constant_or_regressors_is_unchanged() -> None:
    """The one closed form there was before: sigma2 = mean(y^2), the AIC from statsmodels' loglike."""
    y = _series(8)
    params, aic, converged = fc._estimate(y, (0, 0, 0), "n", 30)
    sigma2 = float(np.mean(y**2))
    assert params.tolist() == [sigma2]
    assert aic == float(-2.0 * SARIMAX(y, order=(0, 0, 0), trend="n").loglike(np.array([sigma2])) + 2.0)
    assert converged


def _oracle_bias_filter(x: np.ndarray, ar_coef: np.ndarray, ma_coef: np.ndarray) -> np.ndarray:
    """statsmodels 0.15's loop (``hannan_rissanen``, step 3.2), as it is written there."""
    p, q = len(ar_coef) - 1, len(ma_coef) - 1
    z = np.zeros_like(x)
    for t in range(len(x)):
        if t >= max(p, q):
            tmp_ar = np.dot(-ar_coef[1:], x[t - p : t][::-1])
            tmp_ma = np.dot(ma_coef[1:], z[t - q : t][::-1])
            z[t] = x[t] - tmp_ar - tmp_ma
    return z


@pytest.mark.parametrize("p", range(4))
@pytest.mark.parametrize("q", range(1, 4))
def test_bias_filter_is_statsmodels_loop_to_the_bit(p: int, q: int) -> None:
    rng = np.random.default_rng(10 * p + q)
    x = rng.standard_normal(N)
    x[100] = 0.0  # exact zeros: signed zeros must come out as the loop's
    ar_coef = np.r_[1.0, rng.uniform(-0.4, 0.4, p)]
    ma_coef = np.r_[1.0, rng.uniform(-0.4, 0.4, q)]
    ours = fc._bias_filter(x, -ar_coef[1:], ma_coef[1:])
    expected = _oracle_bias_filter(x, ar_coef, ma_coef)
    assert ours.view(np.int64).tolist() == expected.view(np.int64).tolist()


CASES = [
    ((), ()),
    ((0.3,), ()),
    ((), (-0.4,)),
    ((0.5,), (-0.3,)),
    ((0.4, -0.2), ()),
    ((), (0.3, 0.2)),
    ((0.6, -0.3), (-0.2, 0.1)),
    ((-0.5,), (0.6, 0.2)),
]


def _bits(values: object) -> list[int]:
    return np.asarray(values, dtype=float).view(np.int64).tolist()


@pytest.mark.parametrize(("seed", "case"), list(enumerate(CASES)))
def test_hannan_rissanen_is_statsmodels_to_the_bit(
    seed: int, case: tuple[tuple[float, ...], tuple[float, ...]]
) -> None:
    y = _series(seed, *case)
    x = y - float(y.mean())
    long_ar: dict[int, np.ndarray] = {}
    corrected = 0
    for p in range(3):
        for q in range(3):
            expected, _ = hannan_rissanen(x, ar_order=p, ma_order=q, demean=False)
            ours = fc._hannan_rissanen(x, p, q, long_ar)
            assert _bits(ours.ar_params) == _bits(expected.ar_params), (p, q)
            assert _bits(ours.ma_params) == _bits(expected.ma_params), (p, q)
            assert _bits(ours.sigma2) == _bits(expected.sigma2), (p, q)
            assert (ours.is_stationary, ours.is_invertible) == (expected.is_stationary, expected.is_invertible)
            corrected += q > 0 and bool(expected.is_stationary and expected.is_invertible)
    assert corrected  # the bias correction ran for some orders


def _oracle_search(window: fc.Window, settings: fc.ForecastSettings) -> fc.State:
    """``approximate_order_search`` as it was, with statsmodels' ``hannan_rissanen`` per order."""
    y = window.clean_returns() * 100.0
    level = float(y.mean())
    best = None
    with fc._Silenced():
        for p in range(settings.arima_max_p + 1):
            for q in range(settings.arima_max_q + 1):
                fitted, _ = hannan_rissanen(y - level, ar_order=p, ma_order=q, demean=False)
                if not (fitted.is_stationary and fitted.is_invertible):
                    continue
                ar, ma = np.asarray(fitted.ar_params, float), np.asarray(fitted.ma_params, float)
                model = fc._sarimax(y, (p, 0, q), "c")
                for trend, constant in (("c", level * (1.0 - ar.sum())), ("n", 0.0)):
                    start = np.r_[constant, ar, ma, fitted.sigma2]
                    k = len(start) - (trend == "n")
                    aic = -2.0 * model.loglike(start) + 2.0 * k
                    if best is None or aic < best[0]:
                        best = (aic, (p, 0, q), trend, start[(trend == "n") :])
        assert best is not None
        _, order, trend, start = best
        params, aic, _ = fc._estimate(y, order, trend, settings.arima_maxiter, start=start)
    return {"order": list(order), "trend": trend, "params": [float(p) for p in params], "aic": aic}


@pytest.mark.parametrize(("seed", "case"), list(enumerate(CASES)))
def test_order_search_chooses_as_with_statsmodels_hannan_rissanen(
    seed: int, case: tuple[tuple[float, ...], tuple[float, ...]]
) -> None:
    y = _series(100 + seed, *case) / 100.0
    dates = np.arange(np.datetime64("2015-01-01"), np.datetime64("2015-01-01") + N).astype("datetime64[D]")
    window = fc.Window(dates, y, np.cumsum(y))
    config = settings(fit_window=N, min_observations=250)
    state = fc.approximate_order_search(window, config)
    expected = _oracle_search(window, config)
    assert {k: state[k] for k in expected} == expected
