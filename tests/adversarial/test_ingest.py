"""Issue 16, ingest validation: nothing bad gets in, nothing good is lost.

Each test is one case of the issue, rerun as it was reported, on real Delta tables through
a real Dagster run where the case is about the pipeline (bronze and silver only, a few
sessions, so each runs in seconds). Every one of them failed before the fix.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from lakehouse_assets.core import sentiment as sentiment_core
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.core.ohlcv import parse_bars
from lakehouse_assets.defs.checks import Part, parts_of
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.sources import ohlcv as ohlcv_source
from lakehouse_assets.sources import sentiment as sentiment_source
from tests.conftest import run_pipeline, snapshot, step_errors

D = dt.date
NY = "America/New_York"
HEADER = "timestamp,open,high,low,close,volume"
WEEK = ("2017-11-13", "2017-11-17")


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(gzip.compress(data) if path.name.lower().endswith(".gz") else data)
    return path


def good_rows(days: list[dt.date]) -> list[str]:
    """Bars that pass every rule: a gentle zigzag around 100."""
    rows = []
    for i, day in enumerate(days):
        price = 100.0 + 0.5 * i + (i % 3)
        rows.append(f"{day},{price},{price + 2},{price - 1},{price + 1},{1000 + i}")
    return rows


def check_evaluations(result) -> dict[tuple[str, str], Part]:  # type: ignore[no-untyped-def]
    """(asset, check) -> that check's part of the run's evaluations."""
    return {(p.asset, p.name): p for e in result.get_asset_check_evaluations() for p in parts_of(e)}


def test_case1_non_finite_values_are_quarantined_with_their_text_and_never_replace_a_good_bar(
    tmp_path: Path, calendar: TradingCalendar
) -> None:
    landing, lake = tmp_path / "landing", Lake(tmp_path / "lake")
    days = calendar.sessions(D(2017, 10, 2), D(2017, 11, 17))
    good = good_rows(days)
    history = write(landing / "AAA/1day/2017.csv", "\n".join([HEADER, *good]) + "\n")
    first = run_pipeline(lake.root, "2017-10-02", WEEK[1], ohlcv_dir=str(landing), groups=("bronze", "silver"))
    assert first.success, step_errors(first)
    week = (D(2017, 11, 13), D(2017, 11, 17))
    bars_before, features_before = lake.read("ohlcv_daily", *week), lake.read("features", *week)
    assert bars_before.height == 5 and features_before["sma_20"].null_count() == 0

    # a later file (read after 2017.csv, so its rows would win) with non-finite values for the same dates
    bad = ["2017-11-13,100,102,99,NaN,1000", "2017-11-14,inf,inf,inf,inf,1000", "2017-11-16,1e400,1e400,99,1e400,1000"]
    write(landing / "AAA/1day/zfix.csv", "\n".join([HEADER, *bad, "2017-11-17,100,102,99,101,-inf"]) + "\n")
    # and the history file itself re-delivered with a NaN volume for 2017-11-15
    good[days.index(D(2017, 11, 15))] = "2017-11-15,100,102,99,101,NaN"
    history.write_text("\n".join([HEADER, *good]) + "\n")
    second = run_pipeline(lake.root, *WEEK, ohlcv_dir=str(landing), groups=("bronze", "silver"))
    assert second.success, step_errors(second)

    # the good bars stay, downstream features are not null
    assert lake.read("ohlcv_daily", *week).equals(bars_before)
    assert (
        snapshot(lake, "ohlcv_daily").select(pl.col("open", "high", "low", "close", "volume").is_finite().all()).row(0)
        == (True,) * 5
    )
    assert lake.read("features", *week).equals(features_before)
    # every bad row is quarantined with the reason and the text as delivered; nothing was superseded
    quarantined = lake.read("quarantine").sort("date")
    assert quarantined.select("date", "reason").rows() == [
        (D(2017, 11, 13), "non-finite close: 'NaN'"),
        (D(2017, 11, 14), "non-finite open: 'inf'"),
        (D(2017, 11, 15), "non-finite volume: 'NaN'"),
        (D(2017, 11, 16), "non-finite open: '1e400'"),
        (D(2017, 11, 17), "non-finite volume: '-inf'"),
    ]
    raw = [json.loads(text) for text in quarantined["raw"]]
    assert [r["close"] for r in raw] == ["NaN", "inf", "101", "1e400", "101"]
    assert [r["volume"] for r in raw] == ["1000", "1000", "NaN", "1000", "-inf"]
    failed = {k: e.description for k, e in check_evaluations(second).items() if not e.passed}
    # every data check passes; `fresh` (2017 is not fresh) is not judged in a run that materializes
    assert failed == {}, failed


def test_case6_the_quarantine_gate_counts_duplicates_and_rule_breaks_not_only_parse_failures(
    tmp_path: Path,
) -> None:
    # 400 of 405 rows are rejected, none of them for parsing: 300 repeats of one bar, 100 bars with high < low
    rows = [*good_rows([D(2017, 11, 13 + i) for i in range(5)])]
    rows += [rows[0]] * 300 + ["2017-11-14,10,9,11,10,1000"] * 100
    landing = tmp_path / "landing"
    write(landing / "AAA/1day/bars.csv", "\n".join([HEADER, *rows]) + "\n")
    result = run_pipeline(str(tmp_path / "lake"), *WEEK, ohlcv_dir=str(landing), groups=("bronze",))
    assert not result.success  # a failed blocking check fails the run: `lakehouse run` exits 1 and names it
    assert "blocking asset check failed" in step_errors(result)["ohlcv_bronze"]
    gate = check_evaluations(result)[("ohlcv_bronze", "quarantine_growth")]
    assert not gate.passed
    assert gate.description == "400 of 405 rows quarantined (98.8% > 5.0%): rules 100, duplicates 300"
    assert gate.metadata["rejected_duplicates"] == 300 and gate.metadata["rejected_rules"] == 100


def test_case6_dates_outside_the_calendar_are_quarantined_counted_and_reported(tmp_path: Path) -> None:
    landing, lake = tmp_path / "landing", Lake(tmp_path / "lake")
    outside = ["1900-01-02,10,11,9,10,1", "2099-01-02,10,11,9,10,1", "9999-12-31,10,11,9,10,1"]
    write(landing / "AAA/1day/bars.csv", "\n".join([HEADER, *good_rows([D(2017, 11, 13)]), *outside]) + "\n")
    result = run_pipeline(lake.root, *WEEK, ohlcv_dir=str(landing), groups=("bronze",))
    assert result.success, step_errors(result)
    quarantined = lake.read("quarantine").sort("date")
    assert quarantined.select("date", "reason").rows() == [
        (D(1900, 1, 2), "date outside the calendar: 1900-01-02 is before the XNYS calendar's first session 1986-03-13"),
        (D(2099, 1, 2), "date outside the calendar: 2099-01-02 is beyond the XNYS calendar's horizon"),
        (D(9999, 12, 31), "date outside the calendar: 9999-12-31 is beyond the XNYS calendar's horizon"),
    ]
    assert json.loads(quarantined["raw"][2])["timestamp"] == "9999-12-31"
    gate = check_evaluations(result)[("ohlcv_bronze", "quarantine_growth")]
    assert gate.metadata["rejected_outside_calendar"] == 3 and gate.metadata["delivered"] == 4
    assert "3 of 4 rows quarantined" in gate.description  # under the 10-row floor: reported, not blocking
    # the next week's run reads the same file: the same rows, the same records, nothing new
    before = snapshot(lake, "quarantine")
    again = run_pipeline(lake.root, "2017-11-20", "2017-11-24", ohlcv_dir=str(landing), groups=("bronze",))
    assert again.success, step_errors(again)
    assert snapshot(lake, "quarantine").equals(before)
    assert check_evaluations(again)[("ohlcv_bronze", "quarantine_growth")].metadata["rejected"] == 3


def test_case9_csv_extensions_in_any_case_are_read(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    write(root / "AAA/1day/a.CSV", f"{HEADER}\n2017-11-13,10,11,9,10.5,100\n")
    write(root / "AAA/1day/b.csv.GZ", f"{HEADER}\n2017-11-14,10,11,9,10.5,100\n")
    write(root / "AAA/1day/2017-11-15.Csv", f"{HEADER}\n2017-11-15,10,11,9,10.5,100\n")
    write(root / "AAA/1day/2017-12-01.CSV", f"{HEADER}\n2017-12-01,10,11,9,10.5,100\n")  # its name rules the week out
    files = ohlcv_source.landing_files(root, "AAA", D(2017, 11, 13), D(2017, 11, 17))
    assert [p.name for p in files] == ["2017-11-15.Csv", "a.CSV", "b.csv.GZ"]
    frames = [ohlcv_source.read_landing_file(root, p, "AAA") for p in files]
    bars, rejected = parse_bars(pl.concat(frames), NY)  # type: ignore[arg-type]
    assert rejected.is_empty() and sorted(bars["date"]) == [D(2017, 11, 13), D(2017, 11, 14), D(2017, 11, 15)]
    assert ohlcv_source.landing_problems(root, ["AAA"]) == []


def test_case9_misnamed_landing_files_are_quarantined_and_reported(tmp_path: Path) -> None:
    ohlcv, news, lake = tmp_path / "ohlcv", tmp_path / "news", Lake(tmp_path / "lake")
    write(ohlcv / "AAA/1day/bars.csv", "\n".join([HEADER, *good_rows([D(2017, 11, 13)])]) + "\n")
    write(ohlcv / "AAA/1day/bars.txt", f"{HEADER}\n2017-11-14,10,11,9,10.5,100\n")
    line = json.dumps({"score": 0.5, "providers": ["p"]}) + "\n"
    write(news / "AAA/2017-11-13.JSONL", line)  # a case variant: read
    write(news / "AAA/2017-11-14.json", line)  # misnamed
    write(news / "AAA/news-2017-11-15.jsonl", line)  # misnamed
    write(news / "AAA/9999-12-31.jsonl", line)  # dated where no run reads it
    result = run_pipeline(lake.root, *WEEK, ohlcv_dir=str(ohlcv), sentiment_dir=str(news), groups=("bronze",))
    assert result.success, step_errors(result)  # a warning, not a failure: what was readable is in
    assert lake.read("sentiment_bronze")["file"].to_list() == ["AAA/2017-11-13.JSONL"]
    unread = lake.read("quarantine").sort("file").select("table_name", "file", "reason").rows()
    assert unread == [
        ("ohlcv_bronze", "AAA/1day/bars.txt", "not a CSV delivery: expected *.csv or *.csv.gz"),
        ("sentiment_bronze", "AAA/2017-11-14.json", "misnamed sentiment file: expected YYYY-MM-DD.jsonl"),
        (
            "sentiment_bronze",
            "AAA/9999-12-31.jsonl",
            "date outside the calendar: 9999-12-31 is beyond the XNYS calendar's horizon",
        ),
        ("sentiment_bronze", "AAA/news-2017-11-15.jsonl", "misnamed sentiment file: expected YYYY-MM-DD.jsonl"),
    ]
    checks = check_evaluations(result)
    for asset, n in (("ohlcv_bronze", 1), ("sentiment_bronze", 3)):
        warning = checks[(asset, "landed_files_read")]
        assert not warning.passed and warning.description.startswith(f"{n} landed files not read")


def test_case9_a_byte_order_mark_does_not_reject_the_first_line(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    snapshot_line = json.dumps({"score": 0.25, "confidence": 0.5, "providers": ["p"]})
    write(tmp_path / "news/AAA/2017-11-13.jsonl", bom + f"{snapshot_line}\n{snapshot_line}\n".encode())
    lines, _ = sentiment_source.landed_lines(tmp_path / "news", ["AAA"], D(2017, 11, 13), D(2017, 11, 13))
    rows, rejected = sentiment_core.parse_snapshot_lines(lines)
    assert rejected.is_empty() and rows["line"].to_list() == [1, 2]
    csv = write(tmp_path / "ohlcv/AAA/1day/bars.csv", bom + f"{HEADER}\n2017-11-13,10,11,9,10.5,100\n".encode())
    bars, rejected = parse_bars(ohlcv_source.read_landing_file(tmp_path / "ohlcv", csv, "AAA"), NY)  # type: ignore[arg-type]
    assert rejected.is_empty() and bars["close"].to_list() == [10.5]


def test_case9_bytes_that_are_not_utf8_are_rejected_with_the_bytes_escaped(tmp_path: Path) -> None:
    news = tmp_path / "news"
    latin1 = json.dumps({"headline": "café"}, ensure_ascii=False).encode("latin-1")
    write(news / "AAA/2017-11-13.jsonl", latin1 + b"\n" + json.dumps({"headline": "Shares soar"}).encode() + b"\n")
    lines, _ = sentiment_source.landed_lines(news, ["AAA"], D(2017, 11, 13), D(2017, 11, 13))
    rows, rejected = sentiment_core.parse_snapshot_lines(lines)
    assert rows["line"].to_list() == [2]  # never scored from replaced bytes
    assert rejected["reason"].to_list() == ["not UTF-8: byte 0xe9 at offset 17"]
    assert json.loads(rejected["raw"].item())["text"] == '{"headline": "caf\\xe9"}'
    # a CSV with such a line is rejected whole, the line's bytes escaped for the quarantine
    for name in ("bars.csv", "bars.csv.gz"):
        csv = write(tmp_path / "ohlcv/AAA/1day" / name, f"{HEADER}\n2017-11-13,10,11,9,10.5,100\n".encode() + b"\xe9\n")
        problem = ohlcv_source.read_landing_file(tmp_path / "ohlcv", csv, "AAA")
        assert isinstance(problem, ohlcv_source.FileProblem), name
        assert (problem.reason, problem.raw_value) == ("not UTF-8: line 3", "\\xe9")


def test_case5_landing_folders_are_symbols_never_paths(tmp_path: Path) -> None:
    landing, lake = tmp_path / "landing", Lake(tmp_path / "lake")
    rows = "\n".join([HEADER, *good_rows([D(2017, 11, 13)])]) + "\n"
    for folder in ("AAA", "BRK B", "-x"):
        write(landing / folder / "1day/bars.csv", rows)
    write(tmp_path / "good/MSFT/1day/bars.csv", rows)  # outside the landing directory
    assert ohlcv_source.landing_symbols(landing) == ["AAA"]
    result = run_pipeline(lake.root, *WEEK, ohlcv_dir=str(landing), groups=("bronze",))
    assert result.success, step_errors(result)
    assert lake.read("ohlcv_bronze")["symbol"].to_list() == ["AAA"]
    assert lake.read("quarantine").sort("file").select("file", "reason").rows() == [
        ("-x/", "not a symbol folder: '-x' does not match \\^?[A-Za-z0-9][A-Za-z0-9._=-]{0,19}"),
        ("BRK B/", "not a symbol folder: 'BRK B' does not match \\^?[A-Za-z0-9][A-Za-z0-9._=-]{0,19}"),
    ]
    assert not check_evaluations(result)[("ohlcv_bronze", "landed_files_read")].passed
    # a path given as a symbol is refused by the sources themselves, whoever passes it
    for symbol in ("../good/MSFT", str(tmp_path / "good/MSFT")):
        with pytest.raises(ValueError, match="not a symbol"):
            ohlcv_source.landing_files(landing, symbol, D(2017, 11, 13), D(2017, 11, 17))
        with pytest.raises(ValueError, match="not a symbol"):
            sentiment_source.landed_lines(landing, [symbol], D(2017, 11, 13), D(2017, 11, 17))
    escaped = run_pipeline(lake.root, *WEEK, ohlcv_dir=str(landing), symbols=["../good/MSFT"], groups=("bronze",))
    assert not escaped.success and "not a symbol" in step_errors(escaped)["ohlcv_bronze"]
    assert "../good/MSFT" not in lake.read("ohlcv_bronze")["symbol"].to_list()
