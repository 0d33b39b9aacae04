"""The lake on object storage: every asset, check and query against a real S3 API server
(``moto_server`` on loopback), credentials and endpoint from the environment only."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import polars as pl
import pytest

from lakehouse_assets.lake.catalog import TABLES, UTC_TIMESTAMP
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.lake.duck import query
from lakehouse_assets.lake.maintenance import MaintenanceSettings, maintain_all
from tests.conftest import REPO, SMALL_RANGE, run_pipeline, step_errors
from tests.servers import create_bucket, s3_environment, s3_server

pytestmark = pytest.mark.slow

QUERY_PARAMS = {"as_of": "2016-09-30", "start": "2016-06-01", "end": "2016-09-30", "symbol": "^GSPC"}


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory):
    """A moto S3 server with bucket ``lake``; the AWS_* environment points at it."""
    with s3_server(tmp_path_factory.mktemp("moto")) as endpoint, pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
            patch.delenv(name, raising=False)
        for name, value in s3_environment(endpoint).items():
            patch.setenv(name, value)
        create_bucket(endpoint, "lake")
        yield endpoint


def comparable(lake: Lake, name: str) -> pl.DataFrame:
    """A table's rows without wall-clock columns (ingestion times, fit timings, pickled fits)."""
    spec = TABLES[name]
    drop = [c for c, t in spec.schema.items() if c in spec.volatile or t == UTC_TIMESTAMP or c == "state"]
    frame = lake.read(name).drop(drop)
    return frame.sort(frame.columns, nulls_last=True)


def answer(lake: Lake, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
    """A query's columns and rows, floats to 10 significant digits and rows sorted: sums
    over files read in another order may differ in the last bits and reorder near-ties."""
    columns, rows = query(lake, sql, QUERY_PARAMS)
    rounded = [tuple(float(f"{v:.10g}") if isinstance(v, float) else v for v in row) for row in rows]
    return columns, sorted(rounded, key=repr)


def test_every_asset_check_and_query_runs_on_s3(s3: str, small_lake: Lake, small_config: str) -> None:
    remote = Lake("s3://lake/small")
    assert remote.storage_options["aws_endpoint_url"] == s3  # from the environment alone

    result = run_pipeline(remote.root, *SMALL_RANGE, config_dir=small_config)
    assert result.success, step_errors(result)
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed and e.severity.value == "ERROR"]
    assert not failed

    # the same tables with the same rows as the local lake built from the same input
    assert remote.tables() == small_lake.tables()
    for name in small_lake.tables():
        local, there = comparable(small_lake, name), comparable(remote, name)
        assert there.height == local.height, name
        assert there.equals(local), name

    # every named query answers the same over S3 (DuckDB delta_scan with an S3 secret)
    for path in sorted((REPO / "sql").glob("*.sql")):
        sql = path.read_text()
        assert answer(remote, sql) == answer(small_lake, sql), path.name

    # the CLI, as a user runs it: the lake URI on the command line, credentials in the environment
    cli = Path(sys.executable).with_name("lakehouse")
    shown = subprocess.run(
        [str(cli), "query", "--lake", remote.root, "--format", "csv", "select count(*) as n from ohlcv_daily"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.splitlines() == ["n", str(small_lake.read("ohlcv_daily").height)]
    tables = subprocess.run([str(cli), "tables", "--lake", remote.root], capture_output=True, text=True, check=True)
    assert "ohlcv_daily" in tables.stdout and "forecasts" in tables.stdout

    # maintenance: compaction and vacuum through the object store leave the rows alone
    before = {name: comparable(remote, name) for name in ("ohlcv_daily", "features", "forecasts")}
    done = maintain_all(remote, MaintenanceSettings(retention_days=0), log=lambda _: None)
    assert sum(r.files_removed_by_vacuum for r in done) > 0  # superseded files deleted from the bucket
    for name, rows in before.items():
        assert comparable(remote, name).equals(rows), name


def _write_symbol(root: str, symbol: str, start: dt.date, end: dt.date, barrier) -> int:
    """One writer: wait for the others, then MERGE one symbol's bars into the shared table."""
    days = pl.date_range(start, end, "1d", eager=True)
    close = pl.Series(range(1, len(days) + 1), dtype=pl.Float64)
    frame = pl.DataFrame(
        {
            "symbol": symbol,
            "date": days,
            "open": close,
            "high": close + 1,
            "low": close - 0.5,
            "close": close,
            "volume": 1000.0,
            "log_return": None,
            "source": "test",
        }
    ).with_columns(pl.col("log_return").cast(pl.Float64))
    barrier.wait()
    return Lake(root).sync_range("ohlcv_daily", frame, start, end, scope={"symbol": [symbol]}).inserted


def test_concurrent_commits_on_s3_all_land(s3: str) -> None:
    """Six processes MERGE into the same table (same partition) at once: every commit lands
    once (delta-rs conditional puts, our retry on conflict), and a replay changes nothing."""
    root, start, end = "s3://lake/concurrent", dt.date(2024, 1, 1), dt.date(2024, 3, 31)
    symbols = [f"S{i}" for i in range(6)]
    Lake(root).ensure("ohlcv_daily")
    spawn = multiprocessing.get_context("spawn")  # deltalake's runtime does not survive fork
    with spawn.Manager() as manager, ProcessPoolExecutor(len(symbols), mp_context=spawn) as pool:
        barrier = manager.Barrier(len(symbols))
        inserted = list(pool.map(_write_symbol, [root] * 6, symbols, [start] * 6, [end] * 6, [barrier] * 6))
    days = (end - start).days + 1
    assert inserted == [days] * len(symbols)
    lake = Lake(root)
    rows = lake.read("ohlcv_daily")
    assert rows.height == days * len(symbols)
    assert rows.select("symbol", "date").n_unique() == rows.height
    merges = [h for h in lake.history("ohlcv_daily") if h["operation"] == "MERGE"]
    assert len(merges) == len(symbols)

    with spawn.Manager() as manager, ProcessPoolExecutor(len(symbols), mp_context=spawn) as pool:
        barrier = manager.Barrier(len(symbols))
        again = list(pool.map(_write_symbol, [root] * 6, symbols, [start] * 6, [end] * 6, [barrier] * 6))
    assert again == [0] * len(symbols)
    assert lake.read("ohlcv_daily").height == rows.height


def test_missing_credentials_fail_with_a_clear_message(s3: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    assert os.environ["AWS_ENDPOINT_URL"] == s3
    Lake("s3://lake/small")  # constructing is free; the error comes with the first request
    cli = Path(sys.executable).with_name("lakehouse")
    shown = subprocess.run(
        [str(cli), "tables", "--lake", "s3://no-such-bucket/lake"], capture_output=True, text=True, check=False
    )
    assert shown.returncode == 1, shown
    assert "no-such-bucket" in shown.stderr
