import datetime as dt
import gzip
import json
import math
from pathlib import Path

import polars as pl
import pytest

from lakehouse_assets.core import ohlcv
from lakehouse_assets.core.calendar import TradingCalendar
from lakehouse_assets.sources import ohlcv as ohlcv_source
from lakehouse_assets.sources.ohlcv import load_bundled

D = dt.date
NY = "America/New_York"


def raw(rows: list[tuple[str, ...]], symbol: str = "AAA", file: str = "f.csv") -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=list(ohlcv.REQUIRED), orient="row")
    return frame.with_columns(
        symbol=pl.lit(symbol), source=pl.lit("test"), file=pl.lit(file), line=pl.int_range(2, pl.len() + 2)
    )


@pytest.mark.parametrize(
    "header",
    [
        ["timestamp", "open", "high", "low", "close", "volume"],
        ["Date", "O", "H", "L", "C", "Vol"],
        [" datetime ", "Open", "HIGH", "low", "c", "v"],
        ["time", "o", "h", "l", "close", "volume"],
    ],
)
def test_aliases_map_to_the_standard_columns(header: list[str]) -> None:
    frame = pl.DataFrame([["2024-01-02", "1", "2", "0.5", "1.5", "10"]], schema=header, orient="row")
    assert ohlcv.normalize_columns(frame).columns == list(ohlcv.REQUIRED)


