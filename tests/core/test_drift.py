"""What the pipeline reads from drift reports: refit triggers and the gate's drift score."""

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats

from lakehouse_assets.core import drift

D = dt.date


def reports(rows: list[tuple]) -> pl.DataFrame:
    columns = ["as_of", "kind", "name", "symbol", "statistic", "refit"]
    frame = pl.DataFrame(rows, schema=columns, orient="row")
    return frame.with_columns(
        [pl.lit(None, dtype).alias(c) for c, dtype in drift.REPORT_SCHEMA.items() if c not in columns]
    ).select(list(drift.REPORT_SCHEMA))


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


def evidence_reports(rows: list[tuple]) -> pl.DataFrame:
    columns = ["as_of", "kind", "name", "symbol", "p_value", "drifted"]
    frame = pl.DataFrame(rows, schema=columns, orient="row")
    return frame.with_columns(
        [pl.lit(None, dtype).alias(c) for c, dtype in drift.REPORT_SCHEMA.items() if c not in columns]
    ).select(list(drift.REPORT_SCHEMA))


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
    for n1, n2, shift, decimals in [(100, 500, 0.0, 6), (100, 500, 0.4, 6), (37, 211, 0.1, 1), (5, 250, 1.0, 0)]:
        a = np.round(rng.normal(shift, 1, n1), decimals)
        b = np.round(rng.normal(0, 1, n2), decimals)
        older = np.round(rng.normal(0, 1, 30), decimals)
        got = drift.block_ks_test(a, b, older=older).statistic
        assert got == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_block_statistics_equal_an_explicit_loop_over_blocks_and_the_stretches_before_them() -> None:
    """Oracle: each circular block against the values preceding it (the gap after it left out), by scipy."""
    rng = np.random.default_rng(12)
    for n, window, gap, decimals in [(40, 5, 0, 6), (40, 5, 8, 6), (31, 7, 3, 0), (25, 1, 4, 1), (60, 12, 20, 1)]:
        pooled = np.round(rng.normal(size=n), decimals)
        starts = np.arange(n)
        got = drift.block_ks_statistics(pooled, window, starts, gap)
        for start in starts:
            block = pooled[(start + np.arange(window)) % n]
            before = pooled[(start - 1 - np.arange(n - window - gap)) % n]
            expected = stats.ks_2samp(block, before, method="asymp").statistic
            assert got[start] == pytest.approx(expected, abs=1e-12)


def test_block_starts_begin_with_the_latest_window_and_spread_around_the_circle() -> None:
    starts = drift.block_starts(565, 5, 99)
    assert starts[0] == 560 and len(starts) == 100 and len(set(starts.tolist())) == 100
    assert np.all(np.diff(np.sort(starts)) >= 5)  # evenly spaced: 565 / 100 apart, rounded
    assert drift.block_starts(6, 2, 99).tolist() == [4, 5, 0, 1, 2, 3]  # small pools: every other start once


def test_p_value_counts_null_blocks_and_the_critical_value_is_its_cutoff() -> None:
    """p = (1 + #{null D >= D}) / (1 + B); D > critical exactly when p <= alpha."""
    rng = np.random.default_rng(13)
    for seed in range(40):
        a, b, c = rng.normal(rng.uniform(0, 2), 1, 5), ar1(rng, 300, 0.9), ar1(rng, 30, 0.9)
        alpha = [0.05, 0.1, 0.02][seed % 3]
        result = drift.block_ks_test(a, b, older=c, blocks=49, alpha=alpha)
        pool = np.r_[c, b, a]
        d = drift.block_ks_statistics(pool, 5, drift.block_starts(len(pool), 5, 49), 30)
        assert result.blocks == 49 and result.statistic == d[0]
        assert result.p_value == pytest.approx((1 + np.sum(d[1:] >= d[0])) / 50)
        assert (result.p_value <= alpha + 1e-12) == (result.statistic > result.critical)


def ar1_window_p_values(phi: float, seeds: range) -> np.ndarray:
    p = []
    for seed in seeds:
        x = ar1(np.random.default_rng(seed), 565, phi)
        p.append(drift.block_ks_test(x[-5:], x[60:-5], older=x[:60]).p_value)
    return np.array(p)


