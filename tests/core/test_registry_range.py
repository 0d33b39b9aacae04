"""The range's judging computed all at once against its definition computed one day, one
window at a time: the same bits.

``scoring._windows_metrics`` (every window's rolling figures at once) against
``scoring._window_metrics`` of each window's slice; ``registry.decide_days`` (lookups and
cumulative counts) against each day's window filtered and grouped in polars, the figures
encoded by ``json.dumps``; ``registry.sorted_json`` against ``json.dumps``.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import polars as pl
import pytest

from lakehouse_assets.core import registry, scoring

COLUMNS = scoring.WINDOW_INPUTS


def float_bits(values: np.ndarray) -> np.ndarray:
    """IEEE bits, every NaN as one value (the definition's None)."""
    return np.where(np.isnan(values), np.nan, values).view(np.int64)


def score_columns(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """Columns shaped like ``rolling_metrics``' arrays: NaN where a value is missing, some
    signed zeros, errors spanning magnitudes, constant runs (a DM variance of zero)."""
    error = rng.normal(0.0, 0.02, size) * rng.choice([1.0, 1e3, 1e-3], size)
    error[rng.random(size) < 0.05] = -0.0
    error[200:260] = 0.01  # a run of equal losses
    naive = rng.normal(0.0, 0.02, size)
    naive[200:260] = 0.01
    naive[rng.random(size) < 0.2] = np.nan
    hit = rng.integers(0, 2, size).astype(float)
    hit[rng.random(size) < 0.3] = np.nan
    up = np.where(np.isnan(hit), np.nan, rng.integers(0, 2, size).astype(float))
    up[300:400] = np.where(np.isnan(hit[300:400]), np.nan, 1.0)  # one outcome only
    smape = np.abs(error)
    smape[rng.random(size) < 0.1] = np.nan
    crps = np.abs(error) * rng.uniform(0.5, 1.0, size)
    crps[500:700] = np.nan
    return {
        "error": error,
        "abs_error": np.abs(error),
        "squared_error": error**2,
        "smape": smape,
        "crps": crps,
        "hit": hit,
        "up": up,
        "covered_80": (np.abs(error) < 0.02).astype(float),
        "covered_95": (np.abs(error) < 0.04).astype(float),
        "naive_abs": np.abs(naive),
        "naive_sq": naive**2,
    }


@pytest.mark.parametrize("seed", [3, 4])
def test_every_window_at_once_equals_each_window_alone_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = 3_000
    arrays = score_columns(rng, size)
    # window lengths past numpy's 8-way unrolled sum (8) and its pairwise split (128)
    lengths = np.r_[np.arange(1, 301), rng.integers(1, 140, 1_500)]
    highs = rng.integers(lengths, size + 1)
    lows = highs - lengths
    horizons = rng.choice([1, 5, 21], len(lows))
    got, df = scoring._windows_metrics(arrays, lows, highs, horizons)
    for k, (lo, hi, horizon) in enumerate(zip(lows.tolist(), highs.tolist(), horizons.tolist(), strict=True)):
        figures, expected_df = scoring._window_metrics({c: v[lo:hi] for c, v in arrays.items()}, horizon)
        expected = np.array([math.nan if figures[c] is None else figures[c] for c in scoring.ROLLING_COLUMNS])
        row = np.array([got[c][k] for c in scoring.ROLLING_COLUMNS])
        assert np.array_equal(float_bits(row), float_bits(expected)), (k, lo, hi, horizon)
        assert df[k] == expected_df
    assert np.isfinite(got["dm_stat"]).sum() > 1_000  # the DM statistic was computed, not only skipped
    assert np.isnan(got["balanced_accuracy"]).sum() > 10 and np.isnan(got["dm_stat"]).sum() > 10


SESSIONS = [dt.date(2022, 1, 3) + dt.timedelta(days=i) for i in range(45)]
WINDOW = 10
MODELS = ("naive", "arima", "classifier")
SYMBOLS = ("AAA", "BBB", "CCC", "STOP", "NONE")  # STOP's targets end early; NONE has no rows
SECTORS = {"AAA": "Tech", "BBB": "Tech", "CCC": "Energy", "STOP": "Energy"}
RULES = registry.GateRules(
    min_scored=5,
    min_balanced_accuracy=0.5,
    group_floor=0.45,
    min_group_count=3,
    max_drifted_share=0.5,
    dm_alpha=0.05,
    coverage_alpha=0.01,
)


def rolled_rows(seed: int) -> pl.DataFrame:
    """Rolled scores of three models, four symbols, horizons 1 and 5, with rows missing,
    null and empty regimes, null figures, and a symbol whose targets stop."""
    rng = np.random.default_rng(seed)
    rows = []
    for symbol in SYMBOLS[:-1]:
        last = len(SESSIONS) - (15 if symbol == "STOP" else 0)
        for horizon in (1, 5):
            for i in range(horizon, last):
                for model in MODELS:
                    if rng.random() < 0.15:
                        continue
                    figures = {c: float(rng.uniform(0.0, 1.0)) for c in scoring.ROLLING_COLUMNS}
                    figures["window_n"] = int(rng.integers(0, 12))
                    figures["relative_mae"] = float(rng.uniform(0.8, 1.2))
                    figures["dm_pvalue"] = float(rng.uniform(0.0, 0.08))
                    for c in scoring.ROLLING_COLUMNS:
                        if rng.random() < 0.1:
                            figures[c] = None
                    rows.append(
                        {
                            "model": model,
                            "symbol": symbol,
                            "horizon": horizon,
                            "date": SESSIONS[i - horizon],
                            "target_date": SESSIONS[i],
                            "hit": None if model == "naive" or rng.random() < 0.1 else bool(rng.random() < 0.6),
                            "regime": rng.choice(
                                np.array(["bull", "bear", "", None], dtype=object), p=[0.45, 0.4, 0.05, 0.1]
                            ),
                            "sector": SECTORS[symbol],
                            **figures,
                        }
                    )
    schema = {c: pl.Float64 for c in scoring.ROLLING_COLUMNS} | {"window_n": pl.Int64, "regime": pl.String}
    return pl.DataFrame(rows, schema_overrides=schema).sample(fraction=1.0, shuffle=True, seed=seed)


def decided_day_by_day(
    rolled: pl.DataFrame, days: list[dt.date], drift: dict[tuple[str, dt.date], dict[str, object]]
) -> tuple[pl.DataFrame, dict[dt.date, dict[tuple[str, int], str]]]:
    """Each day's window filtered out of the rows and grouped in polars, as the gate defines it."""
    sectors = dict(rolled.select("symbol", "sector").unique().iter_rows())
    decisions, champions = [], {}
    for day in days:
        i = SESSIONS.index(day)
        recent = rolled.filter(pl.col("target_date").is_between(SESSIONS[max(i - (WINDOW - 1), 0)], day))
        latest = recent.sort("target_date").group_by("model", "symbol", "horizon").last()
        metrics = {(r["model"], r["symbol"], r["horizon"]): r for r in latest.iter_rows(named=True)}
        by_regime: dict[tuple[str, str, int], dict[str, tuple[float, int]]] = {}
        for (model, symbol, horizon, regime), value in registry.group_accuracy(
            recent, ["model", "symbol", "horizon", "regime"]
        ).items():
            if regime:
                by_regime.setdefault((model, symbol, horizon), {})[str(regime)] = value
        by_sector = registry.group_accuracy(recent, ["model", "horizon", "sector"])
        champions[day] = {}
        for symbol in SYMBOLS:
            sector = sectors.get(symbol, "Unknown")
            for horizon in (1, 5):
                candidates = {}
                for model in MODELS:
                    row = metrics.get((model, symbol, horizon), {})
                    figures = {c: row.get(c) for c in scoring.ROLLING_COLUMNS}
                    figures["window_n"] = figures["window_n"] or 0
                    own = by_sector.get((model, horizon, sector))
                    candidates[model] = registry.Candidate(
                        figures, by_regime.get((model, symbol, horizon), {}), {sector: own} if own else {}
                    )
                judged = registry.evaluate(candidates, horizon, drift.get((symbol, day)), RULES)
                for model, (passed, failed, details) in sorted(judged.items()):
                    approved = model == "naive" or not failed
                    decisions.append(
                        {
                            "as_of": day,
                            "symbol": symbol,
                            "horizon": horizon,
                            "model": model,
                            "approved": approved,
                            "recommendation": "BASELINE" if model == "naive" else ("PROMOTE" if approved else "REJECT"),
                            "checks_passed": json.dumps(passed),
                            "checks_failed": json.dumps(failed),
                            "metrics": json.dumps(details, sort_keys=True, default=str),
                        }
                    )
                approved_models = [m for m, (_p, failed, _d) in judged.items() if m != "naive" and not failed]
                rank = {
                    m: (
                        math.inf if judged[m][2]["relative_mae"] is None else judged[m][2]["relative_mae"],
                        math.inf if judged[m][2]["rmse"] is None else judged[m][2]["rmse"],
                        m,
                    )
                    for m in approved_models
                }
                champions[day][(symbol, horizon)] = min(approved_models, key=rank.__getitem__, default="naive")
    return pl.DataFrame(decisions), champions


@pytest.mark.parametrize("seed", [5, 6])
def test_decisions_of_a_range_equal_each_day_decided_alone(seed: int) -> None:
    rolled = rolled_rows(seed)
    days = SESSIONS[12:]  # STOP's last target is SESSIONS[29]: judged by older rows, then by none
    drift = {("AAA", day): {"tested": 4, "drifted": ["rsi_14"], "share": 0.25} for day in days[::3]}
    drift |= {("CCC", day): {"tested": 2, "drifted": ["adx_14", "rsi_14"], "share": 1.0} for day in days[::4]}
    got, champions = registry.decide_days(
        rolled, days, SESSIONS, WINDOW, list(SYMBOLS), [1, 5], list(MODELS), drift, RULES
    )
    expected, expected_champions = decided_day_by_day(rolled, days, drift)
    assert got.schema == registry.SCHEMA
    assert got.drop("champion", "manual_override").equals(expected)
    assert champions == expected_champions
    chosen = got.filter("champion").select("as_of", "symbol", "horizon", "model").rows()
    assert {(d, s, h): m for d, s, h, m in chosen} == {
        (d, s, h): m for d, by in expected_champions.items() for (s, h), m in by.items()
    }
    evidence = [json.loads(m)["evidence"] for m in got["metrics"]]
    # the accuracy lookups found groups and some passed the count, so the floors were tested
    assert sum(bool(e["regime_floor"]["accuracy"]) for e in evidence) > 100
    assert sum(bool(e["sector_floor"]["accuracy"]) for e in evidence) > 100
    assert got.filter(pl.col("recommendation") == "PROMOTE").height > 0


def test_window_counts_equal_polars_group_accuracy_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    n = 40_000  # groups of up to some thousands of calls: counts past any small-integer shortcut
    calls = pl.DataFrame(
        {
            "model": rng.choice(["a", "b"], n),
            "sector": rng.choice(["x", "y", "z"], n),
            "target_date": [SESSIONS[0] + dt.timedelta(days=int(d)) for d in rng.integers(0, 400, n)],
            "hit": rng.random(n) < rng.choice([0.3, 0.55, 0.9], n),
        }
    )
    counts = registry._WindowCounts(calls, ["model", "sector"])
    for first, last in ((0, 399), (10, 72), (100, 100), (390, 450), (500, 600)):
        lo, hi = SESSIONS[0] + dt.timedelta(days=first), SESSIONS[0] + dt.timedelta(days=last)
        expected = registry.group_accuracy(calls.filter(pl.col("target_date").is_between(lo, hi)), ["model", "sector"])
        got = counts.at(lo, hi)
        assert got.keys() == expected.keys()
        for key, (accuracy, count) in got.items():
            assert count == expected[key][1] and float_bits(np.array([accuracy])) == float_bits(
                np.array([expected[key][0]])
            )


@pytest.mark.parametrize(
    "value",
    [
        {"b": [1.5, None, True, -0.0], "a": {"d": math.nan, "c": dt.date(2024, 1, 2), "e": -math.inf}},
        {"évidence": {"ü": 'naïve \u2028 "quoted"', "z": [1, 2, {"y": 0.1 + 0.2, "x": 1e-300}]}},
        {"n": np.float64(0.1), "i": 2**70, "t": ("a", 1)},
        [3, {"k": None}],
    ],
)
def test_sorted_json_is_json_dumps_with_sorted_keys(value: object) -> None:
    assert registry.sorted_json(value) == json.dumps(value, sort_keys=True, default=str)


def test_days_before_any_score_decide_from_no_figures_as_the_definition_does() -> None:
    empty = rolled_rows(5).clear()
    days = SESSIONS[:3]
    got, champions = registry.decide_days(empty, days, SESSIONS, WINDOW, list(SYMBOLS), [1, 5], list(MODELS), {}, RULES)
    expected, expected_champions = decided_day_by_day(empty, days, {})
    assert got.drop("champion", "manual_override").equals(expected)
    assert champions == expected_champions and got.height == len(days) * len(SYMBOLS) * 2 * len(MODELS)
    assert set(got["recommendation"]) == {"BASELINE", "REJECT"}
