import datetime as dt
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from lakehouse_assets.lake import catalog
from lakehouse_assets.lake.delta import Lake, SchemaMismatchError
from lakehouse_assets.lake.duck import query
from lakehouse_assets.lake.maintenance import MaintenanceSettings, maintain

D = dt.date


def bars(start: dt.date, days: int, symbol: str = "AAA", close: float = 10.0) -> pl.DataFrame:
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    return pl.DataFrame(
        {
            "symbol": symbol,
            "date": dates,
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": [close + i for i in range(days)],
            "volume": 100.0,
            "log_return": None,
            "source": "test",
        },
        schema=catalog.TABLES["ohlcv_daily"].schema,
    )


def test_sync_range_is_idempotent_and_replaces_only_its_slice(lake: Lake) -> None:
    first = lake.sync_range("ohlcv_daily", bars(D(2020, 1, 1), 10), D(2020, 1, 1), D(2020, 1, 10), {"symbol": ["AAA"]})
    assert (first.inserted, first.updated, first.deleted) == (10, 0, 0)
    lake.sync_range("ohlcv_daily", bars(D(2020, 1, 1), 10, "BBB"), D(2020, 1, 1), D(2020, 1, 10), {"symbol": ["BBB"]})
    before = lake.read("ohlcv_daily")
    version = lake.stats("ohlcv_daily").version

    again = lake.sync_range("ohlcv_daily", bars(D(2020, 1, 1), 10), D(2020, 1, 1), D(2020, 1, 10), {"symbol": ["AAA"]})
    assert again.changed == 0 and lake.stats("ohlcv_daily").version == version  # nothing to commit
    assert lake.read("ohlcv_daily").sort("symbol", "date").equals(before.sort("symbol", "date"))

    # re-deliver AAA with 5 days and new prices: 5 updated, 5 gone, BBB untouched
    replaced = lake.sync_range(
        "ohlcv_daily", bars(D(2020, 1, 1), 5, close=20.0), D(2020, 1, 1), D(2020, 1, 10), {"symbol": ["AAA"]}
    )
    assert (replaced.inserted, replaced.updated, replaced.deleted) == (0, 5, 5)
    after = lake.read("ohlcv_daily")
    assert after.filter(pl.col("symbol") == "AAA")["close"].sort().to_list() == [20.0, 21.0, 22.0, 23.0, 24.0]
    assert (
        after.filter(pl.col("symbol") == "BBB")
        .sort("date")
        .equals(before.filter(pl.col("symbol") == "BBB").sort("date"))
    )


def test_sync_range_leaves_rows_outside_the_range(lake: Lake) -> None:
    lake.sync_range("ohlcv_daily", bars(D(2019, 12, 20), 30), D(2019, 12, 20), D(2020, 1, 18))
    lake.sync_range("ohlcv_daily", bars(D(2020, 1, 1), 2), D(2020, 1, 1), D(2020, 1, 5))
    dates = lake.read("ohlcv_daily")["date"].sort().to_list()
    assert D(2019, 12, 31) in dates and D(2020, 1, 6) in dates
    assert D(2020, 1, 3) not in dates and len(dates) == 30 - 5 + 2


def test_an_empty_frame_commits_nothing_where_nothing_is_and_deletes_what_is(lake: Lake) -> None:
    empty = bars(D(2020, 1, 1), 0)
    assert lake.sync_range("ohlcv_daily", empty, D(2020, 1, 1), D(2020, 1, 10)).changed == 0
    assert lake.exists("ohlcv_daily") and lake.stats("ohlcv_daily").version == 0  # created, nothing committed
    lake.sync_range("ohlcv_daily", bars(D(2020, 1, 1), 10), D(2020, 1, 1), D(2020, 1, 10))
    assert lake.sync_range("ohlcv_daily", empty, D(2020, 2, 1), D(2020, 2, 10)).changed == 0  # no file holds it
    assert lake.sync_range("ohlcv_daily", empty, D(2020, 1, 1), D(2020, 1, 10), {"symbol": []}).changed == 0
    assert lake.stats("ohlcv_daily").version == 1
    gone = lake.sync_range("ohlcv_daily", empty, D(2020, 1, 3), D(2020, 1, 4), {"symbol": ["AAA"]})
    assert (gone.deleted, lake.read("ohlcv_daily").height, lake.stats("ohlcv_daily").version) == (2, 8, 2)


