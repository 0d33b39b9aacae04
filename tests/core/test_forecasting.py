"""Forecast models: the GARCH oracle, and forecasts that are the same alone or in a backfill;
the cheap paths (binned classifier, one filter per refit, approximate order search, scores of
a day) against what they replace."""

import dataclasses
import datetime as dt
import json
import math
import pickle
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import features as F
from lakehouse_assets.core import forecasting as fc
from lakehouse_assets.core import registry, scoring
from lakehouse_assets.core.calendar import TradingCalendar
from tests.conftest import REPO

D = dt.date
SETTINGS = dataclasses.replace(load_config(REPO / "config").forecasting, fit_window=300, min_observations=150)


def test_garch_reproduces_the_arch_documentation_on_the_sp500() -> None:
    """arch's documentation fits ``arch_model(returns)`` on 100 x the S&P 500's daily
    percentage change, 1999-01-05..2018-12-31, and publishes these estimates."""
    import arch.data.sp500

    prices = arch.data.sp500.load()["Adj Close"]
    returns = 100 * prices.pct_change().dropna()
    assert str(returns.index[0].date()) == "1999-01-05" and str(returns.index[-1].date()) == "2018-12-31"
    state = fc.garch_fit_returns(returns.to_numpy(), "garch", "normal")
    published = {"mu": 0.0564, "omega": 0.0175, "alpha[1]": 0.1022, "beta[1]": 0.8852}
    for name, value in published.items():
        assert state["params"][name] == pytest.approx(value, abs=1e-3), name
    assert state["converged"]


@pytest.fixture(scope="module")
def task_parts(sp500: pl.DataFrame, calendar: TradingCalendar) -> dict:
    bars = sp500.filter(pl.col("date") <= D(2012, 12, 31))
    feats = F.compute_features(bars)
    return {"bars": bars, "features": feats, "sessions": calendar.sessions(D(1998, 1, 2), D(2013, 12, 31))}


def make_task(
    parts: dict,
    origins: list[dt.date],
    states: dict | None = None,
    bars: pl.DataFrame | None = None,
    triggers: tuple[dt.date, ...] = (),
    settings: fc.ForecastSettings = SETTINGS,
):
    bars = parts["bars"] if bars is None else bars
    feats = F.compute_features(bars) if bars is not parts["bars"] else parts["features"]
    names = sorted(set(SETTINGS.classifier_features) | set(SETTINGS.sarimax_exog))
    return fc.SymbolTask(
        symbol="^GSPC",
        dates=bars["date"].to_numpy().astype("datetime64[D]"),
        returns=bars["log_return"].fill_null(np.nan).to_numpy(),
        log_close=np.log(bars["close"].to_numpy()),
        features={n: feats[n].fill_null(np.nan).to_numpy() for n in names},
        origins=origins,
        sessions=parts["sessions"],
        states=states or {},
        settings=settings,
        triggers=triggers,
    )


def rows_of(result: fc.SymbolResult, day: dt.date) -> list[dict]:
    return sorted((r for r in result.rows if r["date"] == day), key=lambda r: (r["model"], r["horizon"]))


def test_a_day_alone_equals_the_day_in_a_backfill_and_fits_only_on_refit_dates(
    task_parts: dict, calendar: TradingCalendar
) -> None:
    origins = calendar.sessions(D(2012, 5, 1), D(2012, 6, 29))
    backfill = fc.run_symbol(make_task(task_parts, origins))
    refits = {f.fit_date for f in backfill.fits}
    weeks = {fc.period_start(task_parts["sessions"], d, "weekly") for d in origins}
    assert refits - weeks <= {fc.period_start(task_parts["sessions"], w, "monthly") for w in weeks}
    assert {f.model for f in backfill.fits} == set(SETTINGS.models)
    day = D(2012, 6, 13)  # a Wednesday: its refit date is Monday 2012-06-11
    alone = fc.run_symbol(make_task(task_parts, [day]))  # nothing stored: fits that Monday itself
    assert rows_of(alone, day) == rows_of(backfill, day)
    assert {f.fit_date for f in alone.fits if f.model != "auto_arima"} == {D(2012, 6, 11)}
    # with the backfill's fits stored, the day fits nothing at all
    stored = {(f.model, f.fit_date): f.state for f in backfill.fits}
    again = fc.run_symbol(make_task(task_parts, [day], stored))
    assert again.fits == [] and rows_of(again, day) == rows_of(backfill, day)
    models = {r["model"] for r in rows_of(backfill, day)}
    assert models == set(SETTINGS.models) and len(rows_of(backfill, day)) == len(models) * len(SETTINGS.horizons)


