"""Forecast settings for the tests: small windows and the shipped models' parameters."""

from typing import Any

from lakehouse_assets.core import forecasting as fc

BASE: dict[str, Any] = {
    "horizons": (1,),
    "models": ("naive",),
    "fit_window": 20,
    "min_observations": 10,
    "cadence": "weekly",
    "order_selection": "monthly",
    "arima_max_p": 2,
    "arima_max_q": 2,
    "arima_maxiter": 30,
    "sarimax_exog": (),
    "garch_kind": "garch",
    "garch_dist": "normal",
    "ssa_window": 5,
    "ssa_energy": 0.9,
    "classifier_features": ("rsi_14",),
    "classifier_validation_fraction": 0.15,
    "classifier_min_sharpe": 0.3,
    "classifier_min_win_rate": 0.45,
}


def settings(**overrides: Any) -> fc.ForecastSettings:
    """:data:`BASE` with ``overrides`` (each a ``ForecastSettings`` field)."""
    return fc.ForecastSettings(**(BASE | overrides))
