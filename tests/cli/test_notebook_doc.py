"""docs/notebook.md runs as written: its shell line, then its python cells in one process,
against a lake of the bronze and silver assets over a few months."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from lakehouse_assets.lake.delta import Lake
from tests.conftest import REPO, lakehouse_cli, run_pipeline, step_errors

DOC = REPO / "docs" / "notebook.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_notebook_doc_runs_against_a_lake(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    result = run_pipeline(lake.root, "2016-01-04", "2016-04-29", symbols=["^GSPC", "MSFT"], groups=("bronze", "silver"))
    assert result.success, step_errors(result)

    (shell,) = blocks("bash")
    command = shlex.split(shell)
    assert command[0] == "lakehouse"
    written = lakehouse_cli(*command[1:], "--lake", lake.root, cwd=tmp_path, home=tmp_path / "home")
    assert written.returncode == 0, written.stderr

    cells = blocks("python")
    assert len(cells) == 3
    env = {**os.environ, "LAKEHOUSE_LAKE": lake.root, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [sys.executable, "-c", "\n".join(cells)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr
    bars = lake.read("ohlcv_daily").height
    assert f"{bars} bars in ohlcv_daily" in run.stdout  # DuckDB through the catalog answers as polars reads
    plot = tmp_path / "regime.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
