"""Issue 16, case 8: exact idempotence. Re-running a range commits no new version in any
table, and a range run in two pieces ends equal, row for row and bit for bit, to the same
range run at once.

The lake is the issue's situation in small (``small_config``, two symbols): history up to
2017-11-10, the last bar of the bundled MSFT, then 2017-11-13..24 at once or as
11-13..17 and 11-20..24. MSFT has no score after 11-10, so each later day judges it by its
11-10 row, whose window reaches back before either run's first day: the registry used to
compute it from the scores the run had read, 1 session short in the single run and 6 in
the split one (``window_n`` 29 vs 24 here, 125 vs 120 in the default run).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake
from tests.conftest import run_pipeline, step_errors

pytestmark = pytest.mark.slow

SYMBOLS = ["^GSPC", "MSFT"]
HISTORY = ("2017-03-01", "2017-11-10")  # forecasts from mid-August with small_config
WHOLE = ("2017-11-13", "2017-11-24")
PIECES = (("2017-11-13", "2017-11-17"), ("2017-11-20", "2017-11-24"))
STOPPED = dt.date(2017, 11, 10)  # MSFT's last bar
# Columns that record the run rather than the data, so they legitimately differ between a
# split run and a single one (everything else must be equal):
RUN_METADATA = {
    "ohlcv_bronze": {"ingested_at"},  # when the run read the delivery
    "model_fits": {"fitted_at", "fit_seconds"},  # when the fit was made and how long it took
}
# `alerts` is written by `lakehouse run` and the sensor, not by a run's assets (none here);
# its rows name the run's range, one per run, so they are run metadata as a whole.
NOT_WRITTEN = {"alerts"}
# `materializations` records each run's range per asset: two ranges for the split run, one
# for the single run, compared as such below.
RUN_RECORDS = {"materializations"}


def run(lake: Lake, start: str, end: str, config: str) -> None:
    result = run_pipeline(lake.root, start, end, symbols=SYMBOLS, config_dir=config)
    assert result.success, step_errors(result)


def versions(lake: Lake) -> dict[str, int]:
    return {name: lake.stats(name).version for name in TABLES if lake.exists(name)}


def content(lake: Lake, name: str) -> pl.DataFrame:
    """The table without its run metadata, sorted by its keys."""
    frame = lake.read(name).drop(*RUN_METADATA.get(name, ()))
    return frame.sort(list(TABLES[name].keys))


def ranges(lake: Lake) -> set[tuple[str, str, str]]:
    """The recorded (asset, first, last partition) of every materialization."""
    record = lake.read("materializations").with_columns(pl.col("range_start", "range_end").cast(pl.String))
    return set(record.select("asset", "range_start", "range_end").iter_rows())


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, small_config: str) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("idempotence") / "history")
    run(lake, *HISTORY, small_config)
    return lake


@pytest.fixture(scope="module")
def single(history: Lake, small_config: str, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake(shutil.copytree(history.root, tmp_path_factory.mktemp("idempotence") / "single"))
    run(lake, *WHOLE, small_config)
    return lake


def test_a_range_run_in_two_pieces_ends_equal_to_one_run(
    history: Lake, single: Lake, small_config: str, tmp_path: Path
) -> None:
    split = Lake(shutil.copytree(history.root, tmp_path / "split"))
    for start, end in PIECES:
        run(split, start, end, small_config)
    assert set(split.tables()) == set(single.tables()) == set(TABLES) - NOT_WRITTEN
    compared = [name for name in single.tables() if name not in RUN_RECORDS]
    different = [name for name in compared if not content(split, name).equals(content(single, name))]
    assert different == []
    assets = set(history.read("materializations")["asset"])
    assert ranges(split) - ranges(history) == {(a, s, e) for a in assets for s, e in PIECES}
    assert ranges(single) - ranges(history) == {(a, *WHOLE) for a in assets}
    # the stopped symbol is judged each day by its last scores, with the figures they were stored with
    last = dt.date.fromisoformat(WHOLE[1])
    judged = single.read("model_registry", last, last, where=pl.col("symbol") == "MSFT")
    stored = single.read("forecast_scores", where=pl.col("symbol") == "MSFT").sort("target_date")
    latest = stored.group_by("model", "horizon", maintain_order=True).last()
    assert latest["target_date"].max() == STOPPED and judged.height >= latest.height > 0
    window_n = {(m, h): n for m, h, n in latest.select("model", "horizon", "window_n").iter_rows()}
    for model, horizon, metrics in judged.select("model", "horizon", "metrics").iter_rows():
        assert json.loads(metrics)["window_n"] == window_n.get((model, horizon), 0), (model, horizon)


def test_rerunning_a_range_or_a_part_of_it_commits_no_new_version_in_any_table(
    single: Lake, small_config: str, tmp_path: Path
) -> None:
    lake = Lake(shutil.copytree(single.root, tmp_path / "again"))
    before = versions(lake)
    for start, end in (WHOLE, PIECES[1]):
        run(lake, start, end, small_config)
        assert versions(lake) == before, (start, end)
