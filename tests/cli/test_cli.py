"""The `lakehouse` command as a user runs it: real processes, a real lake, a real Dagster instance."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse_assets.config import load_config
from tests.browser import render_report
from tests.conftest import lakehouse_cli

REPO = Path(__file__).resolve().parents[2]


def lakehouse(*args: str, home: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return lakehouse_cli(*args, cwd=cwd, home=home)


@pytest.mark.slow
def test_default_run_then_tables_query_and_report(tmp_path: Path, calendar, browser) -> None:  # type: ignore[no-untyped-def]
    lake = str(tmp_path / "lake")
    run = lakehouse("run", "--lake", lake, home=tmp_path / "home")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "▶ ohlcv_bronze" in run.stderr and "done in" in run.stderr
    for asset in ("ohlcv_bronze", "sentiment_bronze", "ohlcv_daily", "sentiment_daily", "features", "forecasting"):
        assert any(line.startswith(asset) and " ok " in line for line in run.stdout.splitlines()), run.stdout

    tables = lakehouse("tables", "--lake", lake, "--format", "json", home=tmp_path / "home")
    listed = {t["table"]: t for t in json.loads(tables.stdout)}
    assert {"ohlcv_bronze", "sentiment_bronze", "ohlcv_daily", "sentiment_daily", "quarantine"} <= set(listed)
    assert listed["ohlcv_daily"]["rows"] > 0 and listed["quarantine"]["rows"] == 0

    query = lakehouse(
        "query",
        "select symbol, count(*) as n from ohlcv_daily group by 1 order by 1",
        "--lake",
        lake,
        "--format",
        "json",
        home=tmp_path / "home",
    )
    assert query.returncode == 0, query.stderr
    counts = {r["symbol"]: r["n"] for r in json.loads(query.stdout)}
    universe = load_config(REPO / "config").universe
    sessions = calendar.sessions(universe.default_start, universe.default_end)
    assert counts == {
        "^GSPC": len(sessions),  # both indexes cover 1999..2018 without gaps
        "^IXIC": len(sessions),
        "MSFT": len([d for d in sessions if d <= dt.date(2017, 11, 10)]),  # the dataset ends there
    }

    accuracy = lakehouse(
        "query",
        "-f",
        "sql/forecast_accuracy.sql",
        "--param",
        f"start={universe.default_start}",
        "--param",
        f"end={universe.default_end}",
        "--lake",
        lake,
        "--format",
        "json",
        home=tmp_path / "home",
    )
    assert accuracy.returncode == 0, accuracy.stderr
    rows = json.loads(accuracy.stdout)
    models = load_config(REPO / "config").forecasting.models
    assert {(r["model"], r["horizon"]) for r in rows} == {(m, h) for m in models for h in (1, 5, 21)}
    assert all(r["forecasts"] > 100 and r["rmse"] > 0 for r in rows)
    assert {r["relative_mae"] for r in rows if r["model"] == "naive"} == {1.0}

    def rows_of(*args: str) -> list[dict]:
        result = lakehouse("query", *args, "--lake", lake, "--format", "json", home=tmp_path / "home")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    completed = rows_of(
        "select strategy_type, count(*) as n from strategy_predictions where exit_date is not null group by 1"
    )
    strategies = load_config(REPO / "config").strategies.enabled
    assert {r["strategy_type"] for r in completed} == set(strategies)
    assert all(r["n"] >= 30 for r in completed), completed
    variance = rows_of("-f", "sql/variance_by_strategy_regime.sql")
    assert {r["as_of"] for r in variance} == {str(universe.default_end)}
    assert {r["strategy_type"] for r in variance} == set(strategies)
    weights = rows_of("-f", "sql/strategy_weights_latest.sql")
    assert len(weights) == len(strategies) * 5 and {r["as_of"] for r in weights} == {str(universe.default_end)}

    # the report of the default run, as a new user writes it, renders in a real browser
    report = lakehouse("report", "--lake", lake, "--out", str(tmp_path / "report.html"), home=tmp_path / "home")
    assert report.returncode == 0, report.stderr
    render_report(browser, tmp_path / "report.html", "report_default_run.png")


@pytest.fixture(scope="module")
def short_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    lake = str(root / "lake")
    run = lakehouse(
        "run",
        "--lake",
        lake,
        "--start",
        "2018-03-26",
        "--end",
        "2018-04-06",
        "--symbols",
        "^GSPC",
        "--quiet",
        "--json",
        home=root / "home",
    )
    assert run.returncode == 0, run.stderr
    assert "▶" not in run.stderr  # --quiet
    summary = json.loads(run.stdout)  # --json: the summary, for scripts
    assert [row["asset"] for row in summary][:2] == ["ohlcv_bronze", "sentiment_bronze"]
    assert all(row["status"] == "ok" for row in summary) and summary[0]["days"] == 9  # 2018-03-30 was Good Friday
    return lake, root / "home"


def test_query_formats_and_params(short_lake: tuple[str, Path]) -> None:
    lake, home = short_lake
    sql = "select date, close from ohlcv_daily where date between $a and $b order by date"
    csv = lakehouse(
        "query", sql, "--param", "a=2018-03-29", "--param", "b=2018-04-02", "--format", "csv", "--lake", lake, home=home
    )
    # 2018-03-30 was Good Friday: no bar, no partition
    assert csv.stdout.splitlines() == ["date,close", "2018-03-29,2640.870117", "2018-04-02,2581.879883"]
    table = lakehouse("query", "-f", "sql/latest_bars.sql", "--param", "as_of=2018-04-06", "--lake", lake, home=home)
    assert table.returncode == 0 and "^GSPC" in table.stdout and "2018-04-06" in table.stdout


def test_bad_sql_prints_duckdbs_message_without_a_traceback(short_lake: tuple[str, Path]) -> None:
    lake, home = short_lake
    bad = lakehouse("query", "select nope from ohlcv_daily", "--lake", lake, home=home)
    assert bad.returncode == 1
    assert 'Referenced column "nope" not found' in bad.stderr and "Traceback" not in bad.stderr
    missing = lakehouse("query", "select $x", "--lake", lake, home=home)
    assert missing.returncode == 2 and "missing --param for $x" in missing.stderr


def test_a_reader_that_stops_early_gets_no_traceback(short_lake: tuple[str, Path]) -> None:
    lake, home = short_lake
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = [sys.executable, "-m", "lakehouse_assets.cli", "query", "select * from range(200000)", "--lake", lake]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().split() == [b"range"]  # like `| head -1`
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_bad_arguments_exit_2_with_one_line(tmp_path: Path) -> None:
    bad = lakehouse("run", "--start", "2018-13-01", "--lake", str(tmp_path / "l"), home=tmp_path / "h")
    assert bad.returncode == 2 and bad.stderr.strip() == "lakehouse run: --start '2018-13-01' is not a date YYYY-MM-DD"
    holiday = lakehouse(
        "run", "--start", "2024-03-29", "--end", "2024-03-29", "--lake", str(tmp_path / "l"), home=tmp_path / "h"
    )
    assert holiday.returncode == 2 and "no XNYS trading sessions between 2024-03-29 and 2024-03-29" in holiday.stderr
    assert not (tmp_path / "l").exists()


def test_failed_run_exits_1_naming_the_file_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "landing/ZZZ/1day/2024-01.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("date,open,high,low,volume\n2024-01-02,1,2,0.5,10\n")
    run = lakehouse(
        "run",
        "--ohlcv-dir",
        str(tmp_path / "landing"),
        "--start",
        "2024-01-02",
        "--end",
        "2024-01-05",
        "--lake",
        str(tmp_path / "lake"),
        home=tmp_path / "home",
    )
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert "lakehouse run: failed" in last and "ZZZ/1day/2024-01.csv" in last and "'close'" in last
    assert "Traceback" not in run.stderr


def test_help_shows_every_verb_with_examples(tmp_path: Path) -> None:
    top = lakehouse("--help", home=tmp_path)
    assert top.returncode == 0 and all(v in top.stdout for v in ("run", "query", "tables", "examples:"))
    for verb in ("run", "query", "tables", "alerts", "maintain", "simulate", "report"):
        shown = lakehouse(verb, "--help", home=tmp_path)
        assert shown.returncode == 0 and "examples:" in shown.stdout, verb


def test_json_output_for_scripts(short_lake: tuple[str, Path]) -> None:
    lake, home = short_lake
    tables = json.loads(lakehouse("tables", "--json", "--lake", lake, home=home).stdout)
    assert {t["table"]: t["rows"] for t in tables}["ohlcv_daily"] == 9
    rows = json.loads(
        lakehouse("query", "--json", "select count(*) as n from ohlcv_daily", "--lake", lake, home=home).stdout
    )
    assert rows == [{"n": 9}]


def test_query_time_travel_with_as_of(short_lake: tuple[str, Path]) -> None:
    lake, home = short_lake
    sql = "select count(*) as n from ohlcv_daily"
    now = lakehouse("query", sql, "--format", "csv", "--lake", lake, home=home)
    assert now.returncode == 0 and now.stdout.splitlines()[1] != "0"
    empty = lakehouse("query", sql, "--as-of", "ohlcv_daily=0", "--format", "csv", "--lake", lake, home=home)
    assert empty.returncode == 0 and empty.stdout.splitlines() == ["n", "0"]  # version 0: the table was created empty
    before = lakehouse("query", sql, "--as-of", "2000-01-01", "--lake", lake, home=home)
    assert before.returncode == 1 and "ohlcv_daily does not exist" in before.stderr  # no table back then
    bad = lakehouse("query", sql, "--as-of", "yesterday", "--lake", lake, home=home)
    assert bad.returncode == 2 and "--as-of 'yesterday': expected a version number or a timestamp" in bad.stderr
    version = json.loads(lakehouse("tables", "--json", "--lake", lake, home=home).stdout)
    current = {t["table"]: t["version"] for t in version}["ohlcv_daily"]
    beyond = lakehouse("query", sql, "--as-of", f"ohlcv_daily={current + 1}", "--lake", lake, home=home)
    assert beyond.returncode == 2
    assert f"table ohlcv_daily has versions 0..{current} (the current one is {current})" in beyond.stderr
