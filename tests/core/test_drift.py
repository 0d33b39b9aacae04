"""What the pipeline reads from drift reports: refit triggers and the gate's drift score."""

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats

from lakehouse_assets.core import drift
from lakehouse_assets.lake.catalog import table

D = dt.date


def reports(rows: list[tuple]) -> pl.DataFrame:
    columns = ["as_of", "kind", "name", "symbol", "statistic", "refit"]
    frame = pl.DataFrame(rows, schema=columns, orient="row")
    return frame.with_columns(
        [pl.lit(None, dtype).alias(c) for c, dtype in table("drift_reports").schema.items() if c not in columns]
    ).select(list(table("drift_reports").schema))


def test_refit_triggers_fall_on_the_next_session_and_market_wide_flags_reach_every_symbol() -> None:
    frame = reports(
        [
            (D(2024, 3, 28), "feature", "rsi_14", "AAPL", 0.3, True),  # Thursday before Good Friday
            (D(2024, 3, 28), "feature", "adx_14", "AAPL", 0.2, True),  # the same day twice: one trigger
            (D(2024, 4, 2), "regime", "regime", drift.ALL_SYMBOLS, None, True),
            (D(2024, 4, 3), "feature", "rsi_14", "MSFT", 0.5, False),  # drifted, not sustained: no refit
        ]
    )
    next_session = {D(2024, 3, 28): D(2024, 4, 1), D(2024, 4, 2): D(2024, 4, 3)}.__getitem__
    got = drift.refit_triggers(frame, ["AAPL", "MSFT"], next_session)
    assert got == {"AAPL": (D(2024, 4, 1), D(2024, 4, 3)), "MSFT": (D(2024, 4, 3),)}


def test_drift_score_is_the_largest_feature_statistic_of_the_symbol_or_the_market() -> None:
    frame = reports(
        [
            (D(2024, 4, 1), "feature", "rsi_14", "AAPL", 0.12, False),
            (D(2024, 4, 1), "feature", "adx_14", "AAPL", 0.31, True),
            (D(2024, 4, 1), "feature", "rsi_14", drift.ALL_SYMBOLS, 0.2, False),
            (D(2024, 4, 1), "regime", "regime", "AAPL", 0.9, False),  # not a feature statistic
        ]
    )
    assert drift.drift_scores(frame, ["AAPL", "MSFT"]) == {
        ("AAPL", D(2024, 4, 1)): 0.31,
        ("MSFT", D(2024, 4, 1)): 0.2,
    }


def evidence_reports(rows: list[tuple]) -> pl.DataFrame:
    columns = ["as_of", "kind", "name", "symbol", "p_value", "drifted"]
    frame = pl.DataFrame(rows, schema=columns, orient="row")
    return frame.with_columns(
        [pl.lit(None, dtype).alias(c) for c, dtype in table("drift_reports").schema.items() if c not in columns]
    ).select(list(table("drift_reports").schema))


def test_drift_evidence_counts_verdicts_and_market_wide_drift_reaches_every_symbol() -> None:
    frame = evidence_reports(
        [
            (D(2024, 4, 1), "feature", "rsi_14", "AAPL", 0.40, False),
            (D(2024, 4, 1), "feature", "adx_14", "AAPL", 0.001, True),
            (D(2024, 4, 1), "feature", "momentum_20", "AAPL", None, False),  # warming up: no verdict
            (D(2024, 4, 1), "feature", "rsi_14", drift.ALL_SYMBOLS, 0.002, True),
            (D(2024, 4, 1), "regime", "regime", "AAPL", 0.0001, True),  # not a feature
            (D(2024, 4, 2), "feature", "rsi_14", "MSFT", None, False),  # nothing tested
            (D(2024, 4, 3), "regime", "regime", "MSFT", 0.5, False),  # no feature rows that day
        ]
    )
    got = drift.drift_evidence(frame, ["AAPL", "MSFT", "IBM"])
    assert got == {
        ("AAPL", D(2024, 4, 1)): {"tested": 2, "drifted": ["adx_14", "rsi_14"], "share": 1.0},
        ("MSFT", D(2024, 4, 1)): {"tested": 1, "drifted": ["rsi_14"], "share": 1.0},
        ("IBM", D(2024, 4, 1)): {"tested": 1, "drifted": ["rsi_14"], "share": 1.0},
        ("MSFT", D(2024, 4, 2)): {"tested": 0, "drifted": [], "share": 0.0},
    }


# --- computing the reports ----------------------------------------------------------------

START = D(2020, 1, 1)
RULES = drift.DriftRules(features=("x",), regime_window=100, regime_reference=500, regime_alpha=0.01)


