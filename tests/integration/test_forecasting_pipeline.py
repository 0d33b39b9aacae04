"""Forecasts through Dagster: a 9-month backfill, then one day alone, re-runs and fit counts.

A smaller configuration (shorter windows) keeps the year affordable; the models, the
cadence and the process pool (2 workers) are the shipped ones.
"""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from lakehouse_assets.core.forecasting import MODELS
from lakehouse_assets.lake.catalog import table
from lakehouse_assets.lake.delta import Lake, empty_frame
from tests.conftest import run_pipeline, snapshot, step_errors

DAY = dt.date(2016, 9, 14)  # a Wednesday; its refit date is Monday 2016-09-12
REFIT = dt.date(2016, 9, 12)
GOLD = ("forecasts", "forecast_scores", "model_registry")


@pytest.fixture(scope="module")
def config_dir(small_config: str) -> str:
    return small_config


@pytest.fixture(scope="module")
def whole(small_lake: Lake) -> Lake:
    return small_lake


def fits_made(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == dg.AssetKey("model_fits"):
            return dict(materialization.metadata["fits_made"].value)  # type: ignore[union-attr,arg-type]
    raise AssertionError("model_fits was not materialized")


def test_every_model_forecasts_is_scored_and_judged(whole: Lake) -> None:
    forecasts = whole.read("forecasts")
    assert set(forecasts["model"]) == set(MODELS) and set(forecasts["horizon"]) == {1, 5, 21}
    assert forecasts.filter(pl.col("lower_95") < pl.col("lower_80")).height == forecasts.height
    assert forecasts.filter(pl.col("upper_80") < pl.col("upper_95")).height == forecasts.height
    scores = whole.read("forecast_scores")
    assert set(scores["model"]) == set(MODELS)
    assert scores.filter(pl.col("target_date") <= pl.col("date")).is_empty()
    decisions = whole.read("model_registry")
    latest = decisions.filter(pl.col("as_of") == pl.col("as_of").max())
    # one champion per symbol and horizon, and every candidate has a decision row
    assert latest.group_by("symbol", "horizon").agg(pl.col("champion").sum())["champion"].to_list() == [1] * 9
    assert latest.height == 9 * len(MODELS)
    replay = whole.read("error_replay_buffer")
    assert replay.height > 0 and (replay["confidence"] >= 0.6).all()
    assert (replay["predicted_label"] != replay["true_label"]).all() and replay["features"].null_count() == 0
    september = forecasts.filter(pl.col("date") >= dt.date(2016, 9, 1))
    assert september["is_champion"].null_count() == 0
    assert (
        september.filter(pl.col("is_champion")).height == september.select("symbol", "date", "horizon").unique().height
    )


def test_a_day_alone_equals_the_backfill_and_refits_only_when_due(whole: Lake, tmp_path: Path, config_dir: str) -> None:
    alone = Lake(shutil.copytree(whole.root, tmp_path / "alone"))
    for name in GOLD:
        alone.sync_range(name, empty_frame(table(name)), DAY, DAY)
    day = DAY.isoformat()
    single = run_pipeline(alone.root, day, day, config_dir=config_dir)
    assert single.success, step_errors(single)
    assert fits_made(single) == {}  # the week's fits are in the store
    for name in GOLD:
        assert snapshot(alone, name).equals(snapshot(whole, name)), name

    versions = {name: alone.stats(name).version for name in (*GOLD, "model_fits")}
    again = run_pipeline(alone.root, day, day, config_dir=config_dir)
    assert again.success and fits_made(again) == {}
    assert {name: alone.stats(name).version for name in versions} == versions  # nothing rewritten

    # the first session after the backfill starts a new week: every model refits, once
    monday = run_pipeline(alone.root, "2016-10-03", "2016-10-03", config_dir=config_dir)
    assert monday.success and fits_made(monday) == dict.fromkeys(MODELS, 3)
    tuesday = run_pipeline(alone.root, "2016-10-04", "2016-10-04", config_dir=config_dir)
    assert tuesday.success and fits_made(tuesday) == {}  # its refit date (Monday) is done
    assert alone.read("forecasts", dt.date(2016, 10, 4), dt.date(2016, 10, 4))["fit_date"].unique().to_list() == [
        dt.date(2016, 10, 3)
    ]


def test_a_day_whose_fits_are_lost_refits_them_to_the_same_forecasts(
    whole: Lake, tmp_path: Path, config_dir: str
) -> None:
    """Without the stored fits the day refits its week (data up to REFIT only) and gets the
    same forecasts; maximum likelihood near a boundary (a GARCH alpha of 0) may land a few
    ulps apart in another process, so numbers are compared to 1e-6 here."""
    lost = Lake(shutil.copytree(whole.root, tmp_path / "lost"))
    for name in GOLD:
        lost.sync_range(name, empty_frame(table(name)), DAY, DAY)
    lost.sync_range("model_fits", empty_frame(table("model_fits")), REFIT, REFIT)
    single = run_pipeline(lost.root, DAY.isoformat(), DAY.isoformat(), config_dir=config_dir)
    assert single.success, step_errors(single)
    assert fits_made(single) == dict.fromkeys(MODELS, 3)  # each model, each symbol, on REFIT
    keys = ["symbol", "date", "model", "horizon"]
    got, want = lost.read("forecasts", DAY, DAY).sort(keys), whole.read("forecasts", DAY, DAY).sort(keys)
    assert got.select(keys).equals(want.select(keys))
    numbers = ["point", "volatility", "lower_80", "upper_80", "lower_95", "upper_95", "prob_up"]
    np.testing.assert_allclose(got.select(numbers).to_numpy(), want.select(numbers).to_numpy(), rtol=1e-6, atol=1e-12)
    assert got["is_champion"].equals(want["is_champion"])


def test_drift_flagged_the_day_before_refits_every_model_and_fails_the_gate_drift_check(
    whole: Lake, tmp_path: Path, config_dir: str
) -> None:
    """A sustained-drift row for all symbols on 2016-09-13 refits every model of every symbol
    on DAY (off the weekly cadence), and DAY's drift score fails the promotion gate."""
    flagged = Lake(shutil.copytree(whole.root, tmp_path / "flagged"))
    spec = table("drift_reports")
    rows = [(dt.date(2016, 9, 13), True, 0.5), (DAY, False, 0.5)]
    reports = pl.DataFrame(
        [
            {
                "as_of": day,
                "kind": "feature",
                "name": "rsi_14",
                "symbol": "*",
                "statistic": ks,
                "p_value": 1e-6,
                "threshold": 0.15,
                "drifted": True,
                "sustained": 3,
                "refit": refit,
                "detail": None,
            }
            for day, refit, ks in rows
        ],
        schema=spec.schema,
    )
    flagged.merge("drift_reports", reports)
    result = run_pipeline(flagged.root, DAY.isoformat(), DAY.isoformat(), config_dir=config_dir)
    assert result.success, step_errors(result)
    assert fits_made(result) == dict.fromkeys(MODELS, 3)
    assert flagged.read("forecasts", DAY, DAY)["fit_date"].unique().to_list() == [DAY]
    decisions = flagged.read("model_registry", DAY, DAY)
    assert decisions.filter(pl.col("approved")).select("model").unique().to_series().to_list() == ["naive"]
    assert decisions["checks_failed"].str.contains('"drift"').all()  # the baseline is judged too, and kept
