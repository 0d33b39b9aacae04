"""Issue 16, cases 5, 7 and 9 at the CLI: a bad argument is exit 2 with one line saying
what is wrong, and nothing in the lake changes.

* case 5: ``--symbols`` takes names, never paths;
* case 7: ``maintain`` refuses a retention that breaks open readers, unless ``--force``;
* case 9: an unknown bundled symbol, a missing lake, a bad ``--as-of`` and every other bad
  argument are exit 2 before anything runs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from lakehouse_assets.lake.delta import Lake
from tests.adversarial.test_query import bars, build_lake, cli, files, rows, state
from tests.conftest import lakehouse_cli

D = dt.date
BUILT = {"ohlcv_daily": (3, 6), "features": (2, 4), "alerts": (1, 1)}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return build_lake(tmp_path_factory.mktemp("cli_errors") / "lake")


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No lake or configuration from the environment (set then deleted here, so that
    anything that set them would have them removed again afterwards), and a private Dagster home."""
    for name in ("LAKEHOUSE_LAKE", "LAKEHOUSE_CONFIG"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))


def usage_error(result, *said: str) -> None:  # type: ignore[no-untyped-def]
    """Exit 2, and stderr is one line naming the verb (argparse adds its usage line first)."""
    assert result.returncode == 2, (result.args, result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if not line.startswith(("usage:", " "))]
    assert len(lines) == 1 and lines[0].startswith("lakehouse"), result.stderr
    for text in said:
        assert text in result.stderr, (text, result.stderr)


def test_symbols_are_names_not_paths(tmp_path: Path) -> None:
    landing, outside = tmp_path / "landing", tmp_path / "good" / "MSFT" / "1day"
    (landing / "AAA" / "1day").mkdir(parents=True)
    outside.mkdir(parents=True)
    (outside / "2017.csv").write_text("date,open,high,low,close,volume\n2017-11-13,1,2,0.5,1.5,10\n")
    target = tmp_path / "lake"
    for symbol in ("../good/MSFT", str(outside.parent), "MSFT/../../good/MSFT", "MS FT", "..", "a" * 30):
        run = cli("run", "--lake", str(target), "--ohlcv-dir", str(landing), "--symbols", f"AAA,{symbol}",
                  "--start", "2017-11-13", "--end", "2017-11-14", "--quiet")  # fmt: skip
        usage_error(run, f"--symbols: {symbol!r} is not a symbol", "not a path")
    assert not target.exists()


def test_an_unknown_bundled_symbol_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "lake"
    run = cli("run", "--lake", str(target), "--symbols", "MSFT,AAPL", "--start", "2017-11-13", "--end", "2017-11-14")
    usage_error(run, "--symbols: no bundled data for AAPL; bundled: ^GSPC, ^IXIC, MSFT")
    empty = cli("run", "--lake", str(target), "--symbols", " , ", "--start", "2017-11-13", "--end", "2017-11-14")
    usage_error(empty, "--symbols ' , ': no symbol given")
    assert not target.exists()