def dates(n: int) -> list[dt.date]:
    return [START + dt.timedelta(days=i) for i in range(n)]


def one_feature(values: np.ndarray, symbol: str = "AAA") -> pl.DataFrame:
    return pl.DataFrame({"symbol": symbol, "date": dates(len(values)), "x": values})


def lag1_loop(x: np.ndarray) -> float:
    """Lag-1 autocorrelation, written out."""
    m = sum(x) / len(x)
    num = sum((x[t] - m) * (x[t + 1] - m) for t in range(len(x) - 1))
    den = sum((v - m) ** 2 for v in x)
    return num / den


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    x = np.empty(n)
    x[0] = rng.normal() / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.normal()
    return x


def test_ks_statistic_is_scipys_two_sample_statistic_including_ties() -> None:
    rng = np.random.default_rng(7)
    for n1, n2, shift, decimals in [(100, 500, 0.0, 6), (100, 500, 0.4, 6), (37, 211, 0.1, 1), (100, 250, 1.0, 0)]:
        a = np.round(rng.normal(shift, 1, n1), decimals)
        b = np.round(rng.normal(0, 1, n2), decimals)
        assert drift.ks_test(a, b)[0] == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_ks_p_value_is_the_plain_asymptotic_one_when_samples_are_anticorrelated() -> None:
    rng = np.random.default_rng(11)
    current = np.diff(rng.normal(size=101)) + 0.3  # an MA(1) with theta -1: lag-1 autocorrelation about -0.5
    reference = np.diff(rng.normal(size=501))
    assert lag1_loop(current) < 0 and lag1_loop(reference) < 0
    d, p = drift.ks_test(current, reference)
    plain = stats.kstwobign.sf(d * np.sqrt(100 * 500 / 600))
    assert 1e-4 < plain < 0.5  # a p-value in the informative range
    assert p == pytest.approx(plain, rel=1e-9)


def test_ks_p_value_of_an_autocorrelated_sample_uses_effective_sizes_and_is_larger() -> None:
    rng = np.random.default_rng(3)
    current, reference = ar1(rng, 100, 0.9) + 2.0, ar1(rng, 500, 0.9)
    d, p = drift.ks_test(current, reference)
    n1 = 100 * (1 - lag1_loop(current)) / (1 + lag1_loop(current))
    n2 = 500 * (1 - lag1_loop(reference)) / (1 + lag1_loop(reference))
    assert p == pytest.approx(stats.kstwobign.sf(d * np.sqrt(n1 * n2 / (n1 + n2))), rel=1e-9)
    plain = stats.kstwobign.sf(d * np.sqrt(100 * 500 / 600))
    assert plain < 0.01 < 0.5 < p  # the i.i.d. p-value would call this drift


def test_ks_drops_nans_and_refuses_an_empty_sample() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=50), rng.normal(size=80)
    assert drift.ks_test(np.r_[a, np.nan], np.r_[np.nan, b]) == drift.ks_test(a, b)
    with pytest.raises(ValueError):
        drift.ks_test(np.array([np.nan]), b)


def test_iid_feature_rarely_drifts() -> None:
    drifted = []
    for seed in range(20):
        frame = one_feature(np.random.default_rng(seed).normal(size=700))
        report = drift.feature_drift(frame, dates(700)[-100:], RULES)
        assert report.height == 100
        drifted.append(report["drifted"].mean())
    assert np.mean(drifted) < 0.05  # alpha: at most about 5% of windows by chance
    assert drifted[0] == 0.0


def test_a_persistent_feature_passes_the_threshold_without_drifting() -> None:
    """An AR(1) with phi 0.97 is stationary, yet 100-day windows of it look unlike the 500 days
    before on most days: the plain rule (D > 0.15) would flag it; the effective sizes do not."""
    plain, drifted = [], []
    for seed in range(5):
        values = ar1(np.random.default_rng(seed), 800, 0.97)
        report = drift.feature_drift(one_feature(values), dates(800)[-200:], RULES)
        plain.append((report["statistic"] > RULES.threshold).mean())
        drifted.append(report["drifted"].mean())
    assert np.mean(plain) > 0.5
    assert np.mean(drifted) < 0.05