def test_no_look_ahead_changing_every_bar_after_the_day_changes_nothing(task_parts: dict) -> None:
    day = D(2012, 6, 13)
    bars = task_parts["bars"]
    rng = np.random.default_rng(5)
    shock = pl.Series(rng.uniform(0.7, 1.3, bars.height))
    changed = bars.with_columns(
        [
            pl.when(pl.col("date") > day).then(pl.col(c) * shock).otherwise(pl.col(c))
            for c in ("open", "high", "low", "close")
        ]
    ).with_columns(log_return=(pl.col("close") / pl.col("close").shift(1)).log())
    before = fc.run_symbol(make_task(task_parts, [day]))
    after = fc.run_symbol(make_task(task_parts, [day], bars=changed))
    assert rows_of(before, day) == rows_of(after, day)


def test_intervals_are_ordered_and_the_cumulative_arma_variance_matches_a_simulation() -> None:
    ar, ma, sigma2 = np.array([0.5]), np.array([0.3]), 2.0
    mean, var = fc._cumulative_arma(np.zeros(5), ar, ma, sigma2, 5)
    rng = np.random.default_rng(0)
    shocks = rng.normal(scale=math.sqrt(sigma2), size=(200_000, 6))
    y = np.zeros((200_000, 6))
    for t in range(1, 6):  # start from a known state: y_0 = 0, e_0 = 0
        y[:, t] = ar[0] * y[:, t - 1] + shocks[:, t] + ma[0] * shocks[:, t - 1] * (t > 1)
    assert mean == 0.0 and var == pytest.approx(y[:, 1:].sum(axis=1).var(), rel=0.02)


def test_refit_periods() -> None:
    sessions = TradingCalendar("XNYS", D(2024, 1, 1)).sessions(D(2024, 3, 25), D(2024, 4, 10))
    assert fc.period_start(sessions, D(2024, 4, 3), "weekly") == D(2024, 4, 1)
    assert fc.period_start(sessions, D(2024, 3, 28), "weekly") == D(2024, 3, 25)
    assert fc.period_start(sessions, D(2024, 4, 10), "monthly") == D(2024, 4, 1)
    assert fc.period_start(sessions, D(2024, 4, 10), "daily") == D(2024, 4, 10)
    assert fc.forward_returns(np.array([np.nan, 1.0, 2.0, 3.0]), 2).tolist()[:2] == [3.0, 5.0]
    triggers = (D(2024, 3, 27), D(2024, 4, 3))
    assert fc.refit_date(sessions, D(2024, 3, 26), "weekly", triggers) == D(2024, 3, 25)  # before the trigger
    assert fc.refit_date(sessions, D(2024, 3, 28), "weekly", triggers) == D(2024, 3, 27)
    assert fc.refit_date(sessions, D(2024, 4, 2), "weekly", triggers) == D(2024, 4, 1)  # a new week wins
    assert fc.refit_date(sessions, D(2024, 4, 10), "monthly", triggers) == D(2024, 4, 3)


def test_a_drift_trigger_refits_every_model_and_searches_the_order_again(task_parts: dict) -> None:
    """A refit asked for on Wednesday 2012-06-13 makes new fits that day (an order search
    included) which serve the rest of the week; the next week is back on the cadence."""
    trigger = D(2012, 6, 13)
    origins = [D(2012, 6, 11), D(2012, 6, 12), trigger, D(2012, 6, 14), D(2012, 6, 18)]
    result = fc.run_symbol(make_task(task_parts, origins, triggers=(trigger,)))
    by_date = {(r["date"], r["model"]): r["fit_date"] for r in result.rows}
    assert {by_date[(D(2012, 6, 12), m)] for m in SETTINGS.models} == {D(2012, 6, 11)}
    assert {by_date[(D(2012, 6, 14), m)] for m in SETTINGS.models} == {trigger}
    assert {by_date[(D(2012, 6, 18), m)] for m in SETTINGS.models} == {D(2012, 6, 18)}
    searches = {
        f.fit_date for f in result.fits if f.model == "auto_arima" and f.state["order_selected_on"] == str(f.fit_date)
    }
    assert trigger in searches
    # the same day alone, with nothing stored, makes the same fits and forecasts
    alone = fc.run_symbol(make_task(task_parts, [D(2012, 6, 14)], triggers=(trigger,)))
    assert rows_of(alone, D(2012, 6, 14)) == rows_of(result, D(2012, 6, 14))
    without = fc.run_symbol(
        make_task(task_parts, [D(2012, 6, 14)], {(f.model, f.fit_date): f.state for f in result.fits})
    )
    assert rows_of(without, D(2012, 6, 14)) != rows_of(result, D(2012, 6, 14))  # the trigger mattered