def test_rows_outside_the_slice_are_refused(lake: Lake) -> None:
    with pytest.raises(ValueError, match="outside the slice"):
        lake.sync_range("ohlcv_daily", bars(D(2020, 1, 1), 3), D(2020, 1, 1), D(2020, 1, 2))


def test_volatile_columns_alone_do_not_rewrite_a_row(lake: Lake) -> None:
    frame = pl.DataFrame(
        {
            "symbol": ["AAA"],
            "date": [D(2020, 1, 2)],
            "timestamp": ["2020-01-02"],
            "open": [1.0],
            "high": [2.0],
            "low": [0.5],
            "close": [1.5],
            "volume": [3.0],
            "source": ["s"],
            "file": ["f"],
            "line": [2],
            "ingested_at": [dt.datetime(2020, 1, 2, tzinfo=dt.UTC)],
        },
        schema=catalog.TABLES["ohlcv_bronze"].schema,
    )
    lake.sync_range("ohlcv_bronze", frame, D(2020, 1, 1), D(2020, 1, 31))
    later = frame.with_columns(pl.lit(dt.datetime(2021, 1, 1, tzinfo=dt.UTC)).alias("ingested_at"))
    assert lake.sync_range("ohlcv_bronze", later, D(2020, 1, 1), D(2020, 1, 31)).changed == 0
    assert lake.read("ohlcv_bronze")["ingested_at"].item() == dt.datetime(2020, 1, 2, tzinfo=dt.UTC)


def quarantine_row(qid: str, reason: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "quarantine_id": [qid],
            "table_name": ["t"],
            "key": ["k"],
            "date": [None],
            "symbol": [None],
            "reason": [reason],
            "raw": ["{}"],
            "source": ["s"],
            "file": ["f"],
            "line": [None],
            "quarantined_at": [dt.datetime.now(dt.UTC)],
        },
        schema=catalog.TABLES["quarantine"].schema,
    )


def test_merge_upserts_and_insert_only_never_updates(lake: Lake) -> None:
    assert lake.merge("quarantine", quarantine_row("a", "first")).inserted == 1
    assert lake.merge("quarantine", quarantine_row("b", "other")).inserted == 1
    assert lake.merge("quarantine", quarantine_row("a", "changed"), insert_only=True).changed == 0
    assert lake.read("quarantine").sort("quarantine_id")["reason"].to_list() == ["first", "other"]
    assert lake.merge("quarantine", quarantine_row("a", "changed")).updated == 1
    assert lake.read("quarantine").sort("quarantine_id")["reason"].to_list() == ["changed", "other"]


def test_merge_refuses_duplicate_keys(lake: Lake) -> None:
    with pytest.raises(ValueError, match="duplicate keys"):
        lake.merge("quarantine", pl.concat([quarantine_row("a", "x"), quarantine_row("a", "y")]))


def test_time_travel_by_version_and_timestamp(lake: Lake) -> None:
    lake.sync_range("ohlcv_daily", bars(D(2020, 1, 1), 3), D(2020, 1, 1), D(2020, 1, 3))
    time.sleep(0.05)
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    lake.sync_range("ohlcv_daily", bars(D(2020, 1, 1), 3, close=50.0), D(2020, 1, 1), D(2020, 1, 3))
    assert lake.read("ohlcv_daily")["close"].min() == 50.0
    assert lake.read("ohlcv_daily", version=1)["close"].min() == 10.0
    assert lake.read("ohlcv_daily", version=between)["close"].min() == 10.0
    assert lake.read("ohlcv_daily", version=0).is_empty()  # the table's creation
    assert [h["operation"] for h in lake.history("ohlcv_daily")] == ["MERGE", "MERGE", "WRITE"]