def test_maintain_refuses_a_retention_that_breaks_open_readers(lake: Lake, tmp_path: Path) -> None:
    copy = Lake(shutil.copytree(lake.root, tmp_path / "lake"))
    reader = {name: copy.open(name) for name in BUILT}  # a reader holding today's snapshots
    # a later write replaces the files the reader's snapshot of ohlcv_daily needs
    day = D(2024, 1, 3)
    copy.sync_range("ohlcv_daily", rows("ohlcv_daily", bars(day, 99.0)), day, day)
    now = state(copy)

    def reader_rows() -> dict[str, int]:
        return {name: pl.scan_delta(snapshot).collect().height for name, snapshot in reader.items()}

    assert reader_rows() == {name: n for name, (_, n) in BUILT.items()}
    for days in ("0", "0.5", "0.99"):
        refused = cli("maintain", "--lake", copy.root, "--retention-days", days)
        usage_error(refused, f"retention {days} days is below the minimum of 1 day", "FileNotFoundError", "--force")
    assert reader_rows() == {name: n for name, (_, n) in BUILT.items()}  # the reader still reads
    assert state(copy) == now

    kept = cli("maintain", "--lake", copy.root, "--retention-days", "1")  # compacts; vacuums nothing this young
    assert kept.returncode == 0, kept.stderr
    assert reader_rows() == {name: n for name, (_, n) in BUILT.items()}
    assert {name: n for name, (_, n) in state(copy).items()} == {name: n for name, (_, n) in now.items()}

    # --force does it, says what it risks, and shows why the minimum exists
    forced = cli("maintain", "--lake", copy.root, "--retention-days", "0", "--force")
    assert forced.returncode == 0 and "retention 0 days (forced)" in forced.stderr, forced.stderr
    with pytest.raises(OSError, match="No such file"):
        pl.scan_delta(reader["ohlcv_daily"]).collect()
    assert {name: n for name, (_, n) in state(copy).items()} == {name: n for name, (_, n) in now.items()}


