"""The check of ``model_fits``, on fits written to a real Delta table the way the forecasting asset writes them."""

import datetime as dt

import dagster as dg
import polars as pl

from lakehouse_assets.config import load_config
from lakehouse_assets.core import forecasting as fc
from lakehouse_assets.defs import checks as asset_checks
from lakehouse_assets.defs import forecasting
from lakehouse_assets.lake.delta import Lake
from tests.conftest import REPO

D = dt.date
SETTINGS = load_config(REPO / "config").forecasting  # ARIMA orders up to (2, 0, 2), 750-session windows
GOOD_DAY, BAD_DAY = D(2018, 10, 1), D(2018, 10, 8)


def fit(symbol: str, model: str, day: dt.date, state: dict, n_obs: int = 750) -> fc.Fit:
    return fc.Fit(symbol, model, day, state, n_obs, 0.25)


def arima(order: list[int], params: list[float]) -> dict:
    return {"order": order, "trend": "c", "params": params, "aic": 2100.0, "converged": True}


def garch(omega: float) -> dict:
    params = {"mu": 0.05, "omega": omega, "alpha[1]": 0.1, "beta[1]": 0.85}
    return {"kind": "garch", "dist": "normal", "params": params, "loglikelihood": -1000.0, "converged": True}


CLASSIFIER = {"candidate": {}, "serving": {"1": {"features": ["rsi_14"], "report": {"accepted": True}, "model": None}}}
GOOD = [
    fit("AAA", "naive", GOOD_DAY, {}),
    fit("AAA", "auto_arima", GOOD_DAY, arima([2, 0, 1], [0.01, 0.3, -0.1, 0.2, 1.1])),
    fit("AAA", "sarimax", GOOD_DAY, {**arima([0, 0, 0], [0.01, 0.2, -0.1, 1.2]), "exog": ["rsi_14"], "scaling": {}}),
    fit("AAA", "garch", GOOD_DAY, garch(0.02)),
    fit("AAA", "ssa", GOOD_DAY, {"L": 60, "rank": 3, "energy": 0.91, "slope": 0.0004, "basis": [[1.0]], "phi": 0.2}),
    fit("AAA", "direction_classifier", GOOD_DAY, CLASSIFIER, n_obs=612),
]
BAD = [
    fit("AAA", "auto_arima", BAD_DAY, arima([3, 0, 0], [0.01, 0.3, 0.1, 0.05, 1.1])),  # p beyond arima_max_p
    fit("AAA", "garch", BAD_DAY, garch(float("inf"))),  # a parameter not finite
    fit("AAA", "naive", BAD_DAY, {}, n_obs=0),  # an empty window
    fit("AAA", "ssa", BAD_DAY, {"L": 60, "rank": 3, "energy": 0.9, "slope": 0.0, "basis": [], "phi": 0.1}),
]


def check(lake: Lake, day: dt.date) -> dg.AssetCheckResult:
    outcomes = forecasting.fits_outcomes(lake, day, day, pl.col("symbol").is_in(["AAA"]), SETTINGS)
    (result,) = asset_checks.results("model_fits", outcomes, checked=(day, day))
    return result


def test_model_fits_check_passes_on_good_fits_and_fails_on_a_range_with_bad_ones(lake: Lake) -> None:
    (spec,) = asset_checks.specs("model_fits")
    assert not spec.blocking  # bad fits fail the check (ERROR) but do not stop the run

    frame, figures = forecasting._insert_fits(lake, GOOD + BAD)
    assert figures["rows_inserted"] == frame.height == 10
    assert lake.read("model_fits", columns=["state"]).height == 10  # states stored, not read by the check

    good = check(lake, GOOD_DAY)
    assert good.passed, good.description
    assert good.metadata["fits_within_bounds.failing_rows"].value == 0

    bad = check(lake, BAD_DAY)
    assert not bad.passed and bad.severity == dg.AssetCheckSeverity.ERROR
    parts = bad.metadata["parts"].value
    assert {name: p["passed"] for name, p in parts.items()} == {
        "schema_and_nulls": True,
        "unique_keys": True,
        "fits_within_bounds": False,
    }
    assert bad.metadata["fits_within_bounds.failing_rows"].value == 3  # the SSA fit is fine
    sample = bad.metadata["fits_within_bounds.sample"].value
    assert all(model in sample for model in ("auto_arima", "garch", "naive")) and "ssa" not in sample