def test_missing_column_is_named() -> None:
    frame = pl.DataFrame([["2024-01-02", "1", "2", "0.5", "10"]], schema=["date", "o", "h", "l", "v"], orient="row")
    with pytest.raises(ohlcv.MissingColumnError, match="'close'") as info:
        ohlcv.normalize_columns(frame)
    assert info.value.column == "close"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02", D(2024, 1, 2)),  # a date: that exchange-local day
        ("2024-01-02 00:00:00", D(2024, 1, 2)),  # naive: already exchange-local
        ("2024-01-02T23:59", D(2024, 1, 2)),
        ("2024-01-02T16:00:00-05:00", D(2024, 1, 2)),  # aware, New York
        ("2024-01-02T21:00:00Z", D(2024, 1, 2)),  # 16:00 in New York
        ("2024-01-03T03:00:00+00:00", D(2024, 1, 2)),  # 22:00 the day before in New York
        ("2024-01-02T09:30:00+05:30", D(2024, 1, 1)),  # IST morning is the previous NY evening
        ("2024-01-02 14:30:00.250+0000", D(2024, 1, 2)),
        ("1704229200", D(2024, 1, 2)),  # epoch seconds: 2024-01-02 21:00 UTC
        ("1704229200000", D(2024, 1, 2)),  # epoch milliseconds
        ("01/02/2024", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_trading_date_of_timestamps(text: str | None, expected: dt.date | None) -> None:
    got = pl.select(ohlcv.parse_trading_date(pl.lit(text, pl.String), NY)).item()
    assert got == expected


def test_trading_dates_of_a_column_are_those_of_parse_trading_date() -> None:
    texts = [
        "2024-01-02",
        " 2024-01-02 ",
        "2024-01-02T21:00:00Z",
        "2024-01-02T09:30:00+05:30",
        "1704229200000",
        "2024-1-2",
        "2024-02-30",
        "2024-01-02Z",
        "yesterday",
        "",
        None,
    ] * 3
    column = pl.Series("timestamp", texts, pl.String)
    oracle = pl.select(ohlcv.parse_trading_date(pl.lit(column), NY)).to_series()
    assert ohlcv.trading_dates(column, NY).to_list() == oracle.to_list()
    assert ohlcv.trading_dates(column, NY).name == "date"


HEADER = "timestamp,open,high,low,close,volume"
LANDING = {  # file -> content: every way a landed file can differ from its neighbours
    "AAA/1day/a.csv": f"{HEADER}\n2017-11-13,10,11,9,10.5,100\n2017-11-14,10,11,9,10.5,100\n",
    "AAA/1day/b.csv.gz": f"{HEADER}\n2017-11-15,10,11,9,10.5,100\n",
    "AAA/1day/c.csv.gz": f"{HEADER}\n2017-11-16,10,11,9,10.5,100\n",
    "AAA/1day/d.csv": f"{HEADER}\n2017-11-17,10,11,9,10.5\n",  # a short row: null volume
    "AAA/1day/e.csv": f"{HEADER}\n",  # the header only
    "AAA/1day/f.csv": "",  # empty: unreadable
    "AAA/1day/g.csv": f"{HEADER},source\n2017-11-17,10,11,9,10.5,1, sim \n2017-11-20,1,1,1,1,1,\n",
    "AAA/1day/h.csv": f"{HEADER},Source\n2017-11-21,10,11,9,10.5,1,x\n",
    "AAA/1day/i.csv": "date,o,h,l,c\n2017-11-21,10,11,9,10.5\n",  # no volume, twice
    "AAA/1day/j.csv": "date,o,h,l,c\n2017-11-22,10,11,9,10.5\n",
    "AAA/1day/k.csv": f"{HEADER}\r\n2017-11-22,10,11,9,10.5,100\r\n",
    "AAA/1day/l.csv": f"{HEADER}\r\n2017-11-23,10,11,9,10.5,100",
    "AAA/1day/m.csv": "\ufeff" + f"{HEADER}\n2017-11-24,10,11,9,10.5,100\n",
    "AAA/1day/n.csv": "\ufeff" + f"{HEADER}\n2017-11-27,10,11,9,10.5,100\n",
    "AAA/1day/o.csv": f'{HEADER}\n2017-11-28,10,11,9,"10\n5",100\n',
    "AAA/1day/p[1].csv": f"{HEADER}\n2017-11-29,10,11,9,10.5,100\n",  # a name, not a pattern
    "AAA/1day/q*.csv": f"{HEADER}\n2017-11-30,10,11,9,10.5,100\n",
    "AAA/1day/r.csv": f"{HEADER}\n\n2017-12-01,10,11,9,10.5,100\n\n",
    "BBB/1day/a.csv": f"{HEADER}\n2017-11-13,10,11,9,10.5,100\n",
    "BBB/1day/b.csv": '"timestamp",open,high,low,close,volume\n2017-11-13,10,11,9,10.5,100\n',
    "BBB/1day/c.csv": '"timestamp",open,high,low,close,volume\n2017-11-14,10,11,9,10.5,100\n',
    "BBB/1day/d.csv": f"{HEADER}\n2017-11-15,10,11,9,10.5,100,7\n",  # ragged: unreadable
    "BBB/1day/e.csv": f"{HEADER},close\n2017-11-16,10,11,9,10.5,100,3\n",
}


def test_landed_files_read_together_give_what_each_file_read_alone_gives(tmp_path: Path) -> None:
    for name, text in LANDING.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    (tmp_path / "BBB/1day/f.csv").write_bytes(f"{HEADER}\n2017-11-17,10,11,9,10.5,100\n".encode() + b"\xe9\n")
    for i in range(12):  # one bad file among many of one header: the group is halved until it is alone
        tail = "x,1,2,3,4,5,6\n" if i == 7 else ""
        (tmp_path / f"CCC/1day/{i:02d}.csv").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"CCC/1day/{i:02d}.csv").write_text(f"{HEADER}\n2017-11-13,10,11,9,10.5,{i}\n{tail}")
    files = [(s, p) for s in ("AAA", "BBB", "CCC") for p in sorted((tmp_path / s / "1day").iterdir())]
    alone = [ohlcv_source.read_landing_file(tmp_path, path, symbol) for symbol, path in files]
    frames = [read for read in alone if isinstance(read, pl.DataFrame)]
    problems = [read for read in alone if isinstance(read, ohlcv_source.FileProblem)]

    raw, found = ohlcv_source.read_landing_files(tmp_path, files)

    assert raw.equals(pl.concat([ohlcv_source.empty_raw(), *frames]))
    assert found == problems
    assert [p.file for p in problems] == [
        "AAA/1day/f.csv",
        "AAA/1day/i.csv",
        "AAA/1day/j.csv",
        "BBB/1day/d.csv",
        "BBB/1day/f.csv",
        "CCC/1day/07.csv",
    ]
    assert raw.filter(pl.col("file").str.contains(r"\[|\*")).height == 2
    nothing, none = ohlcv_source.read_landing_files(tmp_path, [])
    assert nothing.equals(ohlcv_source.empty_raw()) and none == []


def test_parse_bars_rejects_untypable_rows_with_reasons() -> None:
    bars, rejected = ohlcv.parse_bars(
        raw(
            [
                ("2024-01-02", "10", "11", "9", "10.5", "100"),
                ("2024-01-03", "abc", "11", "9", "10.5", "100"),
                ("2024-01-04", "10", "11", "9", "", "100"),
                ("not a date", "10", "11", "9", "10.5", "100"),
            ]
        ),
        NY,
    )
    assert bars.select("date", "open", "close", "volume", "line").rows() == [(D(2024, 1, 2), 10.0, 10.5, 100.0, 2)]
    reasons = dict(zip(rejected["line"], rejected["reason"], strict=True))
    assert reasons == {3: "non-numeric open: 'abc'", 4: "missing close", 5: "unparseable timestamp: 'not a date'"}
    assert json.loads(rejected.filter(pl.col("line") == 3)["raw"].item())["open"] == "abc"
    assert rejected["table_name"].unique().to_list() == ["ohlcv_bronze"]