def test_a_two_sigma_mean_shift_over_the_last_60_days_is_drift() -> None:
    values = np.random.default_rng(0).normal(size=700)
    values[-60:] += 2.0
    report = drift.feature_drift(one_feature(values), dates(700), RULES)
    last = report.row(-1, named=True)
    assert last["drifted"] and last["statistic"] > 0.4 and last["p_value"] < 1e-3
    assert last["kind"] == "feature" and last["name"] == "x" and last["symbol"] == "AAA" and last["threshold"] == 0.15
    assert not report.filter(pl.col("as_of") < dates(700)[-60])["drifted"].any()
    detail = json.loads(last["detail"])
    assert detail["n_current"] == 100 and detail["n_reference"] == 500
    assert detail["median_current"] == pytest.approx(np.median(values[-100:]), rel=1e-5)
    assert detail["median_reference"] == pytest.approx(np.median(values[-600:-100]), rel=1e-5)


def test_sustained_counts_consecutive_drifted_days_and_refit_fires_once_per_episode() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=900)
    values[640:700] += 2.0  # one episode, then back to normal
    report = drift.feature_drift(one_feature(values), dates(900), RULES)
    flags = report["drifted"].to_list()
    run, expected_sustained, expected_refit = 0, [], []
    for flag in flags:
        run = run + 1 if flag else 0
        expected_sustained.append(min(run, RULES.sustained_days + 1))
        expected_refit.append(run == RULES.sustained_days)
    assert report["sustained"].to_list() == expected_sustained
    assert report["refit"].to_list() == expected_refit
    assert sum(expected_refit) >= 1
    first = flags.index(True)
    assert report["sustained"].to_list()[first : first + 8] == [1, 2, 3, 4, 5, 6, 6, 6]


def test_a_days_report_does_not_depend_on_which_other_days_are_asked_for() -> None:
    values = np.random.default_rng(1).normal(size=800)
    values[650:] += 1.5
    frame = pl.concat([one_feature(values, "AAA"), one_feature(np.random.default_rng(2).normal(size=800), "BBB")])
    days = dates(800)
    full = drift.feature_drift(frame, days, RULES)
    for day in days[640:720:7] + days[-3:]:
        assert_frame_equal(drift.feature_drift(frame, [day], RULES), full.filter(pl.col("as_of") == day))


def test_short_history_is_warming_up_and_the_frame_has_the_table_schema() -> None:
    values = np.r_[np.full(20, np.nan), np.random.default_rng(4).normal(size=400)]
    frame = one_feature(values).with_columns(pl.col("x").fill_nan(None))
    days = dates(420)
    report = drift.feature_drift(frame, [days[50], days[368], days[369], D(1999, 1, 1)], RULES)
    assert report.schema == table("drift_reports").schema
    warm = report.filter(pl.col("as_of") < days[369])
    assert warm.height == 2 and warm["statistic"].is_null().all() and warm["p_value"].is_null().all()
    assert not warm["drifted"].any() and (warm["sustained"] == 0).all()
    assert {json.loads(d)["status"] for d in warm["detail"]} == {"warming up"}
    # 100 current + 250 reference values (half of 500) are the least that gives a report
    ready = report.filter(pl.col("as_of") == days[369])
    assert ready["statistic"].is_not_null().all() and json.loads(ready["detail"][0])["n_reference"] == 250


def test_each_monitored_feature_gets_a_row_and_a_missing_one_is_an_error() -> None:
    rng = np.random.default_rng(6)
    rules = drift.DriftRules()
    frame = pl.DataFrame({"symbol": "AAA", "date": dates(650), **{f: rng.normal(size=650) for f in rules.features}})
    report = drift.feature_drift(frame, dates(650)[-2:], rules)
    assert sorted(report["name"].unique()) == sorted(rules.features) and report.height == 16
    with pytest.raises(KeyError, match="rsi_14"):
        drift.feature_drift(frame.drop("rsi_14"), dates(650)[-2:], rules)


def regime_frame(labels: list[str | None], symbol: str = "AAA") -> pl.DataFrame:
    return pl.DataFrame(
        {"symbol": symbol, "date": dates(len(labels)), "regime": labels}, schema_overrides={"regime": pl.String}
    )


def chi_square_loop(current: dict[str, int], reference: dict[str, int]) -> float:
    """Pearson's chi-square against reference proportions smoothed by half a count, written out."""
    categories = ["normal", "high_volatility", "crash", "recovery"]
    total_ref = sum(reference.get(c, 0) + 0.5 for c in categories)
    n = sum(current.values())
    out = 0.0
    for c in categories:
        expected = n * (reference.get(c, 0) + 0.5) / total_ref
        out += (current.get(c, 0) - expected) ** 2 / expected
    return out


