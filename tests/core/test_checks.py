"""Check predicates against hand-made frames: each must catch what it names, and pass clean data."""

import datetime as dt

import polars as pl

from lakehouse_assets.core import checks

D = dt.date


def bars(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["symbol", "date", "open", "high", "low", "close", "volume"], orient="row")


def test_ohlc_bounds_names_each_kind_of_bad_bar() -> None:
    good = ("A", D(2024, 1, 2), 10.0, 11.0, 9.0, 10.5, 100.0)
    assert checks.ohlc_bounds(bars([good])).passed
    bad = [
        ("A", D(2024, 1, 3), 10.0, 10.2, 9.0, 10.5, 100.0),  # high below close
        ("A", D(2024, 1, 4), 10.0, 11.0, 10.1, 10.5, 100.0),  # low above open
        ("A", D(2024, 1, 5), 10.0, 11.0, 9.0, 10.5, -1.0),  # negative volume
        ("A", D(2024, 1, 8), 0.0, 11.0, 0.0, 10.5, 1.0),  # zero low
    ]
    outcome = checks.ohlc_bounds(bars([good, *bad]))
    assert not outcome.passed and outcome.metadata["failing_rows"] == 4
    assert outcome.metadata["sample"].equals(bars(bad))  # the offending rows, at most SAMPLE_ROWS


def test_unique_keys_and_schema_and_nulls() -> None:
    frame = pl.DataFrame({"symbol": ["A", "A", "B"], "date": [D(2024, 1, 2)] * 3, "x": [1.0, None, 2.0]})
    assert not checks.unique_keys(frame, ["symbol", "date"]).passed
    assert checks.unique_keys(frame, ["symbol", "date", "x"]).passed
    schema = {"symbol": pl.String(), "date": pl.Date(), "x": pl.Float64()}
    assert checks.schema_and_nulls(frame, schema, ["symbol", "date"]).passed
    nulls = checks.schema_and_nulls(frame, schema, ["x"])
    assert not nulls.passed and nulls.metadata["nulls"] == {"x": 1}
    wrong = checks.schema_and_nulls(frame.cast({"x": pl.Int64}, strict=False), schema, [])
    assert not wrong.passed and "x is Int64, expected Float64" in wrong.description
    assert "y missing" in checks.schema_and_nulls(frame, {**schema, "y": pl.Int64()}, []).description


def test_within_catches_infinities_nans_and_out_of_range_values_and_ignores_nulls() -> None:
    frame = pl.DataFrame({"k": [1, 2, 3, 4, 5], "rsi": [50.0, None, 101.0, float("nan"), float("inf")]})
    outcome = checks.within(frame, {"rsi": (0, 100)}, ["k"])
    assert not outcome.passed and outcome.metadata["failing_rows"] == 3
    assert checks.within(frame.head(2), {"rsi": (0, 100)}, ["k"]).passed


def test_symbols_present_lists_the_missing_sessions_per_symbol() -> None:
    sessions = [D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4)]
    frame = pl.DataFrame({"symbol": ["A", "A", "A", "B"], "date": [*sessions, sessions[0]]})
    outcome = checks.symbols_present(frame, ["A", "B"], sessions)
    assert not outcome.passed and outcome.metadata["missing"] == 2
    assert "B: 2 sessions from 2024-01-03" in outcome.description
    # the sample is the failing keys as a frame (shown as a table in Dagster, records in an alert)
    assert outcome.metadata["sample"].sort("date").rows() == [("B", D(2024, 1, 3)), ("B", D(2024, 1, 4))]
    assert checks.symbols_present(frame, ["A"], sessions).passed


def test_freshness_allows_one_session_of_lag() -> None:
    sessions = [D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4), D(2024, 1, 5)]

    def behind(day: dt.date) -> int:
        return len([s for s in sessions if day < s <= sessions[-1]])

    assert checks.fresh(D(2024, 1, 5), D(2024, 1, 5), 1, behind).passed
    assert checks.fresh(D(2024, 1, 4), D(2024, 1, 5), 1, behind).passed
    late = checks.fresh(D(2024, 1, 3), D(2024, 1, 5), 1, behind)
    assert not late.passed and late.metadata["sessions_behind"] == 2
    assert not checks.fresh(None, D(2024, 1, 5), 1, behind).passed