def typed(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows, schema=["date", "open", "high", "low", "close", "volume", "file", "line"], orient="row"
    ).with_columns(pl.col("open", "high", "low", "close", "volume").cast(pl.Float64))
    return frame.with_columns(symbol=pl.lit("AAA"), source=pl.lit("t"), timestamp=pl.col("date").cast(pl.String))


def test_validation_rules_and_last_duplicate_wins(calendar: TradingCalendar) -> None:
    valid, rejected = ohlcv.validate_bars(
        typed(
            [
                (D(2024, 1, 2), 10, 11, 9, 10.5, 100, "a.csv", 2),
                (D(2024, 1, 3), 10, 9.5, 9, 10.5, 100, "a.csv", 3),  # high < close
                (D(2024, 1, 4), 10, 11, 10.2, 10.5, 100, "a.csv", 4),  # low > open
                (D(2024, 1, 5), 10, 11, 9, 10.5, -1, "a.csv", 5),  # negative volume
                (D(2024, 1, 8), 0, 11, 9, 10.5, 1, "a.csv", 6),  # open <= 0
                (D(2024, 1, 6), 10, 11, 9, 10.5, 1, "a.csv", 7),  # a Saturday
                (D(2024, 1, 9), 10, 11, 9, 10.5, 1, "a.csv", 8),  # superseded by b.csv line 2
                (D(2024, 1, 9), 20, 21, 19, 20.5, 2, "b.csv", 2),
                (D(2024, 1, 10), 10, 11, 9, 10.5, 0, "b.csv", 3),  # zero volume is allowed
            ]
        ),
        calendar,
    )
    assert valid.select("date", "open").rows() == [(D(2024, 1, 2), 10.0), (D(2024, 1, 9), 20.0), (D(2024, 1, 10), 10.0)]
    reasons = {(f, n): r for f, n, r in rejected.select("file", "line", "reason").rows()}
    assert reasons == {
        ("a.csv", 3): "high < max(open, close): 9.5 < 10.5",
        ("a.csv", 4): "low > min(open, close): 10.2 > 10.0",
        ("a.csv", 5): "volume < 0: -1.0",
        ("a.csv", 6): "open <= 0: 0.0",
        ("a.csv", 7): "not a XNYS session: 2024-01-06",
        ("a.csv", 8): "duplicate (symbol, date): superseded by a later row",
    }
    assert rejected["quarantine_id"].n_unique() == rejected.height


def test_quarantine_ids_are_deterministic(calendar: TradingCalendar) -> None:
    frame = typed([(D(2024, 1, 3), 10, 9.5, 9, 10.5, 100, "a.csv", 3)])
    first = ohlcv.validate_bars(frame, calendar)[1]
    second = ohlcv.validate_bars(frame, calendar)[1]
    assert first["quarantine_id"].to_list() == second["quarantine_id"].to_list()


def test_log_return_matches_an_explicit_loop_on_the_bundled_sp500(calendar: TradingCalendar) -> None:
    bars, rejected = ohlcv.parse_bars(load_bundled("arch.sp500", "^GSPC"), NY)
    assert rejected.is_empty()
    valid, rejected = ohlcv.validate_bars(bars, calendar)
    assert rejected.is_empty()
    first, last = valid["date"].min(), valid["date"].max()
    out = ohlcv.add_log_return(valid, calendar.previous_session_frame(first, last)).sort("date")
    closes, dates, got = out["close"].to_list(), out["date"].to_list(), out["log_return"].to_list()
    assert got[0] is None  # no bar before the first: null, not an invented value
    for i in range(1, len(closes)):
        assert calendar.previous_session(dates[i]) == dates[i - 1]
        assert math.isclose(got[i], math.log(closes[i] / closes[i - 1]), rel_tol=1e-12, abs_tol=1e-15)
    # 2008-10-13: the S&P 500's best day of the crisis, +11.58%
    assert math.isclose(
        out.filter(pl.col("date") == D(2008, 10, 13))["log_return"].item(), math.log(1.1158), abs_tol=1e-4
    )


def test_log_return_is_null_after_a_missing_session(calendar: TradingCalendar) -> None:
    bars = typed([(D(2024, 1, 2), 10, 11, 9, 10, 1, "a", 2), (D(2024, 1, 4), 10, 11, 9, 11, 1, "a", 3)])
    out = ohlcv.add_log_return(bars, calendar.previous_session_frame(D(2024, 1, 2), D(2024, 1, 4)))
    assert out.sort("date")["log_return"].to_list() == [None, None]