def test_crash_days_after_a_calm_history_are_regime_drift_named_normal_to_crash() -> None:
    labels = [None] * 50 + ["normal"] * 600 + ["crash"] * 3
    report = drift.regime_drift(regime_frame(labels), dates(653)[-3:], RULES)
    assert report["kind"].to_list() == ["regime"] * 3 and report["name"].to_list() == ["regime"] * 3
    assert report["threshold"].to_list() == pytest.approx([11.344866730144373] * 3)  # chi-square 3 df, 1%
    for k, row in enumerate(report.iter_rows(named=True), start=1):
        expected = chi_square_loop({"normal": 100 - k, "crash": k}, {"normal": 500})
        assert row["statistic"] == pytest.approx(expected, rel=1e-9)
        assert row["p_value"] == pytest.approx(stats.chi2.sf(expected, 3), rel=1e-9)
        assert json.loads(row["detail"])["shift"] == "normal -> crash"
    # one unseen label among 100 is chi-square about 8.3 (p about 0.04): not yet significant at 1%
    assert report["drifted"].to_list() == [False, True, True]
    assert report["sustained"].to_list() == [0, 1, 2]
    detail = json.loads(report["detail"][2])
    assert detail["current"] == {"normal": 0.97, "high_volatility": 0.0, "crash": 0.03, "recovery": 0.0}
    assert detail["reference"]["normal"] == 1.0 and detail["psi"] > 0


def test_with_the_shipped_short_regime_window_the_first_crash_day_drifts() -> None:
    rules = drift.DriftRules()  # regime window 20 against 250, alpha 0.001 (config/monitoring.yaml)
    labels = [None] * 50 + ["normal"] * 600 + ["crash"]
    (row,) = drift.regime_drift(regime_frame(labels), dates(651)[-1:], rules).iter_rows(named=True)
    expected = chi_square_loop({"normal": 19, "crash": 1}, {"normal": 250})
    assert row["statistic"] == pytest.approx(expected, rel=1e-9)
    assert row["threshold"] == pytest.approx(stats.chi2.isf(0.001, 3))
    assert row["drifted"] and json.loads(row["detail"])["shift"] == "normal -> crash"


def test_a_stationary_mix_of_regimes_rarely_drifts() -> None:
    shares = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        labels = rng.choice(["normal", "high_volatility", "crash", "recovery"], 900, p=[0.7, 0.15, 0.05, 0.1])
        report = drift.regime_drift(regime_frame(labels.tolist()), dates(900)[-200:], RULES)
        shares.append(report["drifted"].mean())
    # above the nominal 1%: the reference proportions are estimated but tested as if known, and
    # overlapping windows make drift come in episodes (a few seeds have one)
    assert np.mean(shares) < 0.10
    assert np.median(shares) == 0.0


def test_regime_drift_refuses_unknown_labels() -> None:
    with pytest.raises(ValueError, match="panic"):
        drift.regime_drift(regime_frame(["normal", "panic"]), dates(2), RULES)


def test_a_drop_in_confidence_is_prediction_drift_that_never_asks_for_a_refit() -> None:
    rng = np.random.default_rng(8)
    n = 700
    confidence = rng.normal(0.6, 0.05, n)
    confidence[-60:] -= 0.15
    frame = pl.concat(
        [
            pl.DataFrame({"date": dates(n), "name": "confidence", "value": confidence}),
            pl.DataFrame({"date": dates(n), "name": "predicted_return", "value": rng.normal(0, 0.01, n)}),
        ]
    )
    report = drift.prediction_drift(frame, dates(n)[-30:], RULES)
    assert (report["symbol"] == drift.ALL_SYMBOLS).all() and (report["kind"] == "prediction").all()
    conf = report.filter(pl.col("name") == "confidence")
    assert conf["drifted"].all() and (conf["sustained"] == 6).all() and not report["refit"].any()
    change = json.loads(conf["detail"][-1])["avg_confidence_change"]
    assert change == pytest.approx(confidence[-100:].mean() - confidence[-600:-100].mean(), rel=1e-5)
    assert change == pytest.approx(-0.09, abs=0.02)
    assert not report.filter(pl.col("name") == "predicted_return")["drifted"].any()


def test_prediction_windows_do_not_depend_on_row_order_within_a_date() -> None:
    rng = np.random.default_rng(9)
    frame = pl.DataFrame({"date": dates(400) * 2, "name": "confidence", "value": rng.normal(size=800)})
    rules = drift.DriftRules(prediction_window=51, prediction_reference=201)  # windows cut dates in half
    a = drift.prediction_drift(frame, dates(400)[-5:], rules)
    b = drift.prediction_drift(frame.sample(fraction=1.0, shuffle=True, seed=1), dates(400)[-5:], rules)
    assert_frame_equal(a, b)
    assert a["statistic"].is_not_null().all()