def test_replay_weights_pick_the_worst_confident_mistakes_with_known_outcomes() -> None:
    settings = dataclasses.replace(SETTINGS, replay_size=2, replay_weight=3.0, replay_min_confidence=0.6)
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-08"))
    target = np.array([0.01, -0.02, 0.03, -0.01, 0.02, 0.0, np.nan])
    calls = {
        dates[0]: 0.2,  # wrong, confidence 0.8
        dates[1]: 0.9,  # wrong, confidence 0.9
        dates[2]: 0.7,  # right
        dates[3]: 0.65,  # wrong, confidence 0.65: beyond the size of 2
        dates[4]: 0.45,  # wrong but confidence 0.55 < 0.6
        dates[5]: 0.9,  # outcome exactly 0: no call to judge
        dates[6]: 0.1,  # outcome not known yet
    }
    weights = fc.replay_weights(dates, target, calls, settings)
    assert weights.tolist() == [3.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    wider = fc.replay_weights(dates, target, calls, dataclasses.replace(settings, replay_size=10))
    assert wider.tolist() == [3.0, 3.0, 1.0, 3.0, 1.0, 1.0, 1.0]


def test_the_classifier_retrain_weighs_replayed_mistakes(task_parts: dict) -> None:
    origins = [D(2012, 6, 11)]
    window = fc._window(make_task(task_parts, origins), D(2012, 6, 11))
    plain = fc.direction_fit(window, SETTINGS)
    # pretend the classifier called every day of the window up with confidence 0.9
    calls = {h: dict.fromkeys(window.dates, 0.95) for h in SETTINGS.horizons}
    replayed = fc.direction_fit(window, SETTINGS, calls)
    for h in ("1", "5"):
        assert plain["report"][h]["replayed_rows"] == 0 and replayed["report"][h]["replayed_rows"] > 0
        x = np.column_stack([window.features[n] for n in replayed["features"][h]])[-50:]

        def base_up(
            model: fc.CompiledClassifier, x: np.ndarray = x
        ) -> float:  # the trees before the sigmoid calibration
            return float((1.0 / (1.0 + np.exp(-model.raw(x)))).mean())

        # the wrong "up" calls were down days: weighing them 3x lowers the trees' probability of up
        assert base_up(replayed["models"][h]) < base_up(plain["models"][h])


def test_ssa_energy_rule_finds_the_rank_of_two_sinusoids_plus_noise() -> None:
    """Each sinusoid spans two eigentriples: a trend plus two sinusoids plus a little noise has
    rank 4 once the trend is removed (on the raw series the level alone held >= 0.9999 of the
    energy, so the 0.90 rule always kept rank 1)."""
    n = 500
    t = np.arange(n, dtype=float)
    rng = np.random.default_rng(0)
    log_close = 4.6 + 0.0004 * t + 0.03 * np.sin(2 * np.pi * t / 20) + 0.02 * np.sin(2 * np.pi * t / 45)
    log_close += rng.normal(0.0, 0.002, n)
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + n).astype("datetime64[D]")
    window = fc.Window(dates, np.r_[np.nan, np.diff(log_close)], log_close)
    settings = dataclasses.replace(SETTINGS, ssa_window=60, ssa_energy=0.90)
    state = fc.ssa_fit(window, settings)
    assert state["rank"] == 4, state["energy"]
    assert state["slope"] == pytest.approx(0.0004, rel=0.05)
    # the recurrent forecast continues the sinusoids: the next 5 sessions' log return
    future = 0.0004 * 5 + sum(
        a * (np.sin(2 * np.pi * (n - 1 + 5) / p) - np.sin(2 * np.pi * (n - 1) / p)) for a, p in ((0.03, 20), (0.02, 45))
    )
    forecast = {p.horizon: p.mean for p in fc.ssa_forecast(state, window, dataclasses.replace(settings, horizons=(5,)))}
    assert forecast[5] == pytest.approx(future, abs=0.006)