def test_false_alarms_of_a_persistent_stationary_series_are_near_alpha() -> None:
    """An AR(1) with phi 0.98 and a 21-day rolling mean of noise: stationary, and as persistent
    as the monitored features. Over many independent series, the latest window is flagged about
    5% of the time (binomial sd over 600 series: 0.9%); the AR(1)-effective-size test could not
    flag these at all, the i.i.d. KS test flags most of them."""
    p_ar = ar1_window_p_values(0.98, range(600))
    assert 0.03 <= np.mean(p_ar <= 0.05) <= 0.075
    p_mean = []
    for seed in range(600):
        noise = np.random.default_rng(10_000 + seed).normal(size=585)
        x = np.convolve(noise, np.ones(21) / 21, mode="valid")
        p_mean.append(drift.block_ks_test(x[-5:], x[60:-5], older=x[:60]).p_value)
    assert 0.03 <= np.mean(np.array(p_mean) <= 0.05) <= 0.075
    plain = [
        stats.ks_2samp(*(lambda x: (x[-5:], x[60:-5]))(ar1(np.random.default_rng(s), 565, 0.98))).pvalue
        for s in range(100)
    ]
    assert np.mean(np.array(plain) <= 0.05) > 0.5


def test_false_alarms_over_the_days_of_one_persistent_series_are_near_alpha() -> None:
    drifted = []
    for seed in range(8):
        values = ar1(np.random.default_rng(seed), 1400, 0.98)
        report = drift.feature_drift(one_feature(values), dates(1400)[-800:], RULES)
        assert report.height == 800 and report["statistic"].null_count() == 0
        drifted.append(report["drifted"].mean())
    assert 0.02 <= np.mean(drifted) <= 0.08


def test_ks_drops_nans_and_refuses_an_empty_sample() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=50), rng.normal(size=80)
    assert drift.block_ks_test(np.r_[a, np.nan], np.r_[np.nan, b]) == drift.block_ks_test(a, b)
    with pytest.raises(ValueError):
        drift.block_ks_test(np.array([np.nan]), b)


def test_iid_feature_drifts_on_about_alpha_of_days() -> None:
    drifted = []
    for seed in range(20):
        frame = one_feature(np.random.default_rng(seed).normal(size=700))
        report = drift.feature_drift(frame, dates(700)[-100:], RULES)
        assert report.height == 100
        drifted.append(report["drifted"].mean())
    assert 0.02 <= np.mean(drifted) <= 0.08  # alpha 0.05


def test_a_persistent_feature_passes_the_threshold_without_drifting_more_than_alpha() -> None:
    """An AR(1) with phi 0.97 is stationary, yet 5-day windows of it look unlike the 500 days
    before on most days: the plain rule (D > 0.15) would flag it; the block-permutation test
    flags about alpha of them."""
    plain, drifted = [], []
    for seed in range(5):
        values = ar1(np.random.default_rng(seed), 800, 0.97)
        report = drift.feature_drift(one_feature(values), dates(800)[-200:], RULES)
        plain.append((report["statistic"] > RULES.threshold).mean())
        drifted.append(report["drifted"].mean())
    assert np.mean(plain) > 0.9
    assert np.mean(drifted) < 0.1


def test_a_level_or_scale_shift_of_a_persistent_feature_is_drift() -> None:
    rng = np.random.default_rng(21)
    level, scale = [], []
    for _ in range(20):
        x = ar1(rng, 700, 0.95)  # marginal sd about 3.2
        shifted = x.copy()
        shifted[-5:] += 12.0
        level.append(drift.feature_drift(one_feature(shifted), dates(700)[-1:], RULES)["drifted"][0])
        noise = rng.normal(size=700)
        noise[-5:] *= 8.0
        rv = np.abs(noise)  # a volatility-like feature: its level follows the scale
        scale.append(drift.feature_drift(one_feature(rv), dates(700)[-1:], RULES)["drifted"][0])
    assert np.mean(level) >= 0.9
    assert np.mean(scale) >= 0.7


def test_a_three_sigma_mean_shift_over_the_last_20_days_is_drift() -> None:
    """Flagged while the new level is new: once it has lasted about alpha x the pool (some 28
    sessions), its own stretches make up the top of the null distribution (see the next test)."""
    values = np.random.default_rng(0).normal(size=700)
    values[-20:] += 3.0
    report = drift.feature_drift(one_feature(values), dates(700), RULES)
    last = report.row(-1, named=True)
    assert last["drifted"] and last["statistic"] > 0.8 and last["p_value"] <= 0.02
    assert last["kind"] == "feature" and last["name"] == "x" and last["symbol"] == "AAA"
    detail = json.loads(last["detail"])
    assert last["threshold"] == pytest.approx(max(0.15, detail["critical"]), rel=1e-5)
    before = report.filter(pl.col("as_of") < dates(700)[-20])
    after = report.filter(pl.col("as_of") >= dates(700)[-16])  # the 5-day window wholly shifted
    assert before["drifted"].mean() < 0.1 and after["drifted"].mean() > 0.9
    assert (report["drifted"] == (report["statistic"] > report["threshold"])).all()
    assert detail["n_current"] == 5 and detail["n_reference"] == 500 and detail["n_gap"] == 60
    assert detail["blocks"] == 99 and detail["test"] == "circular block-permutation KS"
    assert detail["median_current"] == pytest.approx(np.median(values[-5:]), rel=1e-5)
    assert detail["median_reference"] == pytest.approx(np.median(values[-505:-5]), rel=1e-5)


