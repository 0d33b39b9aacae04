"""SQL from outside `lakehouse query` and partial runs, as a user runs them: `lakehouse run
--select`, `lakehouse catalog` read by a fresh DuckDB process, `lakehouse sql` piped and in a
terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.lake.duck import extension_path, named_query
from tests.conftest import REPO, lakehouse_cli

RANGE = ("--start", "2018-03-01", "--end", "2018-04-06", "--symbols", "^GSPC")


def group_of(asset: str) -> str:
    """The asset's group as the built Definitions have it (group names change; the tests follow)."""
    import dagster as dg

    from lakehouse_assets.build import build_definitions
    from lakehouse_assets.config import load_config

    defs = build_definitions(load_config(REPO / "config"), lake_uri=str(REPO / "unused"))
    return str(defs.resolve_asset_graph().get(dg.AssetKey(asset)).group_name)


def summary_assets(run: subprocess.CompletedProcess[str]) -> list[str]:
    assert run.returncode == 0, run.stderr[-3000:]
    rows = json.loads(run.stdout)
    assert all(row["status"] == "ok" for row in rows), rows
    return [row["asset"] for row in rows]


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A lake written by two partial runs: the bronze assets by name, then the silver group
    (which reads bronze from the lake, not from its own run)."""
    root = tmp_path_factory.mktemp("select")
    lake, home = str(root / "lake"), root / "home"
    bronze = lakehouse_cli(
        "run", "--lake", lake, *RANGE, "--select", "ohlcv_bronze,sentiment_bronze", "--json", home=home
    )
    silver_group = group_of("ohlcv_daily")
    silver = lakehouse_cli("run", "--lake", lake, *RANGE, "--select", silver_group, "--json", home=home)
    return {"lake": lake, "home": home, "bronze": bronze, "silver": silver, "silver_group": silver_group}


def test_select_runs_only_the_named_assets_then_a_group_over_them(landed: dict[str, object]) -> None:
    assert sorted(summary_assets(landed["bronze"])) == ["ohlcv_bronze", "sentiment_bronze"]  # type: ignore[arg-type]
    assert sorted(summary_assets(landed["silver"])) == [  # type: ignore[arg-type]
        "features",
        "market_regimes",
        "ohlcv_daily",
        "sentiment_daily",
    ]
    lake = Lake(str(landed["lake"]))
    assert lake.read("ohlcv_daily").height == lake.read("ohlcv_bronze").height == 26  # 2018-03-30: Good Friday
    assert not lake.exists("forecasts") and not lake.exists("strategy_predictions")
    # the daily job's checks only: not the freshness check, which belongs to its own job
    assert "fresh" not in str(landed["silver"].stderr)  # type: ignore[attr-defined]


def test_select_of_an_unknown_name_exits_2_listing_groups_and_assets(tmp_path: Path) -> None:
    bad = lakehouse_cli("run", "--lake", str(tmp_path / "lake"), *RANGE, "--select", "silver,nope", home=tmp_path)
    assert bad.returncode == 2, bad.stderr
    first, groups, assets = bad.stderr.strip().splitlines()
    assert first == "lakehouse run: --select 'silver,nope': unknown nope"
    assert group_of("ohlcv_daily") in groups.split(": ")[1].split(", ")
    assert {"market_regimes", "features", "strategy_weights"} <= set(assets.split(": ")[1].split(", "))
    assert not (tmp_path / "lake").exists()


ATTACH = """
import sys, duckdb
con = duckdb.connect()
con.execute("LOAD '{extension}'")
con.execute("ATTACH '{catalog}' AS lake (READ_ONLY)")
print(con.execute("select count(*) from lake.ohlcv_daily").fetchone()[0])
print([d[0] for d in con.execute("select * from lake.regime_calendar").description])
try:
    con.execute("create table lake.copied as select * from lake.ohlcv_daily")
except duckdb.Error as exc:
    print(type(exc).__name__, exc)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("lakehouse_assets", "deltalake", "polars")))
