"""Materialize real partitions into a temporary lake through Dagster, twice."""

import datetime as dt
import gzip
import json
import math
from pathlib import Path

import polars as pl
import pytest

from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake
from tests.conftest import run_pipeline, snapshot, step_errors

D = dt.date


def test_materializing_twice_leaves_every_table_identical(tmp_path: Path, calendar) -> None:
    lake = Lake(tmp_path / "lake")
    first = run_pipeline(lake.root, "2017-11-01", "2018-01-31")
    assert first.success, step_errors(first)
    written = [name for name in TABLES if lake.exists(name)]
    assert set(TABLES) - set(written) == {"alerts"}  # alerts come from the sensor (or `lakehouse run`)
    before = {name: snapshot(lake, name) for name in written}
    versions = {name: lake.stats(name).version for name in written}
    second = run_pipeline(lake.root, "2017-11-01", "2018-01-31")
    assert second.success, step_errors(second)
    for name in written:
        assert snapshot(lake, name).equals(before[name]), name
        assert lake.stats(name).version == versions[name], f"{name}: a re-run committed a change"
    bars = before["ohlcv_daily"]
    sessions = calendar.sessions(D(2017, 11, 1), D(2018, 1, 31))
    counts = dict(bars.group_by("symbol").len().rows())
    msft = [d for d in sessions if d <= D(2017, 11, 10)]
    assert counts == {"^GSPC": len(sessions), "^IXIC": len(sessions), "MSFT": len(msft)}
    # the lake holds no bar before the first run's first day: null there, never invented
    assert set(bars.filter(pl.col("log_return").is_null())["date"]) == {sessions[0]}
    assert before["sentiment_daily"]["source"].unique().to_list() == ["stub"]


def test_a_day_run_alone_equals_the_same_day_inside_a_backfill(tmp_path: Path) -> None:
    whole, pieces = Lake(tmp_path / "whole"), Lake(tmp_path / "pieces")
    assert run_pipeline(whole.root, "2018-01-02", "2018-01-31").success
    for start, end in (("2018-01-02", "2018-01-09"), ("2018-01-10", "2018-01-10"), ("2018-01-11", "2018-01-31")):
        assert run_pipeline(pieces.root, start, end).success
    for name in ("ohlcv_daily", "sentiment_daily"):
        assert snapshot(whole, name).equals(snapshot(pieces, name)), name


