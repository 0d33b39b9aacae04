"""Issue 16, case 3: two runs on one lake. One writer at a time, a clear error for the
other, nothing lost; and a fresh Dagster home survives concurrent first use.

Real processes throughout: ``lakehouse run`` and ``dagster asset materialize`` as
subprocesses on one lake and one Dagster home.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakehouse_assets.lake.catalog import TABLES
from lakehouse_assets.lake.delta import Lake
from lakehouse_assets.lake.lock import LOCK_NAME
from tests.lake.test_lock import _holder_process

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FIRST = ("2017-11-13", "2017-11-17")
SECOND = ("2017-11-20", "2017-11-24")


def _run(lake: Path, home: Path, days: tuple[str, str]) -> subprocess.Popen[str]:
    command = [str(BIN / "lakehouse"), "run", "--lake", str(lake), "--symbols", "^GSPC", "--quiet"]
    command += ["--start", days[0], "--end", days[1]]
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=600)
    return process.returncode, err


def _counts(lake: Path) -> dict[str, int]:
    opened = Lake(str(lake))
    return {name: opened.read(name).height for name in TABLES if opened.exists(name)}


@pytest.mark.slow
def test_two_runs_on_one_lake_one_waits_its_turn_and_nothing_is_lost(tmp_path: Path) -> None:
    # the reference: the two weeks one after the other
    reference, home = tmp_path / "reference", tmp_path / "home"
    for days in (FIRST, SECOND):
        code, err = _finish(_run(reference, home, days))
        assert code == 0, err

    # the second run starts while the first holds the lake. The first is frozen (SIGSTOP)
    # as soon as it holds the lock, so the overlap does not depend on the machine's speed:
    # it is alive, its run is in progress for the instance, its heartbeat is fresh.
    lake = tmp_path / "lake"
    first = _run(lake, home, FIRST)
    deadline = time.monotonic() + 300
    while not (lake / LOCK_NAME).exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    first.send_signal(signal.SIGSTOP)
    try:
        code, message = _finish(_run(lake, home, SECOND))
    finally:
        first.send_signal(signal.SIGCONT)
    assert code == 1, message
    holder = json.loads((lake / LOCK_NAME).read_text())["run_id"]
    assert f"lake is busy: run {holder[:8]} since " in message, message
    assert "Traceback" not in message and "IntegrityError" not in message
    code, err = _finish(first)
    assert code == 0, err

    # the refused run, run again once the lake is free, ends where the sequential runs did
    code, err = _finish(_run(lake, home, SECOND))
    assert code == 0, err
    assert not (lake / LOCK_NAME).exists()  # released at the end of the run
    assert _counts(lake) == _counts(reference)
    for name in ("ohlcv_daily", "features", "market_regimes", "model_registry", "strategy_weights"):
        keys = list(TABLES[name].keys)
        got, want = Lake(str(lake)).read(name).sort(keys), Lake(str(reference)).read(name).sort(keys)
        assert got.equals(want), name


@pytest.mark.slow
def test_a_run_launched_through_dagster_gets_the_same_treatment(tmp_path: Path) -> None:
    """``dagster asset materialize`` runs the way the UI launches a backfill (the instance's
    run worker, the multiprocess executor); a CLI run holding the lake refuses it too."""
    lake, home = tmp_path / "lake", tmp_path / "home"
    lake.mkdir()
    holder = _holder_process(lake, "c1111111-cli-run", 300)  # holds the lock as a running CLI run does
    try:
        env = {**os.environ, "DAGSTER_HOME": str(home), "LAKEHOUSE_LAKE": str(lake)}
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        command = [str(BIN / "dagster"), "asset", "materialize", "-m", "lakehouse_assets.definitions"]
        command += ["--select", "ohlcv_bronze", "--partition", "2017-11-13"]
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode != 0
        assert "lake is busy: run c1111111" in done.stdout + done.stderr
        assert not Lake(str(lake)).exists("ohlcv_bronze")  # it wrote nothing
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone (as after kill -9): the next run takes the lake over and succeeds
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Lake(str(lake)).read("ohlcv_bronze").height > 0
    assert (lake / LOCK_NAME).exists()


def test_a_fresh_dagster_home_survives_concurrent_first_use(tmp_path: Path) -> None:
    script = (
        "import sys, dagster as dg\n"
        "from lakehouse_assets.defs.settings import instance_at\n"
        "@dg.op\ndef o(): return 1\n"
        "@dg.job\ndef j(): o()\n"
        "print(j.execute_in_process(instance=instance_at(sys.argv[1])).success)\n"
    )
    for attempt in range(3):  # without the lock, 1 in 2 fresh homes failed with three starters
        home = tmp_path / f"home{attempt}"
        starters = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        results = [p.communicate(timeout=300) for p in starters]
        assert [p.returncode for p in starters] == [0, 0, 0], [err[-1500:] for _, err in results]
        assert all(out.strip() == "True" for out, _ in results)