"""


def test_catalog_is_read_by_a_fresh_duckdb_attaching_it_read_only(landed: dict[str, object], tmp_path: Path) -> None:
    lake, home = str(landed["lake"]), Path(str(landed["home"]))
    out = tmp_path / "lake.duckdb"
    written = lakehouse_cli("catalog", "--lake", lake, "--out", str(out), home=home)
    assert written.returncode == 0, written.stderr
    assert "ohlcv_daily" in written.stdout and "ATTACH" in written.stderr
    script = ATTACH.format(extension=extension_path("delta"), catalog=out)
    read = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert read.returncode == 0, read.stderr
    count, calendar_columns, refused, modules = read.stdout.splitlines()
    assert int(count) == Lake(lake).read("ohlcv_daily").height == 26
    # sql/regime_calendar.sql, a parameter-free SELECT, is a view too
    assert calendar_columns == str(named_query(Lake(lake), "regime_calendar").columns)
    assert refused.startswith("InvalidInputException") and "read-only mode" in refused
    assert modules == "[]"


def test_catalog_refuses_a_file_it_did_not_write_and_rewrites_its_own(
    landed: dict[str, object], tmp_path: Path
) -> None:
    lake, home = str(landed["lake"]), Path(str(landed["home"]))
    foreign = tmp_path / "notes.duckdb"
    foreign.write_text("my notes\n")
    refused = lakehouse_cli("catalog", "--lake", lake, "--out", str(foreign), home=home)
    assert refused.returncode == 2 and "not a catalog written by lakehouse catalog" in refused.stderr
    assert foreign.read_text() == "my notes\n"
    forced = lakehouse_cli("catalog", "--lake", lake, "--out", str(foreign), "--force", home=home)
    assert forced.returncode == 0, forced.stderr
    again = lakehouse_cli("catalog", "--lake", lake, "--out", str(foreign), home=home)  # ours now: rewritten
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.duckdb"]  # no temporary or WAL file left


def sql_shell(lake: str, home: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LAKEHOUSE_LAKE", "LAKEHOUSE_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "lakehouse_assets.cli", "sql", "--lake", lake, "--format", "csv"],
        input=stdin,
        capture_output=True,
        text=True,
        env={**env, "DAGSTER_HOME": str(home), "HOME": str(home)},
        cwd=REPO,
        timeout=120,
    )


def test_sql_reads_statements_from_piped_stdin_and_refuses_writes(landed: dict[str, object]) -> None:
    lake, home = str(landed["lake"]), Path(str(landed["home"]))
    target = Path(lake) / "ohlcv_daily" / "copied.csv"
    piped = sql_shell(
        lake,
        home,
        "select count(*) as n\n  from ohlcv_daily;\n"
        "delete from ohlcv_daily;\n"
        f"copy (select * from ohlcv_daily) to '{target}';\n"
        "select max(date) as last from ohlcv_daily",  # the last statement may omit its ';'
    )
    assert piped.returncode == 1  # a statement failed
    assert piped.stdout.splitlines() == ["n", "26", "last", "2018-04-06"]
    refusals = [line for line in piped.stderr.splitlines() if line.startswith("error:")]
    assert len(refusals) == 2 and "DELETE refused" in refusals[0] and "COPY refused" in refusals[1]
    assert "Traceback" not in piped.stderr and not target.exists()
    assert Lake(lake).read("ohlcv_daily").height == 26


def test_sql_in_a_terminal_prompts_continues_and_keeps_history(landed: dict[str, object], tmp_path: Path) -> None:
    lake = str(landed["lake"])
    env = {k: v for k, v in os.environ.items() if k not in ("LAKEHOUSE_LAKE", "LAKEHOUSE_CONFIG", "XDG_STATE_HOME")}
    master, slave = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "lakehouse_assets.cli", "sql", "--lake", lake],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**env, "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster")},
        cwd=REPO,
    ) as shell:
        os.close(slave)
        seen = read_until(master, "lake> ")
        os.write(master, b"select count(*) as n\r")
        seen += read_until(master, "  ...> ")
        os.write(master, b"from ohlcv_daily;\r")
        seen += read_until(master, "lake> ")
        os.write(master, b"select nope from ohlcv_daily;\r")
        seen += read_until(master, "lake> ")
        os.write(master, b".quit\r")
        assert shell.wait(timeout=60) == 0
    os.close(master)
    assert "(1 row)" in seen and "26" in seen
    assert 'Referenced column "nope" not found' in seen and "Traceback" not in seen
    history = (tmp_path / ".lakehouse_sql_history").read_text()
    assert "select count(*) as n from ohlcv_daily;" in history  # one entry per statement


def read_until(fd: int, marker: str, timeout: float = 60.0) -> str:
    """What the terminal shows until ``marker`` appears (the shell waits for input there)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen.rsplit(b"\n", 1)[-1]:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {marker!r} after {timeout} s; the terminal shows:\n{seen.decode(errors='replace')}"
        seen += os.read(fd, 4096)
    return seen.decode(errors="replace")