def test_ordered_intervals_and_one_champion() -> None:
    row = {"symbol": "A", "date": D(2024, 1, 2), "model": "m", "horizon": 1}
    ok = {**row, "lower_95": -2.0, "lower_80": -1.0, "point": 0.0, "upper_80": 1.0, "upper_95": 2.0}
    crossed = {**ok, "model": "n", "lower_80": -3.0}
    missing = {**ok, "model": "o", "lower_95": None, "upper_95": None, "point": float("inf")}
    assert checks.ordered_intervals(pl.DataFrame([ok])).passed
    outcome = checks.ordered_intervals(pl.DataFrame([ok, crossed, missing]))
    assert outcome.metadata["failing_rows"] == 2
    registry = pl.DataFrame({"day": [1, 1, 2, 2], "champion": [True, False, True, True]})
    assert not checks.one_per_group(registry, "champion", ["day"]).passed
    assert checks.one_per_group(registry.head(2), "champion", ["day"]).passed


def test_quarantine_growth_threshold_is_a_share_of_the_delivery() -> None:
    rules = checks.CheckRules(max_quarantine_share=0.05, min_quarantined_rows=1)
    assert checks.quarantine_growth(5, 100, rules).passed
    assert not checks.quarantine_growth(6, 100, rules).passed
    assert checks.quarantine_growth(0, 0, rules).passed
    floor = checks.CheckRules(max_quarantine_share=0.05, min_quarantined_rows=10)
    assert checks.quarantine_growth(9, 10, floor).passed  # 90%, but under the floor
    assert not checks.quarantine_growth(10, 11, floor).passed


def test_drift_alerts_only_when_sustained() -> None:
    from lakehouse_assets.lake.catalog import table

    def reports(sustained_today: int) -> pl.DataFrame:
        rows = [
            (dt.date(2024, 4, 1), "feature", "rsi_14", "AAA", 0.9, 0.01, 0.5, True, 1, False, None),
            (dt.date(2024, 4, 2), "feature", "rsi_14", "AAA", 0.9, 0.01, 0.5, True, sustained_today, False, None),
            (dt.date(2024, 4, 2), "feature", "adx_14", "AAA", 0.1, 0.60, 0.5, False, 0, False, None),
        ]
        return pl.DataFrame(rows, schema=table("drift_reports").schema, orient="row")

    one_day = checks.no_drift(reports(2), "feature", 5)
    assert one_day.passed and one_day.metadata["drifted"] == 1 and one_day.metadata["sustained"] == 0
    lasting = checks.no_drift(reports(5), "feature", 5)
    assert not lasting.passed and "AAA:rsi_14" in lasting.description and "sustained 5+" in lasting.description
    assert checks.no_drift(reports(5), "regime", 5).passed  # no regime rows


def test_quarantine_growth_counts_every_kind_of_rejection() -> None:
    rules = checks.CheckRules(max_quarantine_share=0.05, min_quarantined_rows=10)
    outcome = checks.quarantine_growth(
        {"parse": 0, "outside calendar": 10, "rules": 90, "duplicates": 899_890}, 1_000_000, rules
    )
    assert not outcome.passed
    assert outcome.description == (
        "899990 of 1000000 rows quarantined (90.0% > 5.0%): outside calendar 10, rules 90, duplicates 899890"
    )
    assert outcome.metadata["rejected_duplicates"] == 899_890 and outcome.metadata["rejected"] == 899_990
    assert checks.quarantine_growth({"parse": 3, "rules": 2}, 100, rules).passed  # 5%: at the limit


def test_files_read_lists_what_no_run_reads() -> None:
    assert checks.files_read([]).passed
    unread = [(f"X/{i}.txt", "not a CSV delivery") for i in range(7)]
    outcome = checks.files_read(unread)
    assert not outcome.passed and outcome.metadata["unread"] == 7
    assert outcome.description.startswith("7 landed files not read: X/0.txt: not a CSV delivery;")
    assert outcome.description.endswith("(and 2 more)")


def test_warmed_up_fails_on_a_null_after_the_warm_up_only() -> None:
    frame = pl.DataFrame(
        {
            "symbol": "A",
            "date": [dt.date(2024, 1, d) for d in (2, 3, 4, 5)],
            "bar": [0, 1, 2, 3],
            "f": [None, 1, None, 2],
        }
    )
    assert checks.warmed_up(frame, {"f": 3}, ["symbol", "date"]).passed
    late = checks.warmed_up(frame, {"f": 2}, ["symbol", "date"])
    assert not late.passed and late.metadata["failing_rows"] == 1
