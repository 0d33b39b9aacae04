"""`lakehouse simulate` as a user runs it: a real process writing landing files."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def lakehouse(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse_assets.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        cwd=cwd,
        timeout=300,
    )


def test_simulate_writes_landing_files_and_summarizes(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    done = lakehouse("simulate", "--symbols", "3", "--years", "2", "--out", str(out), "--seed", "4", "--sentiment")
    assert done.returncode == 0, done.stderr
    assert "3 symbols x 502 sessions 2017-01-03..2018-12-31 (seed 4)" in done.stderr
    bars = sorted(p.relative_to(out).as_posix() for p in (out / "ohlcv").rglob("*.csv"))
    assert bars == [f"ohlcv/SIM000{i}/1day/{y}-01_to_{y}-12.csv" for i in (1, 2, 3) for y in (2017, 2018)]
    jsonl = list((out / "sentiment").rglob("*.jsonl"))
    assert len(jsonl) > 3 * 100  # weekly, two years
    assert f"simulated {len(bars) + len(jsonl) + 1} files, " in done.stdout and str(out) in done.stdout
    assert (out / "sectors.yaml").read_text().count("SIM000") == 3


def test_simulate_with_start_spans_whole_years(tmp_path: Path) -> None:
    done = lakehouse("simulate", "--symbols", "1", "--years", "1", "--start", "2015-07-01", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "2015-07-01..2016-06-30" in done.stderr
    assert sorted(p.name for p in (tmp_path / "ohlcv/SIM0001/1day").iterdir()) == [
        "2015-01_to_2015-12.csv",
        "2016-01_to_2016-12.csv",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--symbols", "0", "--years", "1"), "--symbols must be at least 1"),
        (("--symbols", "2", "--years", "0"), "--years must be positive"),
        (("--symbols", "2", "--years", "1", "--start", "2018-13-01"), "is not a date"),
    ],
)
def test_simulate_bad_arguments_are_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = lakehouse("simulate", *args, "--out", str(tmp_path / "sim"))
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "sim").exists()