def test_a_lasting_shift_becomes_the_history_it_is_compared_with() -> None:
    values = np.random.default_rng(3).normal(size=800)
    values[600:] += 3.0
    report = drift.feature_drift(one_feature(values), dates(800)[604:], RULES)
    flags = report["drifted"].to_list()
    assert all(flags[:20]) and np.mean(flags[60:]) < 0.1


def test_sustained_counts_consecutive_drifted_days_and_refit_fires_once_per_episode() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=900)
    values[640:700] += 5.0  # one episode, then back to normal
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
    shifted = report["as_of"].to_list().index(dates(900)[640])
    episode = flags.index(True, shifted)
    assert episode <= shifted + 4 and not flags[episode - 1] and all(flags[episode : episode + 8])
    assert report["sustained"].to_list()[episode : episode + 8] == [1, 2, 3, 4, 5, 6, 6, 6]


def test_a_days_report_does_not_depend_on_which_other_days_are_asked_for() -> None:
    values = np.random.default_rng(1).normal(size=800)
    values[650:] += 1.5
    frame = pl.concat([one_feature(values, "AAA"), one_feature(np.random.default_rng(2).normal(size=800), "BBB")])
    days = dates(800)
    full = drift.feature_drift(frame, days, RULES)
    for day in days[640:720:7] + days[-3:]:
        assert_frame_equal(drift.feature_drift(frame, [day], RULES), full.filter(pl.col("as_of") == day))


def test_the_lookback_holds_the_history_of_a_ranges_feature_and_regime_reports() -> None:
    rules = drift.DriftRules(features=("x",))  # the shipped windows
    lookback, report_days, earlier = drift.lookback_sessions(rules), 30, 400
    n = earlier + lookback + report_days
    rng = np.random.default_rng(11)
    x = np.zeros(n)
    for t in range(1, n):  # persistent, then shifted over the report days: drifted days and sustained runs
        x[t] = 0.5 * x[t - 1] + rng.normal()
    x[-report_days - 10 :] += 6.0
    x[rng.choice(n, 60, replace=False)] = np.nan  # sessions without a value
    labels = rng.choice(["normal", "high_volatility"], n, p=[0.9, 0.1]).tolist()
    labels[-report_days - 5 :] = ["crash"] * (report_days + 5)
    full = (
        one_feature(x)
        .with_columns(pl.col("x").fill_nan(None))
        .join(regime_frame([None] * 20 + labels[20:]), on=["symbol", "date"])
    )
    days = dates(n)[-report_days:]
    read = full.filter(pl.col("date") >= dates(n)[earlier])  # what a range's run reads: lookback sessions before it
    assert read.height == lookback + report_days
    for report in (drift.feature_drift, drift.regime_drift):
        whole = report(full, days, rules)
        assert whole["drifted"].any() and whole["sustained"].max() >= rules.sustained_days  # type: ignore[operator]
        assert_frame_equal(report(read, days, rules), whole)


def test_short_history_is_warming_up_and_the_frame_has_the_table_schema() -> None:
    values = np.r_[np.full(20, np.nan), np.random.default_rng(4).normal(size=400)]
    frame = one_feature(values).with_columns(pl.col("x").fill_nan(None))
    days = dates(420)
    report = drift.feature_drift(frame, [days[50], days[333], days[334], D(1999, 1, 1)], RULES)
    assert report.schema == drift.REPORT_SCHEMA
    warm = report.filter(pl.col("as_of") < days[334])
    assert warm.height == 2 and warm["statistic"].is_null().all() and warm["p_value"].is_null().all()
    assert not warm["drifted"].any() and (warm["sustained"] == 0).all() and (warm["threshold"] == 0.15).all()
    assert {json.loads(d)["status"] for d in warm["detail"]} == {"warming up"}
    # 5 current + 250 reference values (half of 500) + the 60 of the gap are the least that gives a report
    ready = report.filter(pl.col("as_of") == days[334])
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
    rules = drift.DriftRules()  # regime window 10 against 250, alpha 0.001 (config/monitoring.yaml)
    labels = [None] * 50 + ["normal"] * 600 + ["crash"]
    (row,) = drift.regime_drift(regime_frame(labels), dates(651)[-1:], rules).iter_rows(named=True)
    expected = chi_square_loop({"normal": 9, "crash": 1}, {"normal": 250})
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


