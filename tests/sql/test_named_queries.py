"""Named SQL files against small hand-made tables: exact expected rows."""

import datetime as dt
from pathlib import Path

import polars as pl

from lakehouse_assets.core.quarantine import file_record, quarantine_records
from lakehouse_assets.lake import catalog
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.lake.duck import query

SQL = Path(__file__).resolve().parents[2] / "sql"
D = dt.date


def run(lake: Lake, name: str, **params: str) -> list[tuple[object, ...]]:
    return query(lake, (SQL / name).read_text(), params)[1]


def test_latest_bars(lake: Lake) -> None:
    rows = [
        ("AAA", D(2024, 1, 2), 10.0, 0.01),
        ("AAA", D(2024, 1, 3), 11.0, 0.02),
        ("AAA", D(2024, 1, 4), 12.0, 0.03),  # after as_of
        ("BBB", D(2024, 1, 2), 20.0, None),  # stale: no bar on 2024-01-03
    ]
    frame = pl.DataFrame(
        [(s, d, c, c + 1, c - 1, c, 1000.0, r, "test") for s, d, c, r in rows],
        schema=catalog.TABLES["ohlcv_daily"].schema,
        orient="row",
    )
    lake.sync_range("ohlcv_daily", frame, D(2024, 1, 1), D(2024, 1, 31))
    assert run(lake, "latest_bars.sql", as_of="2024-01-03") == [
        ("AAA", D(2024, 1, 3), 11.0, 12.0, 10.0, 11.0, 1000.0, 0.02, 0),
        ("BBB", D(2024, 1, 2), 20.0, 21.0, 19.0, 20.0, 1000.0, None, 1),
    ]
    assert run(lake, "latest_bars.sql", as_of="2023-12-31") == []


def test_quarantine_summary(lake: Lake) -> None:
    rejected = pl.DataFrame(
        {
            "symbol": ["AAA", "AAA", "BBB"],
            "date": [D(2024, 1, 3), D(2024, 1, 5), D(2024, 1, 4)],
            "reason": ["high < max(open, close): 9 < 10", "high < max(open, close): 8 < 9", "volume < 0: -1.0"],
            "file": ["a.csv", "a.csv", "b.csv"],
            "line": [3, 5, 2],
            "source": "csv_landing",
            "close": [10.0, 9.0, 5.0],
        }
    )
    records = pl.concat(
        [
            quarantine_records(rejected, "ohlcv_daily", ["close"]),
            file_record("ohlcv_bronze", "c.csv", "missing required column 'close'", "date,o", "csv_landing", "CCC"),
        ]
    )
    lake.merge("quarantine", records.with_columns(quarantined_at=pl.lit(dt.datetime(2024, 1, 6, tzinfo=dt.UTC))))
    assert run(lake, "quarantine_summary.sql") == [
        ("ohlcv_bronze", "missing required column 'close'", 1, 1, 1, None, None, "missing required column 'close'"),
        (
            "ohlcv_daily",
            "high < max(open, close)",
            2,
            1,
            1,
            D(2024, 1, 3),
            D(2024, 1, 5),
            "high < max(open, close): 8 < 9",
        ),
        ("ohlcv_daily", "volume < 0", 1, 1, 1, D(2024, 1, 4), D(2024, 1, 4), "volume < 0: -1.0"),
    ]
