"""Issue 16, case 2: ``lakehouse query`` is read-only.

Each attack runs through the command's own entry point (``lakehouse_assets.cli.main``, in
this process; Ctrl-C on a real process) against a small real lake built with the project's
Lake API (three tables, several versions each). After every attack nothing in the lake has
changed: the same files, and every table reads with the same rows at the same version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import polars as pl
import pytest

from lakehouse_assets.cli import main
from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.lake.duck import extension_path
from tests.conftest import terminal_signals

REPO = Path(__file__).resolve().parents[2]
D = dt.date
LONG_QUERY = "select sum(a.range * b.range) from range(100000000) a, range(100000) b"


def rows(name: str, values: list[dict[str, object]]) -> pl.DataFrame:
    """A frame of table ``name``: the given columns, every other catalogued column null."""
    schema = TABLES[name].schema
    return pl.DataFrame([{c: v.get(c) for c in schema} for v in values], schema=schema)


def bars(day: D, close: float) -> list[dict[str, object]]:
    return [
        {"symbol": s, "date": day, "open": close, "high": close + 1, "low": close - 1, "close": close,
         "volume": 100.0, "source": "test"}
        for s in ("AAA", "BBB")
    ]  # fmt: skip


def build_lake(root: Path) -> Lake:
    """``ohlcv_daily`` (versions 0..3, 6 rows), ``features`` (0..2, 4 rows), ``alerts``
    (0..1, 1 row), and every other table not created."""
    lake = Lake(root)
    for i, day in enumerate((D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4))):
        lake.sync_range("ohlcv_daily", rows("ohlcv_daily", bars(day, 10.0 + i)), day, day)
    for day in (D(2024, 1, 2), D(2024, 1, 3)):
        frame = rows("features", [{"symbol": s, "date": day, "close": 10.0} for s in ("AAA", "BBB")])
        lake.sync_range("features", frame, day, day)
    alert = {"alert_id": "385aaad9", "as_of": D(2024, 1, 3), "fired_at": dt.datetime(2024, 1, 3, tzinfo=dt.UTC),
             "severity": "warning", "rule": "check:x", "asset": "ohlcv_daily", "message": "m", "acknowledged": False}  # fmt: skip
    lake.merge("alerts", rows("alerts", [alert]))
    return lake


def state(lake: Lake) -> dict[str, tuple[int, int]]:
    """Every existing table's (version, rows): what an attack must leave as it was."""
    return {name: (lake.stats(name).version, lake.read(name).height) for name in TABLES if lake.exists(name)}


def files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under the lake with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return build_lake(tmp_path_factory.mktemp("query") / "lake")


@pytest.fixture
def untouched(lake: Lake):  # type: ignore[no-untyped-def]
    """Asserts after the test that the lake is exactly as before it: files, versions, rows."""
    before_files, before_state = files(Path(lake.root)), state(lake)
    assert before_state == {"ohlcv_daily": (3, 6), "features": (2, 4), "alerts": (1, 1)}
    yield lake
    assert files(Path(lake.root)) == before_files
    assert state(lake) == before_state


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``lakehouse ARGS`` in this process (its exit status, stdout and stderr): the same code
    path as the command without a new interpreter per call; Ctrl-C is tried on a real process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse's own usage errors
            code = int(exit.code or 0)
        except Exception:  # what a process would die of: exit 1 and a traceback
            code = 1
            err.write(traceback.format_exc())
    return subprocess.CompletedProcess(["lakehouse", *args], code, out.getvalue(), err.getvalue())


