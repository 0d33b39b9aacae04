"""Forecast models: the GARCH oracle, and forecasts that are the same alone or in a backfill."""

import dataclasses
import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from lakehouse_assets.config import load_config
from lakehouse_assets.core import features as F
from lakehouse_assets.core import forecasting as fc
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
        settings=SETTINGS,
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

        def base_up(model: object, x: np.ndarray = x) -> float:  # the boosted trees before the sigmoid calibration
            return float(model.calibrated_classifiers_[0].estimator.estimator.predict_proba(x)[:, 1].mean())  # type: ignore[attr-defined]

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