def ledger(strategy: str, returns: np.ndarray, confidence: np.ndarray, days: list[dt.date]) -> pl.DataFrame:
    """Ledger rows; symbols S000, S001, ... in row order (several rows of a date: several symbols)."""
    return pl.DataFrame(
        {
            "date": days,
            "symbol": [f"S{i:03d}" for i in range(len(days))],
            "strategy_type": strategy,
            "predicted_return_pct": returns,
            "confidence": confidence,
        }
    )


def test_a_drop_in_confidence_is_prediction_drift_that_never_asks_for_a_refit() -> None:
    rng = np.random.default_rng(8)
    n = 700
    confidence = rng.normal(0.6, 0.05, n)
    confidence[-25:] -= 0.15
    frame = pl.concat(
        [
            ledger("iron_condor", rng.normal(0, 1.0, n), confidence, dates(n)),
            ledger("swing_momentum", rng.normal(0, 1.0, n), rng.normal(0.6, 0.05, n), dates(n)),
        ]
    )
    report = drift.prediction_drift(frame, dates(n)[-3:], RULES)
    assert (report["symbol"] == drift.ALL_SYMBOLS).all() and (report["kind"] == "prediction").all()
    assert sorted(report["name"].unique()) == [
        "iron_condor.confidence",
        "iron_condor.predicted_return",
        "swing_momentum.confidence",
        "swing_momentum.predicted_return",
    ]
    conf = report.filter(pl.col("name") == "iron_condor.confidence")
    assert conf["drifted"].all() and (conf["sustained"] >= 3).all() and not report["refit"].any()
    change = json.loads(conf["detail"][-1])["avg_confidence_change"]
    assert change == pytest.approx(confidence[-20:].mean() - confidence[-520:-20].mean(), rel=1e-5)
    assert change == pytest.approx(-0.14, abs=0.02)
    others = report.filter(pl.col("name") != "iron_condor.confidence")
    assert others.filter(pl.col("drifted"))["name"].n_unique() <= 1  # 3 names at 5%


def test_a_changing_strategy_mix_is_not_prediction_drift_when_each_strategy_is_stable() -> None:
    """Condors predict about 2%, directional trades about 0.2%: the pooled distribution moves when
    the mix moves (from 80% condors to 20%, ten days ago), although neither strategy changed."""
    rng = np.random.default_rng(14)
    rows = []
    for i, day in enumerate(dates(400)):
        condors = 8 if i < 390 else 2
        rows.append(
            ledger("iron_condor", rng.normal(2.0, 0.5, condors), rng.uniform(0.5, 0.9, condors), [day] * condors)
        )
        rows.append(
            ledger(
                "swing_momentum",
                rng.normal(0.2, 0.5, 10 - condors),
                rng.uniform(0.5, 0.9, 10 - condors),
                [day] * (10 - condors),
            )
        )
    frame = pl.concat(rows).with_columns(symbol=pl.Series(np.random.default_rng(15).permutation(4000)).cast(pl.String))
    days = dates(400)[-8:]
    report = drift.prediction_drift(frame, days, RULES)
    assert report["statistic"].null_count() == 0
    assert report["drifted"].sum() <= 2  # 32 tests at 5%
    pooled = drift.prediction_drift(frame.with_columns(strategy_type=pl.lit("all")), days, RULES)
    # pooled, the new mix is flagged while it is new (a pool of 10 values a day soon holds its stretches)
    assert pooled.filter(pl.col("name") == "all.predicted_return")["drifted"].to_list()[:3] == [True] * 3


def test_prediction_windows_do_not_depend_on_row_order_within_a_date() -> None:
    rng = np.random.default_rng(9)
    frame = ledger("iron_condor", rng.normal(size=800), rng.normal(size=800), dates(400) * 2)
    rules = drift.DriftRules(prediction_window=51, prediction_reference=201, gap=11)  # windows cut dates in half
    a = drift.prediction_drift(frame, dates(400)[-5:], rules)
    b = drift.prediction_drift(frame.sample(fraction=1.0, shuffle=True, seed=1), dates(400)[-5:], rules)
    assert_frame_equal(a, b)
    assert a["statistic"].is_not_null().all()