def query(lake: Lake, sql: str, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("query", sql, "--lake", lake.root, "--format", "csv", *args)


def test_copy_into_a_tables_log_is_refused(untouched: Lake, tmp_path: Path) -> None:
    lake = untouched
    next_log = Path(lake.uri("ohlcv_daily")) / "_delta_log" / f"{4:020d}.json"
    for target in (next_log, tmp_path / "out.csv"):
        copy = query(lake, f"copy (select 'garbage' as x) to '{target}' (format csv, header false)")
        assert copy.returncode == 1, copy.stderr
        assert "COPY refused (the query surface is read-only)" in copy.stderr and "Traceback" not in copy.stderr
        assert not target.exists()
    export = query(lake, f"export database '{lake.root}/exported'")
    assert export.returncode == 1 and "EXPORT refused" in export.stderr
    # EXPLAIN ANALYZE runs its statement: an explained COPY is refused too, an explained SELECT runs
    explained = query(lake, f"explain analyze copy (select 1) to '{next_log}'")
    assert explained.returncode == 1 and "refused" in explained.stderr and not next_log.exists()
    assert query(lake, "explain analyze select count(*) from ohlcv_daily").returncode == 0
    assert query(lake, "select count(*) as n from ohlcv_daily").stdout.splitlines() == ["n", "6"]


def test_files_outside_the_lake_cannot_be_read(untouched: Lake, tmp_path: Path) -> None:
    lake = untouched
    secret = tmp_path / "secret.csv"
    secret.write_text("user,password\nalice,hunter2\n")
    for sql in (
        f"select * from read_csv('{secret}')",
        f"select * from read_text('{secret}')",
        f"select * from sniff_csv('{secret}')",
        f"select * from glob('{tmp_path}/*')",
        f"select * from read_text('{lake.root}/../../{tmp_path.name}/secret.csv')",  # out of the lake by ..
        "select * from read_csv('/etc/passwd')",
    ):
        read = query(lake, sql)
        assert read.returncode == 1, (sql, read.stdout)
        assert "Permission Error" in read.stderr and "hunter2" not in read.stdout + read.stderr, sql
        assert "reads the lake's own files only" in read.stderr
    # the lake's own files stay readable (its tables are, and so is its log)
    log = query(lake, f"select count(*) as n from read_text('{lake.uri('ohlcv_daily')}/_delta_log/*.json')")
    assert log.returncode == 0 and log.stdout.splitlines() == ["n", "4"], log.stderr


def test_attach_create_and_set_are_refused(untouched: Lake, tmp_path: Path) -> None:
    lake = untouched
    for sql, refused in (
        (f"attach '{tmp_path}/x.db' as x; create table x.t as select 1 as a", "ATTACH refused"),
        (f"attach '{lake.root}/x.db' as x", "ATTACH refused"),
        ("create table t as select * from ohlcv_daily", "CREATE refused"),
        ("insert into ohlcv_daily (symbol) values ('ZZZ')", "INSERT refused"),
        ("set enable_external_access = true", "SET refused"),
        ("pragma enable_profiling", "PRAGMA refused"),
        ("pivot ohlcv_daily on symbol using max(close)", "PIVOT without IN (...) refused"),
    ):
        result = query(lake, sql)
        assert result.returncode == 1 and refused in result.stderr, (sql, result.stderr)
    assert not (tmp_path / "x.db").exists() and not Path(lake.root, "x.db").exists()
    # read-only statements of every shape still run
    pivot = query(lake, "pivot ohlcv_daily on symbol in ('AAA') using max(close) group by date order by date")
    assert pivot.returncode == 0 and pivot.stdout.splitlines()[-1] == "2024-01-04,12.0", pivot.stderr
    both = query(lake, "select 1; select count(*) as n from features")
    assert both.returncode == 0 and both.stdout.splitlines() == ["n", "4"]


def test_no_extension_install_load_or_network(untouched: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = untouched
    home = tmp_path / "home"  # where INSTALL would write (~/.duckdb/extensions)
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for sql, said in (
        ("install httpfs", "INSTALL/LOAD refused"),
        ("load httpfs", "INSTALL/LOAD refused"),
        (f"load '{extension_path('httpfs')}'", "INSTALL/LOAD refused"),
        ("select * from read_csv('http://127.0.0.1:9/x.csv')", "Permission Error"),
        ("select * from read_parquet('s3://bucket/x.parquet')", "Permission Error"),
    ):
        started = time.monotonic()
        result = query(lake, sql)
        assert result.returncode == 1 and said in result.stderr, (sql, result.stderr)
        assert time.monotonic() - started < 60, sql  # refused at once, never waiting on a network
    assert not any(home.iterdir())


def test_a_broken_table_breaks_only_the_queries_that_name_it(lake: Lake, tmp_path: Path) -> None:
    copy = Lake(shutil.copytree(lake.root, tmp_path / "lake"))
    readable = {name: v for name, v in state(copy).items() if name != "features"}
    (Path(copy.uri("features")) / "_delta_log" / f"{3:020d}.json").write_text("garbage\n")

    tables = cli("tables", "--lake", copy.root, "--format", "csv")
    assert tables.returncode == 1 and "Traceback" not in tables.stderr
    assert "table features cannot be read" in tables.stderr
    listed = {line.split(",")[0]: line.split(",") for line in tables.stdout.splitlines()[1:]}
    assert set(listed) == set(TABLES)
    assert listed["ohlcv_daily"][2:4] == ["3", "6"] and listed["alerts"][2:4] == ["1", "1"]
    assert listed["features"][-1].startswith("ERROR:")

    other = query(copy, "select count(*) as n from ohlcv_daily join alerts on alerts.asset = 'ohlcv_daily'")
    assert other.returncode == 0 and other.stdout.splitlines() == ["n", "6"], other.stderr
    pinned = query(copy, "select count(*) as n from ohlcv_daily", "--as-of", "2099-01-01")  # every touched table
    assert pinned.returncode == 0 and pinned.stdout.splitlines() == ["n", "6"], pinned.stderr
    broken = query(copy, "select count(*) from features")
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert broken.stderr.startswith("lakehouse query: table features cannot be read: ")

    assert {name: (copy.stats(name).version, copy.read(name).height) for name in readable} == readable


def test_a_timeout_stops_a_long_query_with_exit_1(untouched: Lake) -> None:
    started = time.monotonic()
    slow = query(untouched, LONG_QUERY, "--timeout", "1")
    assert slow.returncode == 1, slow.stderr
    assert slow.stderr.strip() == "lakehouse query: stopped after 1 s (--timeout SECONDS; 0 for no limit)"
    assert time.monotonic() - started < 30
    for bad in ("-1", "nan", "inf", "soon"):
        refused = query(untouched, "select 1", "--timeout", bad)
        assert refused.returncode == 2 and "--timeout" in refused.stderr, bad
    assert query(untouched, "select 42 as n", "--timeout", "0").stdout.splitlines() == ["n", "42"]


def test_ctrl_c_stops_a_long_query_with_exit_1(untouched: Lake) -> None:
    # a Ctrl-C during the imports is Python's, not the query's: wait for twice what a whole
    # short query takes on this machine now (imports and connection; slower under load)
    began = time.monotonic()
    assert query(untouched, "select 1").returncode == 0
    ready = max(5.0, 2 * (time.monotonic() - began))
    command = [sys.executable, "-m", "lakehouse_assets.cli", "query", LONG_QUERY, "--lake", untouched.root]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, preexec_fn=terminal_signals
    ) as proc:
        try:
            time.sleep(ready)  # imports, connection and the first vectors: the query is running
            assert proc.poll() is None
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 1, stderr
    assert stderr.strip() == "lakehouse query: interrupted (Ctrl-C): the query was stopped"