@pytest.mark.parametrize(
    ("change", "column", "problem"),
    [
        (lambda f: f.drop("close"), "close", "missing"),
        (lambda f: f.with_columns(extra=pl.lit(1)), "extra", "not in the table's schema"),
        (lambda f: f.with_columns(pl.col("volume").cast(pl.Int64)), "volume", "expected Float64, got Int64"),
        (lambda f: f.with_columns(pl.col("date").cast(pl.String)), "date", "expected Date, got String"),
    ],
)
def test_schema_errors_name_the_table_and_column(lake: Lake, change, column: str, problem: str) -> None:
    with pytest.raises(SchemaMismatchError, match=problem) as info:
        lake.sync_range("ohlcv_daily", change(bars(D(2020, 1, 1), 2)), D(2020, 1, 1), D(2020, 1, 2))
    assert (info.value.table_name, info.value.column) == ("ohlcv_daily", column)
    assert f"table 'ohlcv_daily', column '{column}'" in str(info.value)
    assert not lake.exists("ohlcv_daily") or lake.read("ohlcv_daily").is_empty()


def test_read_window_prunes_partitions(lake: Lake) -> None:
    for year in (2018, 2019, 2020):
        lake.sync_range("ohlcv_daily", bars(D(year, 3, 1), 30), D(year, 3, 1), D(year, 3, 30))
    window = lake.read("ohlcv_daily", D(2019, 3, 10), D(2019, 3, 12))
    assert window["date"].to_list() == [D(2019, 3, 10), D(2019, 3, 11), D(2019, 3, 12)]
    plan = pl.scan_delta(lake.uri("ohlcv_daily")).filter(pl.col("year") == 2019).explain()
    assert "year=2019" in plan and "year=2018" not in plan


def test_stats_follow_writes_compaction_and_vacuum(lake: Lake) -> None:
    for day in range(1, 21):  # one small file per day, as a daily schedule writes
        d = D(2020, 1, day)
        lake.sync_range("ohlcv_daily", bars(d, 1), d, d)
    stats = lake.stats("ohlcv_daily")
    assert (stats.rows, stats.files, stats.version) == (20, 20, 20)
    maintain(lake, "ohlcv_daily")  # compacts; the default retention keeps time travel
    compacted = lake.stats("ohlcv_daily")
    assert (compacted.rows, compacted.files, compacted.version) == (20, 1, 21)
    assert lake.read("ohlcv_daily", version=10).height == 10
    vacuumed = maintain(lake, "ohlcv_daily", MaintenanceSettings(retention_days=0))
    assert vacuumed.files_removed_by_vacuum == 20  # the small files no version after the compaction needs
    assert lake.read("ohlcv_daily").height == 20


def test_duckdb_views_hide_the_partition_column(lake: Lake) -> None:
    lake.sync_range("ohlcv_daily", bars(D(2020, 1, 1), 3), D(2020, 1, 1), D(2020, 1, 3))
    columns, rows = query(lake, "select * from ohlcv_daily where date >= $d order by date", {"d": "2020-01-02"})
    assert columns == list(catalog.TABLES["ohlcv_daily"].schema)
    assert [r[1] for r in rows] == [D(2020, 1, 2), D(2020, 1, 3)]


WRITER = textwrap.dedent(
    """
    import datetime as dt, sys, time
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from tests.lake.test_delta import bars
    from lakehouse_assets.lake.delta import Lake
    lake = Lake({root!r})
    go = Path({go!r})
    while not go.exists():
        time.sleep(0.01)
    start = dt.date.fromisoformat(sys.argv[1])
    for i in range(15):
        day = start + dt.timedelta(days=2 * i)
        lake.sync_range("ohlcv_daily", bars(day, 2), day, day + dt.timedelta(days=1))
    print("ok")
    """
)


def test_two_processes_writing_different_ranges_both_commit(lake: Lake, tmp_path: Path) -> None:
    lake.ensure("ohlcv_daily")
    go = tmp_path / "go"
    script = WRITER.format(repo=str(Path(__file__).resolve().parents[2]), root=lake.root, go=str(go))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, start], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for start in ("2020-01-01", "2020-06-01")
    ]
    time.sleep(1.0)  # both interpreters are up and waiting
    go.touch()
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outputs]
    dates = lake.read("ohlcv_daily")["date"]
    assert dates.n_unique() == dates.len() == 60
    assert lake.stats("ohlcv_daily").version == 30  # version 0 created the table, then 30 commits
