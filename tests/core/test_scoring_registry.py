"""Forecast scores, rolling metrics, the Diebold-Mariano test and the promotion gate."""

import dataclasses
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
                    "volatility": 0.01,
                    "prob_up": prob,
                    "lower_80": point - 0.0128,
                    "upper_80": point + 0.0128,
                    "lower_95": point - 0.02,
                    "upper_95": point + 0.02,
                }
            )
    scored = scoring.realized(pl.DataFrame(rows), closes)
    good = scored.filter(pl.col("model") == "good").sort("date")
    prices = [100.0, 101, 99, 99, 102, 103]
    actual = [math.log(b / a) for a, b in itertools.pairwise(prices)]
    assert good["actual"].to_list() == pytest.approx(actual)
    assert good["hit"].to_list() == [True, False, None, True, True]  # no move on Jan 5: no verdict
    assert good["covered_95"].to_list() == [True, False, True, False, True]  # -2.0% and +3.0% fall outside
    # sMAPE of the implied price against the target's close
    implied = [p * math.exp(0.005) for p in prices[:-1]]
    smape = [2 * abs(f - a) / (f + a) for f, a in zip(implied, prices[1:], strict=True)]
    assert good["smape"].to_list() == pytest.approx(smape, rel=1e-12)
    naive_smape = scored.filter(pl.col("model") == "naive").sort("date")["smape"].to_list()
    assert max(naive_smape) < 0.04  # on returns naive's sMAPE would be exactly 2 on every row
    rolled = scoring.rolling_metrics(scored, days, window=3).filter(pl.col("model") == "good").sort("target_date")
    last = rolled.row(-1, named=True)
    errors = [a - 0.005 for a in actual[-3:]]
    assert last["window_n"] == 3
    assert last["mae"] == pytest.approx(sum(map(abs, errors)) / 3)
    assert last["relative_mae"] == pytest.approx(sum(map(abs, errors)) / sum(map(abs, actual[-3:])))
    assert last["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 3))
    assert last["directional_accuracy"] == 1.0  # Jan 5 is not counted
    assert last["balanced_accuracy"] is None  # only up outcomes among the counted calls
    assert rolled.row(1, named=True)["balanced_accuracy"] == pytest.approx(0.5)  # up: right, down: wrong
    assert last["coverage_80"] == pytest.approx(2 / 3)  # +2.98% falls outside +-1.28%
    naive = scoring.rolling_metrics(scored, days, window=3).filter(pl.col("model") == "naive")
    assert naive["relative_mae"].drop_nulls().unique().to_list() == [1.0]
    assert naive["directional_accuracy"].null_count() == 5 and naive["balanced_accuracy"].null_count() == 5


def crps_by_integration(y: float, mu: float, sd: float) -> float:
    """CRPS as its definition: the integral of (F(x) - 1{x >= y})^2 over x."""
    from scipy import integrate

    def below(x: float) -> float:
        return stats.norm.cdf(x, mu, sd) ** 2

    def above(x: float) -> float:
        return (1.0 - stats.norm.cdf(x, mu, sd)) ** 2

    lo, hi = mu - 12 * sd, mu + 12 * sd
    return integrate.quad(below, lo, y, limit=200)[0] + integrate.quad(above, y, hi, limit=200)[0]


@pytest.mark.parametrize(("y", "mu", "sd"), [(0.0, 0.0, 0.01), (0.03, -0.01, 0.02), (-0.05, 0.002, 0.008)])
def test_crps_equals_its_defining_integral(y: float, mu: float, sd: float) -> None:
    frame = pl.DataFrame({"y": [y], "mu": [mu], "sd": [sd]})
    got = frame.select(scoring.normal_crps(pl.col("y"), pl.col("mu"), pl.col("sd"))).item()
    assert got == pytest.approx(crps_by_integration(y, mu, sd), rel=1e-6)
    point = pl.DataFrame({"y": [y], "mu": [mu], "sd": [0.0]})
    assert point.select(scoring.normal_crps(pl.col("y"), pl.col("mu"), pl.col("sd"))).item() == pytest.approx(
        abs(y - mu)
    )


def test_a_forecaster_that_always_says_up_on_a_58_percent_up_series_fails_directional_skill() -> None:
    rng = np.random.default_rng(3)
    n = 126
    days = [D(2024, 1, 1) + dt.timedelta(days=i) for i in range(n + 1)]
    up = rng.permutation(np.r_[np.ones(73), np.zeros(53)]).astype(bool)  # 58% up
    moves = np.where(up, 1.0, -1.0) * rng.uniform(0.001, 0.02, n)
    closes = pl.DataFrame({"symbol": "AAA", "date": days, "close": 100.0 * np.exp(np.r_[0.0, np.cumsum(moves)])})
    forecasts = pl.DataFrame(
        {
            "symbol": "AAA",
            "date": days[:-1],
            "target_date": days[1:],
            "model": "always_up",
            "horizon": 1,
            "point": 0.0005,
            "volatility": 0.01,
            "prob_up": 0.52,
            "lower_80": -0.0123,
            "upper_80": 0.0133,
            "lower_95": -0.019,
            "upper_95": 0.020,
        }
    )
    scored = scoring.realized(forecasts, closes)
    last = scoring.rolling_metrics(scored, days, window=n).sort("target_date").row(-1, named=True)
    assert last["directional_accuracy"] == pytest.approx(73 / 126)  # the base rate looks like skill ...
    assert last["balanced_accuracy"] == 0.5  # ... balanced accuracy does not
    candidates = {"naive": registry.Candidate(metrics(dm_pvalue=None)), "always_up": registry.Candidate(last)}
    _, failed, details = registry.evaluate(candidates, 1, None, RULES)["always_up"]
    assert "directional_skill" in failed
    assert details["evidence"]["directional_skill"]["directional_accuracy"] == pytest.approx(73 / 126)


def metrics(**values: float | None) -> dict[str, float | None]:
    base: dict[str, float | None] = {
        "window_n": 63,
        "rmse": 0.01,
        "mae": 0.008,
        "smape_mean": 0.01,
        "crps_mean": 0.005,
        "relative_mae": 0.9,
        "directional_accuracy": 0.56,
        "balanced_accuracy": 0.56,
        "coverage_80": 0.80,
        "coverage_95": 0.95,
        "tracking_error": 0.01,
        "dm_stat": -3.0,
        "dm_pvalue": 0.001,
    }
    return {**base, **values}


def judge(figures: dict, regimes: dict | None = None, horizon: int = 1, drift: dict | None = None) -> tuple:
    """The gate's verdict on one candidate beside naive."""
    candidates = {
        "naive": registry.Candidate(metrics(dm_pvalue=None, dm_stat=None, balanced_accuracy=None)),
        "ssa": registry.Candidate(metrics(**figures), regimes or {}),
    }
    return registry.evaluate(candidates, horizon, drift, RULES)["ssa"]


@pytest.mark.parametrize(
    ("figures", "regimes", "failed"),
    [
        ({}, {}, []),
        ({"window_n": 10}, {}, ["history"]),
        ({"balanced_accuracy": 0.45}, {}, ["directional_skill"]),
        ({"balanced_accuracy": None}, {}, ["directional_skill"]),  # one outcome only, or no calls
        ({}, {"crash": (0.30, 20), "normal": (0.6, 40)}, ["regime_floor"]),
        ({}, {"crash": (0.30, 5)}, []),  # too few crash forecasts to judge
        ({"relative_mae": 0.8, "dm_pvalue": 0.2}, {}, ["beats_baseline"]),  # a lower MAE is not evidence
        ({"relative_mae": 1.05, "dm_pvalue": 0.01}, {}, []),  # DM significant (squared loss) although MAE >= naive's
        ({"dm_pvalue": None}, {}, ["beats_baseline"]),
        ({"coverage_95": 0.80}, {}, ["coverage"]),  # too narrow
        ({"coverage_80": 0.99, "coverage_95": 1.0}, {}, ["coverage"]),  # too wide
    ],
)
def test_gate_checks(figures: dict, regimes: dict, failed: list[str]) -> None:
    passed, got_failed, details = judge(figures, regimes)
    assert got_failed == failed
    assert "drift (no report yet)" in passed and details["relative_mae"] == metrics(**figures)["relative_mae"]
    assert set(details["evidence"]) == set(registry.CHECKS)  # every check keeps its evidence


def test_drift_check_reads_the_calibrated_verdicts() -> None:
    calm = {"tested": 8, "drifted": ["rsi_14"], "share": 0.125}
    storm = {"tested": 8, "drifted": ["adx_14", "drawdown_252", "realized_vol_21", "rsi_14", "volatility_ratio"]}
    storm["share"] = 5 / 8
    assert "drift" in judge({}, drift=calm)[0]
    _, failed, details = judge({}, drift=storm)
    assert failed == ["drift"] and details["evidence"]["drift"]["drifted"] == storm["drifted"]


def test_holm_controls_the_family_and_orders_by_p_value() -> None:
    got = registry.holm({"a": 0.011, "b": 0.004, "c": 0.3, "d": None, "e": 0.02}, 0.05)
    # thresholds 0.01, 0.0125, 0.0167, 0.025, 0.05 in the order b, a, e, c, d
    assert [got[m]["rank"] for m in "baecd"] == [1, 2, 3, 4, 5]
    assert [got[m]["rejected"] for m in "baecd"] == [True, True, False, False, False]
    assert got["e"]["threshold"] == pytest.approx(0.05 / 3)
    # each p just below alpha is not enough once five models are tried
    assert not any(r["rejected"] for r in registry.holm({m: 0.04 for m in "abcde"}, 0.05).values())


def holm_loop(p: list[float], alpha: float) -> list[bool]:
    """Holm (1979) as written: reject H_(1..k-1) where k is the first i with p_(i) > alpha / (m + 1 - i)."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    rejected = [False] * len(p)
    for i, j in enumerate(order, start=1):
        if p[j] > alpha / (len(p) + 1 - i):
            break
        rejected[j] = True
    return rejected


def test_holm_against_the_textbook_procedure_on_random_families() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        p = (rng.random(5) ** 3).tolist()
        got = registry.holm({str(i): v for i, v in enumerate(p)}, 0.05)
        assert [got[str(i)]["rejected"] for i in range(5)] == holm_loop(p, 0.05)


@pytest.mark.parametrize("horizon", [1, 5])
def test_coverage_rejects_intervals_twice_too_wide_and_too_narrow_but_not_right_ones(horizon: int) -> None:
    """Simulated normal h-day sums of daily shocks, scored over a 252-session window."""
    rng = np.random.default_rng(horizon)
    n = 252
    shocks = rng.normal(size=n + horizon)
    outcome = np.array([shocks[i : i + horizon].sum() for i in range(n)])  # overlapping h-day sums
    sd = math.sqrt(horizon)
    for scale, expect in ((1.0, True), (2.0, False), (0.5, False)):
        figures = {
            band: float(np.mean(np.abs(outcome) <= z * scale * sd))
            for band, z in (("coverage_80", 1.2815515655446004), ("coverage_95", 1.959963984540054))
        }
        _, failed, details = judge({**figures, "window_n": n}, horizon=horizon)
        assert ("coverage" not in failed) is expect, (scale, details["evidence"]["coverage"])


def test_champion_is_the_approved_model_with_the_lowest_relative_mae_or_naive_or_the_override() -> None:
    candidates = {
        "naive": registry.Candidate(metrics(relative_mae=1.0, dm_pvalue=None)),
        "garch": registry.Candidate(metrics(relative_mae=0.8, dm_pvalue=0.001)),
        "ssa": registry.Candidate(metrics(relative_mae=0.7, dm_pvalue=0.002)),
        "sarimax": registry.Candidate(metrics(relative_mae=0.5, coverage_95=0.5)),
    }
    judged = registry.evaluate(candidates, 5, None, RULES)
    rows = {r["model"]: r for r in registry.decide(D(2024, 1, 2), "AAA", 5, judged, RULES)}
    assert [m for m, r in rows.items() if r["champion"]] == ["ssa"]
    assert rows["sarimax"]["recommendation"] == "REJECT" and json.loads(rows["sarimax"]["checks_failed"]) == [
        "coverage"
    ]
    assert rows["naive"]["recommendation"] == "BASELINE"
    evidence = json.loads(rows["ssa"]["metrics"])["evidence"]["beats_baseline"]
    assert evidence["holm_rank"] == 3 and evidence["family"] == 3  # after garch and sarimax (0.001, by name)
    nothing = registry.decide(D(2024, 1, 2), "AAA", 5, {m: judged[m] for m in ("naive", "sarimax")}, RULES)
    assert [r["model"] for r in nothing if r["champion"]] == ["naive"]
    forced = type(RULES)(**{**RULES.__dict__, "overrides": {("AAA", 5): "sarimax"}})
    overridden = {r["model"]: r for r in registry.decide(D(2024, 1, 2), "AAA", 5, judged, forced)}
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


def test_a_day_judges_a_symbol_whose_scores_stopped_by_that_rows_whole_window() -> None:
    """Issue 16 case 8: a symbol whose bars stopped (MSFT after 2017-11-10) is judged by its
    last scored row, older than the day; its figures are over that row's own window, so they
    must not depend on how far back the run's scores reach (where the run started)."""
    rng = np.random.default_rng(8)
    window, n = 10, 60
    sessions = [D(2024, 1, 1) + dt.timedelta(days=i) for i in range(n)]
    rows = []
    for symbol, last in (("LIVE", n - 1), ("GONE", n - 8)):  # GONE's last target is 7 sessions before the end
        for i in range(1, last + 1):
            actual = float(rng.normal(0.0, 0.01))
            for model, point in (("naive", 0.0), ("ssa", float(rng.normal(0.0, 0.01)))):
                rows.append(
                    {
                        "symbol": symbol,
                        "date": sessions[i - 1],
                        "target_date": sessions[i],
                        "model": model,
                        "horizon": 1,
                        "actual": actual,
                        "point": point,
                        "error": actual - point,
                        "abs_error": abs(actual - point),
                        "squared_error": (actual - point) ** 2,
                        "smape": abs(actual - point),
                        "crps": abs(actual - point),
                        "hit": None if model == "naive" else (point > 0) == (actual > 0),
                        "covered_80": True,
                        "covered_95": True,
                        "regime": "normal",
                        "sector": "Unknown",
                    }
                )
    scored = pl.DataFrame(rows)
    days = sessions[-5:]
    judged = days[0] - dt.timedelta(days=window - 1)  # the earliest target the days judge
    rules = dataclasses.replace(RULES, min_scored=5)

    def decisions(rolled: pl.DataFrame) -> pl.DataFrame:
        frame, _ = registry.decide_days(
            rolled, days, sessions, window, ["GONE", "LIVE"], [1], ["naive", "ssa"], {}, rules
        )
        return frame

    everything = decisions(scoring.rolling_metrics(scored, sessions, window))
    # the targets the days judge and the window - 1 sessions before them: the same decisions
    enough = scored.filter(pl.col("target_date") >= judged - dt.timedelta(days=window - 1))
    since = scoring.rolling_metrics(enough, sessions, window, since=judged)
    assert since["target_date"].min() == judged
    assert decisions(since).equals(everything)
    # scores cut at the judged targets themselves shrink the stopped symbol's window: the bug
    cut = decisions(scoring.rolling_metrics(scored.filter(pl.col("target_date") >= judged), sessions, window))
    gone = pl.col("symbol") == "GONE"
    assert cut.filter(~gone).equals(everything.filter(~gone))
    n_cut = [json.loads(m)["window_n"] for m in cut.filter(gone)["metrics"]]
    n_all = [json.loads(m)["window_n"] for m in everything.filter(gone)["metrics"]]
    assert n_all == [window] * 10 and max(n_cut) < window