def write_csv(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    write_csv(
        root / "AAA/1day/2024-01.csv",
        "Date,O,H,L,C,Vol\n"
        "2024-01-02,10,11,9,10.5,1000\n"
        "2024-01-03,10,11,9,10.6,1000\n"  # superseded by the .gz file
        "2024-01-04,10,11,9.5,10.2,1000\n"
        "2024-01-04,10,11,9.5,10.3,1100\n"  # duplicate in the same file: this one wins
        "2024-01-05,10,9,11,10,1000\n"  # high < low (and < open)
        "2024-01-08,10,11,9,10.5,-5\n"  # negative volume
        "2024-01-09,ten,11,9,10.5,1000\n",  # non-numeric price
    )
    write_csv(
        root / "AAA/1day/2024-01_to_2024-02.csv.gz",
        "timestamp,open,high,low,close,volume\n2024-01-03,10,12,9,11.5,2000\n",
    )
    return root


def test_csv_landing_quarantines_bad_rows_and_fails_on_a_file_missing_close(tmp_path: Path, landing: Path) -> None:
    lake = Lake(tmp_path / "lake")
    bbb = landing / "BBB/1day/2024-01.csv"
    write_csv(bbb, "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n")
    assert run_pipeline(lake.root, "2024-01-02", "2024-01-10", ohlcv_dir=str(landing), symbols=["BBB"]).success
    bbb_before = lake.read("ohlcv_bronze")
    write_csv(bbb, "date,open,high,low,volume\n2024-01-02,1,2,0.5,10\n")  # re-delivered without close
    result = run_pipeline(lake.root, "2024-01-02", "2024-01-10", ohlcv_dir=str(landing))
    assert not result.success
    errors = step_errors(result)
    assert set(errors) == {"ohlcv_bronze"}
    assert "BBB/1day/2024-01.csv" in errors["ohlcv_bronze"] and "'close'" in errors["ohlcv_bronze"]
    # the good rows of the good file landed; the untypable ones and the bad file are quarantined;
    # BBB's earlier, complete delivery is not replaced by the broken one
    bronze = lake.read("ohlcv_bronze")
    assert bronze.filter(pl.col("symbol") == "AAA").height == 7
    assert bronze.filter(pl.col("symbol") == "BBB").equals(bbb_before)
    assert set(bronze["file"]) == {"AAA/1day/2024-01.csv", "AAA/1day/2024-01_to_2024-02.csv.gz", "BBB/1day/2024-01.csv"}
    quarantined = lake.read("quarantine").sort("table_name", "line")
    assert quarantined.select("table_name", "reason").rows() == [
        ("ohlcv_bronze", "missing required column 'close' (found: date, open, high, low, volume)"),
        ("ohlcv_bronze", "non-numeric open: 'ten'"),
    ]
    assert lake.read("ohlcv_daily")["symbol"].to_list() == ["BBB"]  # downstream did not run on bad input

    # fixing the landing (the broken file removed) lets the rest through; nothing is lost
    bbb.unlink()
    fixed = run_pipeline(lake.root, "2024-01-02", "2024-01-10", ohlcv_dir=str(landing))
    assert fixed.success, step_errors(fixed)
    bars = lake.read("ohlcv_daily").filter(pl.col("symbol") == "AAA").sort("date")
    assert bars.select("date", "close", "volume").rows() == [
        (D(2024, 1, 2), 10.5, 1000.0),
        (D(2024, 1, 3), 11.5, 2000.0),
        (D(2024, 1, 4), 10.3, 1100.0),
    ]
    reasons = set(lake.read("quarantine").select("table_name", "line", "reason").rows())
    assert reasons >= {
        ("ohlcv_daily", 3, "duplicate (symbol, date): superseded by a later row"),
        ("ohlcv_daily", 4, "duplicate (symbol, date): superseded by a later row"),
        ("ohlcv_daily", 6, "high < max(open, close): 9.0 < 10.0"),
        ("ohlcv_daily", 7, "volume < 0: -5.0"),
        ("ohlcv_bronze", 8, "non-numeric open: 'ten'"),
    }
    # every delivered row is accounted for: kept in silver or quarantined with a reason
    delivered = 7 + 1  # the .csv rows plus the .csv.gz row
    rejected_rows = lake.read("quarantine").filter(pl.col("line").is_not_null()).height
    assert bars.height + rejected_rows == delivered


def test_sentiment_landing_snapshots_headlines_and_stub(tmp_path: Path, landing: Path) -> None:
    lake = Lake(tmp_path / "lake")
    news = tmp_path / "news"
    (news / "AAA").mkdir(parents=True)
    (news / "AAA/2024-01-02.jsonl").write_text(
        json.dumps(
            {
                "symbol": "AAA",
                "date": "2024-01-02",
                "timestamp": "2024-01-02T15:00:00+00:00",
                "score": 0.45,
                "confidence": 0.8,
                "providers": ["newsapi"],
            }
        )
        + "\n"
        + json.dumps(
            {"symbol": "AAA", "date": "2024-01-02", "score": 0.62, "confidence": 0.9, "providers": ["twitter"]}
        )
        + "\n"
    )
    (news / "AAA/2024-01-03.jsonl").write_text(
        json.dumps({"headline": "AAA shares plunge after disastrous recall"}) + "\n"
    )
    result = run_pipeline(lake.root, "2024-01-02", "2024-01-04", ohlcv_dir=str(landing), sentiment_dir=str(news))
    assert result.success, step_errors(result)
    daily = lake.read("sentiment_daily").sort("date")
    first, second, third = daily.rows(named=True)
    assert first["score"] == pytest.approx(0.518) and first["providers"] == "newsapi,twitter"
    assert second["score"] < 0 and second["source"] == "vader"
    assert (third["score"], third["confidence"], third["source"]) == (0.0, 0.0, "stub")
    assert lake.read("sentiment_bronze").height == 3


def test_incremental_landing_keeps_rows_of_files_no_longer_in_the_directory(tmp_path: Path) -> None:
    lake, landing = Lake(tmp_path / "lake"), tmp_path / "landing"
    day1 = landing / "AAA/1day/2024-01-02.csv"
    write_csv(day1, "date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n")
    assert run_pipeline(lake.root, "2024-01-02", "2024-01-05", ohlcv_dir=str(landing)).success
    day1.unlink()  # the landing only holds the newest drop
    write_csv(landing / "AAA/1day/2024-01-03.csv", "date,open,high,low,close,volume\n2024-01-03,10,12,9,11.5,100\n")
    assert run_pipeline(lake.root, "2024-01-02", "2024-01-05", ohlcv_dir=str(landing)).success
    bars = lake.read("ohlcv_daily").sort("date")
    assert bars.select("date", "close").rows() == [(D(2024, 1, 2), 10.5), (D(2024, 1, 3), 11.5)]
    assert bars["log_return"].to_list()[1] == pytest.approx(math.log(11.5 / 10.5))
    # a corrected re-delivery of a file replaces that file's rows
    write_csv(landing / "AAA/1day/2024-01-03.csv", "date,open,high,low,close,volume\n2024-01-03,10,12,9,11.0,100\n")
    assert run_pipeline(lake.root, "2024-01-03", "2024-01-03", ohlcv_dir=str(landing)).success
    assert lake.read("ohlcv_daily").sort("date")["close"].to_list() == [10.5, 11.0]
    assert lake.read("ohlcv_bronze").height == 2
