"""Forecast scores, rolling metrics, the Diebold-Mariano test and the promotion gate."""

import datetime as dt
import itertools
import json
import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from lakehouse_assets.config import load_config
from lakehouse_assets.core import registry, scoring
from tests.conftest import REPO

D = dt.date
RULES = load_config(REPO / "config").gate


def dm_loop(loss_a: np.ndarray, loss_b: np.ndarray, h: int) -> tuple[float, float]:
    """Diebold and Mariano (1995) with Harvey, Leybourne and Newbold's (1997) correction."""
    d = [a - b for a, b in zip(loss_a, loss_b, strict=True)]
    n = len(d)
    mean = sum(d) / n
    gamma = [sum((d[t] - mean) * (d[t - k] - mean) for t in range(k, n)) / n for k in range(h)]
    variance = gamma[0] + 2 * sum((1 - k / h) * gamma[k] for k in range(1, h))
    statistic = mean / math.sqrt(variance / n) * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return statistic, stats.t.cdf(statistic, n - 1)


@pytest.mark.parametrize("h", [1, 5])
def test_diebold_mariano_against_the_textbook_formula(h: int) -> None:
    rng = np.random.default_rng(h)
    a, b = rng.normal(size=80) ** 2, (1.2 * rng.normal(size=80)) ** 2
    got = scoring.diebold_mariano(a, b, h)
    assert got == pytest.approx(dm_loop(a, b, h), rel=1e-12)
    assert got[0] < 0 and got[1] < 0.5  # smaller losses: negative statistic, p below one half