@pytest.mark.parametrize("h", [1, 5, 21])
def test_classifier_blocks_are_purged_so_no_two_blocks_share_an_outcome(h: int) -> None:
    rows = np.arange(40, 700)  # labelled rows of a window
    train, calibrate, valid = fc.purged_blocks(rows, 0.15, h - 1)
    assert len(calibrate) == len(valid) == int(len(rows) * 0.15)
    for earlier, later in ((train, calibrate), (calibrate, valid)):
        # row i's label is the return over (i, i + h]: disjoint when the next block starts h rows on
        assert later[0] - earlier[-1] == h
    assert np.concatenate([train, calibrate, valid]).tolist() == sorted(set(np.concatenate([train, calibrate, valid])))


def test_binned_classifier_is_the_classifier_scikit_learn_fits_on_the_raw_weighted_features(task_parts: dict) -> None:
    """``quantile_edges`` are scikit-learn's own weighted bin thresholds, and the one-fold
    calibration of frozen trees is the default five-fold one: ``direction_fit``'s model (compiled)
    predicts exactly what the textbook fit on the raw features (replayed rows weighted) does."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.ensemble._hist_gradient_boosting.binning import _find_binning_thresholds
    from sklearn.frozen import FrozenEstimator

    window = fc._window(make_task(task_parts, [D(2012, 6, 11)]), D(2012, 6, 11))
    rng = np.random.default_rng(3)
    calls = {h: {d: float(rng.uniform(0.0, 1.0)) for d in window.dates} for h in SETTINGS.horizons}
    fitted = fc.direction_fit(window, SETTINGS, calls)
    for h in (1, 5):
        model, names = fitted["models"][str(h)], fitted["features"][str(h)]
        x = np.column_stack([window.features[n] for n in names])
        target = fc.forward_returns(window.returns, h)
        train, calibrate, valid = fc.purged_blocks(np.flatnonzero(~np.isnan(target)), 0.15, h - 1)
        labels = (target > 0).astype(int)
        weights = fc.replay_weights(window.dates, target, calls[h], SETTINGS)
        assert fitted["report"][str(h)]["replayed_rows"] > 0
        for j in range(x.shape[1]):
            edges = fc.quantile_edges(x[train, j], weights[train])
            np.testing.assert_array_equal(edges, _find_binning_thresholds(x[train, j], 255, weights[train]))
        trees = HistGradientBoostingClassifier(
            max_iter=40, max_depth=3, learning_rate=0.08, early_stopping=False, random_state=SETTINGS.seed
        ).fit(x[train], labels[train], sample_weight=weights[train])
        textbook = CalibratedClassifierCV(FrozenEstimator(trees), method="sigmoid").fit(x[calibrate], labels[calibrate])
        rows = np.r_[train, calibrate, valid]
        np.testing.assert_array_equal(model.predict_proba(x[rows]), textbook.predict_proba(x[rows]))


def test_a_symbol_runs_with_one_thread_in_the_libraries_it_loads_itself() -> None:
    """In a fresh process (a pool worker), scikit-learn is first imported by the fits:
    the limit must hold for its OpenMP runtime too (it did not: a one-row predict_proba
    then waited for idle threads)."""
    code = (
        "from lakehouse_assets.core import forecasting as fc\n"
        "with fc._threadpools().limit(limits=1):\n"
        "    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads\n"
        "    from threadpoolctl import threadpool_info\n"
        "    print(_openmp_effective_n_threads(), max(p['num_threads'] for p in threadpool_info()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.split() == ["1", "1"]


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.EstimationWarning")
def test_mean_paths_from_the_filtered_state_are_statsmodels_forecasts(task_parts: dict) -> None:
    window = fc._window(make_task(task_parts, [D(2012, 6, 11)]), D(2012, 6, 11))
    y = window.clean_returns() * 100.0
    for order, trend in (((2, 0, 2), "c"), ((1, 0, 0), "n"), ((0, 0, 0), "c")):
        result = fc._sarimax(y, order, trend).fit(disp=False)
        paths = fc._mean_paths(result.filter_results, np.array([len(y), len(y) - 7]), 21)
        np.testing.assert_allclose(paths[0], result.forecast(21), rtol=1e-12, atol=1e-15)
        earlier = fc._sarimax(y[:-7], order, trend).filter(result.params)
        np.testing.assert_allclose(paths[1], earlier.forecast(21), rtol=1e-12, atol=1e-15)
    lagged, ok = fc._lagged_exog(window, SETTINGS.sarimax_exog)  # type: ignore[misc]
    result = fc._sarimax((window.returns * 100.0)[ok], (1, 0, 1), "c", lagged[ok]).fit(disp=False)
    today = np.array([[window.features[n][-1] for n in SETTINGS.sarimax_exog]])
    beta = result.params[1:3]
    paths = fc._mean_paths(result.filter_results, np.array([ok.sum()]), 21, fc._combine(beta[None, :], today.T)[0])
    np.testing.assert_allclose(paths[0], result.forecast(21, exog=np.tile(today, (21, 1))), rtol=1e-12)


def test_one_pass_over_a_refits_days_equals_each_day_on_its_own(task_parts: dict) -> None:
    """Every model's forecasts of several origins from one state, made together (one filter,
    one ``fix``, one ``predict_proba``), equal each origin's made alone, bit for bit."""
    refit, days = D(2012, 6, 11), [D(2012, 6, 11), D(2012, 6, 12), D(2012, 6, 15)]
    task = make_task(task_parts, days)
    fitted = fc.run_symbol(task)
    span = fc._span(task, refit, days[-1])
    ends = [int(np.searchsorted(span.dates, np.datetime64(d), side="right")) for d in days]
    for model in SETTINGS.models:
        state = next(f.state for f in fitted.fits if f.model == model and f.fit_date == refit)
        together = fc.FORECASTERS[model](state, span, ends, SETTINGS)
        alone = [fc.forecast(model, state, fc._head(span, end), SETTINGS) for end in ends]
        assert together == alone, model
        assert all(together), model


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.EstimationWarning")
def test_approximate_order_search_finds_an_ar_structure_and_estimates_it_by_maximum_likelihood() -> None:
    rng = np.random.default_rng(11)
    n = 760
    e = rng.normal(0.0, 0.01, n)
    r = np.zeros(n)
    for t in range(1, n):
        r[t] = 0.4 * r[t - 1] + e[t]
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + n).astype("datetime64[D]")
    window = fc.Window(dates, r, np.cumsum(r))
    state = fc.approximate_order_search(window, SETTINGS)
    assert state["order"][0] >= 1 and state["converged"]
    assert state == fc.approximate_order_search(window, SETTINGS)  # deterministic
    y = window.clean_returns() * 100.0
    exact = fc._sarimax(y, tuple(state["order"]), state["trend"]).fit(disp=False)
    assert state["aic"] == pytest.approx(exact.aic, abs=1e-3)  # the chosen order's exact likelihood
    white = fc._sarimax(y, (0, 0, 0), "c").fit(disp=False)
    assert state["aic"] < white.aic - 50