@pytest.mark.parametrize(
    "verb",
    [
        ["tables"],
        ["alerts", "list"],
        ["alerts", "ack", "385aaad9"],
        ["alerts", "clear", "385aaad9"],
        ["maintain"],
        ["report"],
        ["query", "select 1"],
    ],
    ids=lambda verb: "-".join(verb),
)
def test_a_missing_lake_is_a_usage_error(verb: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no" / "lake"
    extra = ["--out", str(tmp_path / "report.html")] if verb == ["report"] else []
    usage_error(cli(*verb, "--lake", str(missing), *extra), f"no lake at {missing} (from --lake;")
    monkeypatch.setenv("LAKEHOUSE_LAKE", str(missing))  # the same from the environment
    usage_error(cli(*verb, *extra), f"no lake at {missing} (from $LAKEHOUSE_LAKE")
    assert not (tmp_path / "no").exists() and not (tmp_path / "report.html").exists()


def test_as_of_names_the_table_and_its_versions(lake: Lake) -> None:
    before_files, before_state = files(Path(lake.root)), state(lake)
    assert before_state == BUILT

    def query(sql: str, *pins: str):  # type: ignore[no-untyped-def]
        return cli("query", sql, "--lake", lake.root, "--format", "csv", *[a for p in pins for a in ("--as-of", p)])

    for sql in ("select count(*) from features", "select count(*) from ohlcv_daily"):
        usage_error(query(sql, "features=999"), "--as-of features=999: table features has versions 0..2")
    usage_error(query("select 1", "featurez=1"), "unknown table 'featurez'; known: ohlcv_bronze, ")
    usage_error(query("select 1", "forecasts=0"), "no table 'forecasts' in the lake")
    usage_error(query("select 1", "ohlcv_daily=2000-01-01"), "table ohlcv_daily did not exist yet (version 0 was")
    # a pin applies to its table only: the other tables of the query are read as they are now
    pinned = query("select (select count(*) from features) as f, (select count(*) from ohlcv_daily) as o", "features=1")
    assert pinned.returncode == 0 and pinned.stdout.splitlines() == ["f,o", "2,6"], pinned.stderr

    assert files(Path(lake.root)) == before_files and state(lake) == before_state


def test_every_bad_argument_is_exit_2_and_changes_nothing(lake: Lake, tmp_path: Path) -> None:
    before_files, before_state = files(Path(lake.root)), state(lake)
    latin1 = tmp_path / "latin1.sql"
    latin1.write_bytes("select 'café' as x".encode("latin-1"))
    at = ["--lake", lake.root]
    for args, said in (
        (["query", "select $x", *at], "missing --param for $x"),
        (["query", "select 1", "--param", "x", *at], "--param 'x': expected NAME=VALUE"),
        (["query", "-f", str(tmp_path / "missing.sql"), *at], "No such file or directory"),
        (["query", "-f", str(tmp_path), *at], "Is a directory"),
        (["query", "-f", str(latin1), *at], "not UTF-8 text"),
        (["query", "select 1", "-f", str(latin1), *at], "one of them"),
        (["query", "select 1", "--format", "xml", *at], "invalid choice: 'xml'"),
        (["query", "select 1", "--timeout", "nan", *at], "--timeout must be a finite number >= 0, got nan"),
        (["query", "select 1", "--as-of", "yesterday", *at], "expected a version number or a timestamp"),
        (["query", "select 1", "--config", str(tmp_path / "nocfg"), *at], "--config"),
        (["tables", "--format", "xml", *at], "invalid choice: 'xml'"),
        (["alerts", "ack", "nosuchid", *at], "'nosuchid' matches 0 alerts"),
        (["alerts", "ack", "385aaad9", "--ttl-hours", "nan", *at], "--ttl-hours must be positive"),
        (["alerts", "ack", "385aaad9", "--ttl-hours", "inf", *at], "--ttl-hours must be positive"),
        (["alerts", "ack", "385aaad9", "--ttl-hours", "-1", *at], "--ttl-hours must be positive"),
        (["maintain", "--retention-days", "nan", *at], "--retention-days must be a finite number >= 0, got nan"),
        (["maintain", "--retention-days", "inf", *at], "--retention-days must be a finite number >= 0, got inf"),
        (["maintain", "--retention-days", "-1", *at], "--retention-days must be a finite number >= 0"),
        (["report", "--as-of", "2024-13-01", "--out", str(tmp_path / "r.html"), *at], "is not a date"),
        (["run", "--start", "2017-11-13", "--end", "2017-11-10", *at], "is before --start"),
    ):
        usage_error(cli(*args), said)
    assert not (tmp_path / "r.html").exists()
    assert files(Path(lake.root)) == before_files and state(lake) == before_state


REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.mark.parametrize("verb", [["run"], ["tables"], ["query", "select 1"], ["maintain"], ["alerts", "list"]])
def test_a_misspelt_config_key_is_exit_2_naming_file_and_key(verb: list[str], lake: Lake, tmp_path: Path) -> None:
    """``min_severty: error`` used to be accepted, leaving min_severity at its default."""
    folder = Path(shutil.copytree(REPO_CONFIG, tmp_path / "config"))
    monitoring = folder / "monitoring.yaml"
    monitoring.write_text(monitoring.read_text().replace("min_severity: warning", "min_severty: error"))
    before_files, before_state = files(Path(lake.root)), state(lake)
    usage_error(
        cli(*verb, "--lake", lake.root, "--config", str(folder)),
        "monitoring.yaml: alerts.min_severty: unknown key; did you mean 'min_severity'?",
    )
    assert files(Path(lake.root)) == before_files and state(lake) == before_state
    assert "LAKEHOUSE_CONFIG" not in os.environ  # the configuration is passed down, not through the environment


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in REPO_CONFIG.glob("*.yaml")))
def test_a_misspelt_key_in_any_config_file_fails_lakehouse_run_with_exit_2(name: str, tmp_path: Path) -> None:
    """The first key of the file loses a letter (``calendar`` -> ``calendr``): ``lakehouse run``,
    as a new process, names the file and the key it was meant to be, and writes nothing."""
    folder = Path(shutil.copytree(REPO_CONFIG, tmp_path / "config"))
    path = folder / name
    key = next(iter(yaml.safe_load(path.read_text())))
    typo = key[:-2] + key[-1]
    path.write_text(re.sub(rf"^{re.escape(key)}:", f"{typo}:", path.read_text(), count=1, flags=re.M))
    target = tmp_path / "lake"
    run = lakehouse_cli("run", "--lake", str(target), "--config", str(folder), "--quiet", home=tmp_path / "home")
    usage_error(run, f"lakehouse run: {path.resolve()}: {typo}: unknown key; did you mean {key!r}?")
    assert not target.exists()