def test_scores_and_rolling_metrics_of_a_hand_made_case() -> None:
    days = [D(2024, 1, d) for d in (2, 3, 4, 5, 8, 9)]
    closes = pl.DataFrame({"symbol": "AAA", "date": days, "close": [100.0, 101.0, 99.0, 99.0, 102.0, 103.0]})
    rows = []
    for origin, target in itertools.pairwise(days):
        for model, point, prob in (("naive", 0.0, 0.5), ("good", 0.005, 0.6)):
            rows.append(
                {
                    "symbol": "AAA",
                    "date": origin,
                    "target_date": target,
                    "model": model,
                    "horizon": 1,
                    "point": point,
                    "prob_up": prob,
                    "lower_80": point - 0.01,
                    "upper_80": point + 0.01,
                    "lower_95": point - 0.02,
                    "upper_95": point + 0.02,
                }
            )
    scored = scoring.realized(pl.DataFrame(rows), closes)
    good = scored.filter(pl.col("model") == "good").sort("date")
    actual = [math.log(b / a) for a, b in zip([100.0, 101, 99, 99, 102], [101.0, 99, 99, 102, 103], strict=True)]
    assert good["actual"].to_list() == pytest.approx(actual)
    assert good["hit"].to_list() == [True, False, None, True, True]  # no move on Jan 5: no verdict
    assert good["covered_95"].to_list() == [True, False, True, False, True]  # -2.0% and +3.0% fall outside
    rolled = scoring.rolling_metrics(scored, days, window=3).filter(pl.col("model") == "good").sort("target_date")
    last = rolled.row(-1, named=True)
    errors = [a - 0.005 for a in actual[-3:]]
    assert last["window_n"] == 3
    assert last["mae"] == pytest.approx(sum(map(abs, errors)) / 3)
    assert last["mase"] == pytest.approx(sum(map(abs, errors)) / sum(map(abs, actual[-3:])))
    assert last["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 3))
    assert last["directional_accuracy"] == 1.0  # Jan 5 is not counted
    naive = scoring.rolling_metrics(scored, days, window=3).filter(pl.col("model") == "naive")
    assert naive["mase"].drop_nulls().unique().to_list() == [1.0] and naive["directional_accuracy"].null_count() == 5


def metrics(**values: float) -> dict[str, float | None]:
    base = {
        "window_n": 60,
        "rmse": 0.01,
        "mae": 0.008,
        "smape_mean": 1.0,
        "mase": 0.9,
        "directional_accuracy": 0.56,
        "coverage_95": 0.95,
        "tracking_error": 0.01,
        "dm_stat": -1.0,
        "dm_pvalue": 0.2,
    }
    return {**base, **values}


@pytest.mark.parametrize(
    ("figures", "regimes", "failed"),
    [
        ({}, {}, []),
        ({"window_n": 10}, {}, ["history"]),
        ({"directional_accuracy": 0.45}, {}, ["directional_accuracy"]),
        ({}, {"crash": (0.30, 20), "normal": (0.6, 40)}, ["regime_floor"]),
        ({}, {"crash": (0.30, 5)}, []),  # too few crash forecasts to judge
        ({"mase": 1.05, "dm_pvalue": 0.2}, {}, ["beats_baseline"]),
        ({"mase": 1.05, "dm_pvalue": 0.01}, {}, []),  # DM significant although MASE >= 1
        ({"coverage_95": 0.80}, {}, ["coverage"]),
    ],
)
def test_gate_checks(figures: dict, regimes: dict, failed: list[str]) -> None:
    passed, got_failed, details = registry.evaluate(metrics(**figures), regimes, {}, None, RULES)
    assert got_failed == failed
    assert "drift (no report yet)" in passed and details["mase"] == metrics(**figures)["mase"]


def test_champion_is_the_approved_model_with_the_lowest_mase_or_naive_or_the_override() -> None:
    good = registry.evaluate(metrics(mase=0.8), {}, {}, None, RULES)
    better = registry.evaluate(metrics(mase=0.7), {}, {}, None, RULES)
    rejected = registry.evaluate(metrics(mase=0.5, coverage_95=0.5), {}, {}, None, RULES)
    naive = registry.evaluate(metrics(mase=1.0), {}, {}, None, RULES)
    candidates = {"naive": naive, "garch": good, "ssa": better, "sarimax": rejected}
    rows = {r["model"]: r for r in registry.decide(D(2024, 1, 2), "AAA", 5, candidates, RULES)}
    assert [m for m, r in rows.items() if r["champion"]] == ["ssa"]
    assert rows["sarimax"]["recommendation"] == "REJECT" and json.loads(rows["sarimax"]["checks_failed"]) == [
        "coverage"
    ]
    assert rows["naive"]["recommendation"] == "BASELINE"
    nothing = registry.decide(D(2024, 1, 2), "AAA", 5, {"naive": naive, "sarimax": rejected}, RULES)
    assert [r["model"] for r in nothing if r["champion"]] == ["naive"]
    forced = type(RULES)(**{**RULES.__dict__, "overrides": {("AAA", 5): "sarimax"}})
    overridden = {r["model"]: r for r in registry.decide(D(2024, 1, 2), "AAA", 5, candidates, forced)}
    assert overridden["sarimax"]["champion"] and overridden["sarimax"]["manual_override"]
    assert not overridden["ssa"]["champion"]


def test_replay_candidates_are_the_confident_wrong_calls_of_the_model() -> None:
    import datetime as dt

    from lakehouse_assets.core import scoring

    scored = pl.DataFrame(
        {
            "symbol": ["A"] * 5,
            "date": [dt.date(2020, 1, d) for d in range(1, 6)],
            "model": ["direction_classifier"] * 4 + ["naive"],
            "horizon": [1] * 5,
            "target_date": [dt.date(2020, 1, d + 1) for d in range(1, 6)],
            "regime": ["normal"] * 5,
            "prob_up": [0.8, 0.3, 0.55, 0.8, 0.5],
            "actual": [-0.01, 0.02, -0.01, 0.01, -0.01],
            "hit": [False, False, False, True, None],
        }
    )
    got = scoring.replay_candidates(scored, "direction_classifier", 0.6)
    assert got.select("date", "predicted_label", "true_label", "error_score").rows() == [
        (dt.date(2020, 1, 1), "up", "down", 0.8),
        (dt.date(2020, 1, 2), "down", "up", pytest.approx(0.7)),
    ]