def test_without_weekly_reestimation_arima_models_filter_the_search_estimates(task_parts: dict) -> None:
    """``arima_refit: order_selection``: the weekly refits of June 2012 (the 4th and the 11th)
    serve the estimates of June's order search (the 1st, a Friday) for auto_arima and, for
    sarimax, its fit on that day's window; a day alone makes them again, dated its own refit."""
    settings = dataclasses.replace(SETTINGS, order_search="approximate", arima_refit="order_selection")
    days = [D(2012, 6, 5), D(2012, 6, 13)]
    backfill = fc.run_symbol(make_task(task_parts, days, settings=settings))
    fits = {(f.model, f.fit_date): f.state for f in backfill.fits}
    search = fits[("auto_arima", D(2012, 6, 1))]
    assert search["order_selected_on"] == "2012-06-01"
    for refit in (D(2012, 6, 4), D(2012, 6, 11)):
        assert fits[("auto_arima", refit)] == search
        assert fits[("sarimax", refit)]["estimated_on"] == "2012-06-01"
    assert fits[("sarimax", D(2012, 6, 4))] == fits[("sarimax", D(2012, 6, 11))]
    for day in days:
        alone = fc.run_symbol(make_task(task_parts, [day], settings=settings))
        assert rows_of(alone, day) == rows_of(backfill, day)
        assert {f.fit_date for f in alone.fits if f.model == "sarimax"} == {
            fc.period_start(task_parts["sessions"], day, "weekly")
        }