def test_parse_bars_rejects_non_finite_values_with_the_text_as_delivered(calendar: TradingCalendar) -> None:
    texts = ["NaN", "nan", "inf", "-inf", "Infinity", "1e400", "-1e400"]
    bars, rejected = ohlcv.parse_bars(
        raw(
            [
                ("2024-01-02", "10", "11", "9", "10.5", "100"),
                *[("2024-01-03", "10", "11", "9", t, "100") for t in texts],
            ]
        ),
        NY,
        calendar=calendar,
    )
    assert bars["line"].to_list() == [2]
    assert rejected.sort("line")["reason"].to_list() == [f"non-finite close: '{t}'" for t in texts]
    assert [json.loads(r)["close"] for r in rejected.sort("line")["raw"]] == texts


def test_parse_bars_quarantines_dates_outside_the_calendar_only_given_one(calendar: TradingCalendar) -> None:
    rows = [("1900-01-02", "10", "11", "9", "10.5", "1"), ("9999-12-31", "10", "11", "9", "10.5", "1")]
    assert ohlcv.parse_bars(raw(rows), NY)[1].is_empty()  # without a calendar, a date is a date
    bars, rejected = ohlcv.parse_bars(raw(rows), NY, calendar=calendar)
    assert bars.is_empty()
    assert rejected["reason"].to_list() == [
        f"date outside the calendar: 1900-01-02 is before the XNYS calendar's first session {calendar.first_session}",
        "date outside the calendar: 9999-12-31 is beyond the XNYS calendar's horizon",
    ]


def test_a_non_finite_row_already_in_bronze_is_rejected_and_supersedes_nothing(calendar: TradingCalendar) -> None:
    nan, inf = float("nan"), float("inf")
    valid, rejected = ohlcv.validate_bars(
        typed(
            [
                (D(2024, 1, 9), 10, 11, 9, 10.5, 1, "a.csv", 2),  # the good bar
                (D(2024, 1, 9), 10, 11, 9, nan, 1, "b.csv", 2),  # later, so it would win
                (D(2024, 1, 9), inf, inf, inf, inf, 1, "c.csv", 2),
                (D(2024, 1, 9), 10, 11, 9, 10.5, nan, "d.csv", 2),
                (D(2099, 1, 2), 10, 11, 9, 10.5, 1, "e.csv", 2),  # beyond the horizon: rejected, not raised
            ]
        ),
        calendar,
    )
    assert valid.select("file", "close").rows() == [("a.csv", 10.5)]
    reasons = dict(rejected.select("file", "reason").rows())
    assert reasons == {
        "b.csv": "non-finite close: NaN",
        "c.csv": "non-finite open: inf",
        "d.csv": "non-finite volume: NaN",
        "e.csv": "date outside the calendar: 2099-01-02 is beyond the XNYS calendar's horizon",
    }
    raw_close = {f: json.loads(r)["close"] for f, r in rejected.select("file", "raw").rows()}
    assert raw_close["b.csv"] == "NaN" and raw_close["c.csv"] == "inf"  # never null


def test_screen_delivery_counts_every_row_the_delivery_loses(calendar: TradingCalendar) -> None:
    rows = [
        ("2024-01-02", "10", "11", "9", "10.5", "1"),  # kept
        ("2024-01-03", "10", "11", "9", "10.5", "1"),  # superseded by the next
        ("2024-01-03", "10", "11", "9", "10.6", "1"),
        ("2024-01-04", "10", "9", "11", "10", "1"),  # high < low
        ("2024-01-05", "10", "11", "9", "NaN", "1"),  # non-finite
        ("oops", "10", "11", "9", "10.5", "1"),  # undated
        ("1900-01-02", "10", "11", "9", "10.5", "1"),  # outside the calendar
        ("2024-02-01", "10", "11", "9", "bad", "1"),  # another range's row: left for that run
    ]
    screened = ohlcv.screen_delivery(raw(rows), NY, calendar, D(2024, 1, 2), D(2024, 1, 5))
    assert screened.rejected == {"parse": 2, "outside calendar": 1, "rules": 1, "duplicates": 1}
    assert screened.delivered == 7
    assert screened.bars["date"].to_list() == [D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 3), D(2024, 1, 4)]
    assert sorted(screened.quarantined["line"].to_list()) == [6, 7, 8]  # bronze's own; rules are silver's


def test_keep_replaced_keeps_a_files_good_row_that_its_re_delivery_breaks(calendar: TradingCalendar) -> None:
    before = ohlcv.parse_bars(
        raw([("2024-01-02", "10", "11", "9", "10.5", "1"), ("2024-01-03", "10", "11", "9", "10.7", "1")]), NY
    )[0]
    # the file comes back: 01-02 now NaN, 01-03 withdrawn
    bars, rejected = ohlcv.parse_bars(raw([("2024-01-02", "10", "11", "9", "NaN", "1")]), NY)
    kept = ohlcv.keep_replaced(bars, rejected, before)
    assert kept.select("date", "close").rows() == [(D(2024, 1, 2), 10.5)]