def test_a_days_scores_carry_figures_for_its_targets_and_judge_as_the_whole_window() -> None:
    """``full_from``: the figures of the run's targets and of each group's last row before
    them are the full computation's, and the day's decisions are the same, including a
    symbol whose scores stopped before the run (judged by that last row)."""
    rng = np.random.default_rng(4)
    sessions = [D(2024, 1, 1) + dt.timedelta(days=i) for i in range(80)]
    rows = []
    for symbol, last in (("LIVE", 79), ("GONE", 74)):
        for i in range(1, last + 1):
            actual = float(rng.normal(0.0, 0.01))
            for model, point in (("naive", 0.0), ("ssa", float(rng.normal(0.0, 0.01)))):
                error = actual - point
                rows.append(
                    {
                        "symbol": symbol,
                        "date": sessions[i - 1],
                        "target_date": sessions[i],
                        "model": model,
                        "horizon": 1,
                        "actual": actual,
                        "point": point,
                        "error": error,
                        "abs_error": abs(error),
                        "squared_error": error**2,
                        "smape": abs(error),
                        "crps": abs(error),
                        "hit": None if model == "naive" else (point > 0) == (actual > 0),
                        "covered_80": True,
                        "covered_95": True,
                        "regime": "normal",
                        "sector": "Unknown",
                    }
                )
    scored = pl.DataFrame(rows)
    window, days = 20, sessions[-3:]
    whole = scoring.rolling_metrics(scored, sessions, window)
    lean = scoring.rolling_metrics(scored, sessions, window, full_from=days[0])
    assert lean.filter(pl.col("window_n").is_not_null()).height == 2 * 3 + 2  # LIVE's 3 days, GONE's last
    mine = pl.col("target_date") >= days[0]
    assert lean.filter(mine).equals(whole.filter(mine))
    rules = dataclasses.replace(load_config(REPO / "config").gate, min_scored=5)

    def decisions(rolled: pl.DataFrame) -> pl.DataFrame:
        return registry.decide_days(rolled, days, sessions, window, ["GONE", "LIVE"], [1], ["naive", "ssa"], {}, rules)[
            0
        ]

    assert decisions(lean).equals(decisions(whole))
    gone = decisions(lean).filter(pl.col("symbol") == "GONE")
    assert {json.loads(m)["window_n"] for m in gone["metrics"]} == {window}


def _legacy_classifier(task_parts: dict, h: int) -> tuple[fc.BinnedClassifier, np.ndarray]:
    """A classifier as states stored before ``CompiledClassifier`` hold it (fitted as
    ``direction_fit`` fits it), and raw rows to score: the window's own rows, each bin edge
    and its neighbours one ulp away, values past the ends, and missing values."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.frozen import FrozenEstimator

    window = fc._window(make_task(task_parts, [D(2012, 6, 11)]), D(2012, 6, 11))
    x = np.column_stack([window.features[n] for n in SETTINGS.classifier_features])
    target = fc.forward_returns(window.returns, h)
    train, calibrate, _ = fc.purged_blocks(np.flatnonzero(~np.isnan(target) & ~np.isnan(x).any(axis=1)), 0.15, h - 1)
    labels = (target > 0).astype(int)
    edges = tuple(fc.quantile_edges(x[train, j], np.ones(len(train))) for j in range(x.shape[1]))
    codes = fc.bin_codes(x, edges)
    trees = HistGradientBoostingClassifier(max_iter=40, max_depth=3, learning_rate=0.08, early_stopping=False)
    trees.fit(codes[train], labels[train])
    whole = [(np.arange(0), np.arange(len(calibrate)))]
    calibrated = CalibratedClassifierCV(FrozenEstimator(trees), method="sigmoid", cv=whole)
    calibrated.fit(codes[calibrate], labels[calibrate])
    rng = np.random.default_rng(5)
    probes = [x]
    for j, e in enumerate(edges):
        at = np.tile(np.nanmedian(x, axis=0), (3 * len(e) + 2, 1))
        at[:, j] = np.r_[e, np.nextafter(e, -np.inf), np.nextafter(e, np.inf), -1e9, 1e9]
        probes.append(at)
    holed = x.copy()
    holed[rng.random(x.shape) < 0.3] = np.nan
    return fc.BinnedClassifier(edges, calibrated), np.concatenate([*probes, holed])


@pytest.mark.parametrize("h", [1, 21])
def test_a_compiled_classifier_predicts_the_bits_scikit_learn_does(task_parts: dict, h: int) -> None:
    """The compiled trees and sigmoid are scikit-learn's own prediction: the same bits on every
    row, at and around every bin edge and with missing values."""
    legacy, rows = _legacy_classifier(task_parts, h)
    compiled = fc.CompiledClassifier.of(legacy)
    expected = legacy.predict_proba(rows)
    np.testing.assert_array_equal(compiled.predict_proba(rows), expected)
    assert len(np.unique(expected[:, 1])) > 100  # the rows reach many different leaves


def test_a_stored_classifier_state_of_an_older_lake_loads_compiled(task_parts: dict) -> None:
    """States pickled with the scikit-learn objects (lakes written before ``CompiledClassifier``)
    still load, forecast the same bits, and are several times larger than compiled ones."""
    legacy, rows = _legacy_classifier(task_parts, 5)
    report = {"accepted": True, "mean_abs_return": 0.02, "return_std": 0.03}
    names = list(SETTINGS.classifier_features)
    candidate = {"features": {"5": names}, "report": {"5": report}, "models": {"5": legacy}}
    stored = {"candidate": candidate, "serving": fc.direction_serving(candidate, None)}
    blob = pickle.dumps(stored, protocol=5)
    state = fc.load_state("direction_classifier", blob)
    model = state["serving"]["5"]["model"]
    assert isinstance(model, fc.CompiledClassifier) and model is state["candidate"]["models"]["5"]
    np.testing.assert_array_equal(model.predict_proba(rows), legacy.predict_proba(rows))
    assert len(pickle.dumps(state, protocol=5)) * 5 < len(blob)
    settings = dataclasses.replace(SETTINGS, horizons=(5,))
    window = fc.Window(
        rows[:, 0].astype("datetime64[D]"),
        np.zeros(len(rows)),
        np.zeros(len(rows)),
        dict(zip(names, rows.T, strict=True)),
    )
    ends = [10, 200, len(rows)]
    new, old = (fc.direction_forecasts(s, window, ends, settings) for s in (state, pickle.loads(blob)))
    assert new == old
    assert fc.load_state("garch", pickle.dumps({"kind": "garch"})) == {"kind": "garch"}


def test_the_refits_in_force_are_the_only_fits_an_ordinary_day_needs() -> None:
    sessions = [D(2018, 10, 1) + dt.timedelta(d) for d in range(12) if d % 7 < 5]
    settings = dataclasses.replace(SETTINGS, models=("naive", "garch"), cadence="weekly")
    triggers = {"A": (), "B": (D(2018, 10, 10),)}
    friday = [D(2018, 10, 12)]
    refits = fc.refits_in_force(sessions, friday, triggers, settings)
    assert refits == {"A": {D(2018, 10, 8)}, "B": {D(2018, 10, 10)}}
    week = fc.refits_in_force(sessions, sessions[5:], triggers, settings)
    assert week == {"A": {D(2018, 10, 8)}, "B": {D(2018, 10, 8), D(2018, 10, 10)}}
    states: dict[str, dict[tuple[str, dt.date], fc.State]] = {
        "A": {("naive", D(2018, 10, 8)): {}, ("garch", D(2018, 10, 8)): {}},
        "B": {("naive", D(2018, 10, 10)): {}, ("garch", D(2018, 10, 10)): {}},
    }
    assert fc.missing_fits(states, refits, settings) == {}
    assert fc.missing_fits(states, week, settings) == {"B": len(settings.models)}  # B's Monday fits
